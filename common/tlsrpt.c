/*
 * tlsrpt.c - TLS-RPT records and aggregate reports, no I/O.
 * Standards: RFC 8460 3 (the TXT record), 4 (the report's JSON), 4.3
 * (result types), 5.3 (gzip); RFC 1952.
 * Exposure: parses DNS TXT data; writes strings from remote servers,
 * escaped by json.c.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

#include "json.h"
#include "mtasts.h"
#include "tlsrpt.h"
#include "util.h"

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* One rua URI [s, s+n): kept when mailto: or https: and it fits. */
static int
keep_uri(const char *s, size_t n, char rua[][TLSRPT_RUA_MAX], int k)
{
	if (k == TLSRPT_MAX_RUA || n >= TLSRPT_RUA_MAX)
		return k;
	if ((n > 7 && strncasecmp(s, "mailto:", 7) == 0) ||
	    (n > 8 && strncasecmp(s, "https://", 8) == 0)) {
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)s[i] <= 0x20 ||
			    (unsigned char)s[i] >= 0x7f)
				return k;
		memcpy(rua[k], s, n);
		rua[k][n] = '\0';
		return k + 1;
	}
	return k;
}

int
tlsrpt_txt_rua(const char *txt, char rua[][TLSRPT_RUA_MAX],
    const char **errstr)
{
	const char *p = txt;
	int k = 0, have = 0;

	if (strncmp(p, "v=TLSRPTv1", 10) != 0 || (p[10] != ';' &&
	    !is_wsp(p[10]) && p[10] != '\0')) {
		*errstr = "not a TLSRPTv1 record";
		return -1;
	}
	p += 10;
	for (;;) {
		int rc = mtasts_tag_next(&p, errstr);

		if (rc == -1)
			return -1;
		if (rc == 0)
			break;
		if (strncmp(p, "rua=", 4) != 0) {
			/* Another field: skipped (RFC 8460 3). */
			p += strcspn(p, ";");
			continue;
		}
		if (have) {
			*errstr = "more than one rua";
			return -1;
		}
		have = 1;
		p += 4;
		for (;;) {
			size_t n;

			while (is_wsp(*p))
				p++;
			n = strcspn(p, ",; \t");
			if (n == 0) {
				*errstr = "an empty rua URI";
				return -1;
			}
			k = keep_uri(p, n, rua, k);
			p += n;
			while (is_wsp(*p))
				p++;
			if (*p != ',')
				break;
			p++;
		}
	}
	if (!have) {
		*errstr = "no rua";
		return -1;
	}
	return k;
}

const char *
tlsrpt_result_type(const char *note)
{
	static const struct { const char *in, *type; } map[] = {
		{ "STARTTLS not offered", "starttls-not-supported" },
		{ "STARTTLS refused", "starttls-not-supported" },
		{ "hostname mismatch", "certificate-host-mismatch" },
		{ "MX host not in the policy", "validation-failure" },
		{ "certificate has expired", "certificate-expired" },
		{ "self-signed", "certificate-not-trusted" },
		{ "self signed", "certificate-not-trusted" },
		{ "unable to get local issuer", "certificate-not-trusted" },
		{ "TLSA lookup failed", "dnssec-invalid" },
		{ "TLSA", "tlsa-invalid" },
		{ "policy fetch: certificate", "sts-webpki-invalid" },
		{ "policy fetch", "sts-policy-fetch-error" },
		{ "policy invalid", "sts-policy-invalid" },
	};

	for (size_t i = 0; note != NULL && i < sizeof(map) / sizeof(map[0]);
	    i++)
		if (strstr(note, map[i].in) != NULL)
			return map[i].type;
	return "validation-failure";
}

static int
put_time(struct buf *b, const char *key, time_t t)
{
	struct tm tm;
	char s[32];

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -1;
	return buf_printf(b, "\"%s\":\"%s\"", key, s);
}

/* "policy-string": the body's lines, without their line ends. */
static int
put_lines(struct buf *b, const char *text)
{
	int r = buf_puts(b, "\"policy-string\":[");

	for (int first = 1; r == 0 && *text != '\0'; first = 0) {
		size_t n = strcspn(text, "\n");
		size_t m = n > 0 && text[n - 1] == '\r' ? n - 1 : n;

		if (!first)
			r |= buf_putc(b, ',');
		r |= buf_putc(b, '"');
		r |= json_escape(b, text, m);
		r |= buf_putc(b, '"');
		text += n + (text[n] == '\n');
	}
	return r | buf_putc(b, ']');
}

static int
put_failure(struct buf *b, const struct tlsrpt_failure *f)
{
	int r = buf_puts(b, "{\"result-type\":");

	r |= json_string(b, f->result_type);
	if (f->sending_ip != NULL) {
		r |= buf_puts(b, ",\"sending-mta-ip\":");
		r |= json_string(b, f->sending_ip);
	}
	if (f->receiving_ip != NULL) {
		r |= buf_puts(b, ",\"receiving-ip\":");
		r |= json_string(b, f->receiving_ip);
	}
	if (f->mx_host != NULL) {
		r |= buf_puts(b, ",\"receiving-mx-hostname\":");
		r |= json_string(b, f->mx_host);
	}
	r |= buf_printf(b, ",\"failed-session-count\":%lld",
	    (long long)f->count);
	if (f->reason != NULL) {
		r |= buf_puts(b, ",\"failure-reason-code\":");
		r |= json_string(b, f->reason);
	}
	return r | buf_putc(b, '}');
}

static int
put_policy(struct buf *b, const struct tlsrpt_policy *p)
{
	int r = buf_puts(b, "{\"policy\":{\"policy-type\":");

	r |= json_string(b, p->type);
	if (p->policy_text != NULL) {
		r |= buf_putc(b, ',');
		r |= put_lines(b, p->policy_text);
	}
	r |= buf_puts(b, ",\"policy-domain\":");
	r |= json_string(b, p->domain);
	if (p->nmx > 0) {
		r |= buf_puts(b, ",\"mx-host\":[");
		for (int i = 0; i < p->nmx; i++) {
			if (i)
				r |= buf_putc(b, ',');
			r |= json_string(b, p->mx[i]);
		}
		r |= buf_putc(b, ']');
	}
	r |= buf_printf(b, "},\"summary\":{\"total-successful-session-count\""
	    ":%lld,\"total-failure-session-count\":%lld}", (long long)p->ok,
	    (long long)p->failed);
	if (p->nfail > 0) {
		r |= buf_puts(b, ",\"failure-details\":[");
		for (int i = 0; i < p->nfail; i++) {
			if (i)
				r |= buf_putc(b, ',');
			r |= put_failure(b, &p->fail[i]);
		}
		r |= buf_putc(b, ']');
	}
	return r | buf_putc(b, '}');
}

int
tlsrpt_json(struct buf *b, const struct tlsrpt_report *rp)
{
	int r = buf_puts(b, "{\"organization-name\":");

	r |= json_string(b, rp->org);
	r |= buf_puts(b, ",\"date-range\":{");
	r |= put_time(b, "start-datetime", rp->start);
	r |= buf_putc(b, ',');
	r |= put_time(b, "end-datetime", rp->end);
	r |= buf_puts(b, "},\"contact-info\":");
	r |= json_string(b, rp->contact);
	r |= buf_puts(b, ",\"report-id\":");
	r |= json_string(b, rp->report_id);
	r |= buf_puts(b, ",\"policies\":[");
	for (int i = 0; i < rp->npol; i++) {
		if (i)
			r |= buf_putc(b, ',');
		r |= put_policy(b, &rp->pol[i]);
	}
	r |= buf_puts(b, "]}");
	return r != 0 ? -1 : 0;
}

int
tlsrpt_policies(const char *domain, const struct tlsrpt_row *rows,
    int nrows, const char *sts_text, struct tlsrpt_policy pol[2],
    struct tlsrpt_failure *fail, struct mtasts_policy *sts,
    const char **mx)
{
	static const char *const types[] = { "sts", "tlsa" };
	const char *why;
	int npol = 0, nf = 0;

	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		struct tlsrpt_policy *p = &pol[npol];
		int any = 0;

		memset(p, 0, sizeof(*p));
		p->type = types[t];
		p->domain = domain;
		p->fail = &fail[nf];
		for (int i = 0; i < nrows; i++) {
			const struct tlsrpt_row *r = &rows[i];

			if (strcmp(r->policy, types[t]) != 0)
				continue;
			any = 1;
			if (r->result[0] == '\0') {
				p->ok += r->count;
				continue;
			}
			p->failed += r->count;
			fail[nf++] = (struct tlsrpt_failure){ r->result,
			    r->sip[0] ? r->sip : NULL, r->mx[0] ? r->mx :
			    NULL, r->rip[0] ? r->rip : NULL, r->count, NULL };
			p->nfail++;
		}
		if (!any)
			continue;
		if (t == 0 && sts_text != NULL && mtasts_parse(sts_text,
		    strlen(sts_text), sts, &why) == 0) {
			p->policy_text = sts_text;
			for (int i = 0; i < sts->nmx; i++)
				mx[i] = sts->mx[i];
			p->mx = mx;
			p->nmx = sts->nmx;
		}
		npol++;
	}
	return npol;
}

int
tlsrpt_gzip(const char *in, size_t n, unsigned char **out, size_t *outlen)
{
	z_stream z;
	int rc;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	*outlen = deflateBound(&z, (uLong)n) + 32;
	*out = xmalloc(*outlen);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	z.next_out = *out;
	z.avail_out = (uInt)*outlen;
	rc = deflate(&z, Z_FINISH);
	*outlen = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(*out);
		return -1;
	}
	return 0;
}
