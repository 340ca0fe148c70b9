/*
 * smtp_dsn.c - the DSN extension's MAIL and RCPT parameters and xtext.
 * Standards: RFC 3461 (SMTP DSN extension), RFC 6533 (the "utf-8"
 * address type, here only in its ASCII form).
 * Exposure: every byte comes from an authenticated but untrusted client.
 * ENVID and ORCPT travel on to the next hop and into reports, so an
 * encoded CR, LF or NUL ("+0D+0A", Exim CVE-2020-28026) is refused here
 * and can reach neither.
 * Diagnostics: never dies; a bad value returns -1 with the reply to send.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "smtp_dsn.h"

static int
dsn_kw(const char *p, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(p, kw, n) == 0;
}

static int
xtext_hex(char c)
{
	/* RFC 3461 4: upper-case hex digits only. */
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
xtext_decode(const char *in, size_t len, char *out, size_t outsz)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		/* xchar: "!" to "~" except "+" and "=". */
		if (c < '!' || c > '~' || c == '=')
			return -1;
		if (c == '+') {
			int hi, lo;

			if (i + 2 >= len)
				return -1;
			if ((hi = xtext_hex(in[i + 1])) < 0 ||
			    (lo = xtext_hex(in[i + 2])) < 0)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
			/* Printable ASCII and space only: no header or
			 * command can be made of what comes out. */
			if (c < ' ' || c > '~')
				return -1;
		}
		if (o + 1 >= outsz)
			return -1;
		out[o++] = (char)c;
	}
	if (o >= outsz)
		return -1;
	out[o] = '\0';
	return 0;
}

/* Checked xtext of at most max octets, copied to out[max + 1]. */
static int
xtext_keep(const char *v, size_t vlen, size_t max, char *out)
{
	char scratch[DSN_ORCPT_MAX + 1];

	if (v == NULL || vlen == 0 || vlen > max ||
	    xtext_decode(v, vlen, scratch, sizeof(scratch)) == -1)
		return -1;
	memcpy(out, v, vlen);
	out[vlen] = '\0';
	return 0;
}

int
smtp_dsn_mail_param(const char *k, size_t klen, const char *v, size_t vlen,
    struct dsn_mail *d, const char **reply)
{
	if (dsn_kw(k, klen, "RET")) {
		if (d->ret != DSN_RET_UNSET) {
			*reply = "501 5.5.4 Duplicate RET parameter";
			return -1;
		}
		if (v && dsn_kw(v, vlen, "FULL"))
			d->ret = DSN_RET_FULL;
		else if (v && dsn_kw(v, vlen, "HDRS"))
			d->ret = DSN_RET_HDRS;
		else {
			*reply = "501 5.5.4 Bad RET parameter (FULL or HDRS)";
			return -1;
		}
		return 1;
	}
	if (dsn_kw(k, klen, "ENVID")) {
		if (d->envid[0] != '\0') {
			*reply = "501 5.5.4 Duplicate ENVID parameter";
			return -1;
		}
		if (xtext_keep(v, vlen, DSN_ENVID_MAX, d->envid) == -1) {
			*reply = "501 5.5.4 Bad ENVID parameter (xtext of "
			    "printable characters, at most 100)";
			return -1;
		}
		return 1;
	}
	return 0;
}

/* NEVER alone, or a list of SUCCESS, FAILURE, DELAY (RFC 3461 4.1). */
static int
parse_notify(const char *v, size_t vlen, int *out)
{
	size_t i = 0, j;
	int n = 0;

	if (v == NULL || vlen == 0)
		return -1;
	while (i <= vlen) {
		for (j = i; j < vlen && v[j] != ','; j++)
			;
		if (dsn_kw(v + i, j - i, "SUCCESS"))
			n |= DSN_NOTIFY_SUCCESS;
		else if (dsn_kw(v + i, j - i, "FAILURE"))
			n |= DSN_NOTIFY_FAILURE;
		else if (dsn_kw(v + i, j - i, "DELAY"))
			n |= DSN_NOTIFY_DELAY;
		else if (dsn_kw(v + i, j - i, "NEVER") && i == 0 && j == vlen)
			n |= DSN_NOTIFY_NEVER;
		else
			return -1;
		i = j + 1;
	}
	*out = n;
	return 0;
}

/* "addr-type;xtext": the type an atom we know, the address xtext. */
static int
parse_orcpt(const char *v, size_t vlen, char *out, const char **reply)
{
	const char *semi = v ? memchr(v, ';', vlen) : NULL;
	size_t tlen;

	*reply = "501 5.5.4 Bad ORCPT parameter (address-type;xtext of "
	    "printable characters, at most 500)";
	if (semi == NULL || vlen > DSN_ORCPT_MAX)
		return -1;
	tlen = (size_t)(semi - v);
	for (size_t i = 0; i < tlen; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '-')
			return -1;
	if (tlen == 0 || semi + 1 == v + vlen)
		return -1;
	if (!dsn_kw(v, tlen, "rfc822") && !dsn_kw(v, tlen, "utf-8")) {
		*reply = "555 5.5.4 Unsupported ORCPT address type (rfc822)";
		return -1;
	}
	if (xtext_keep(semi + 1, vlen - tlen - 1, DSN_ORCPT_MAX, out) == -1)
		return -1;
	/* The type as the client spelled it, then the checked xtext. */
	memmove(out + tlen + 1, out, strlen(out) + 1);
	memcpy(out, v, tlen + 1);
	return 0;
}

int
smtp_dsn_rcpt_param(const char *k, size_t klen, const char *v, size_t vlen,
    struct dsn_rcptp *d, const char **reply)
{
	if (dsn_kw(k, klen, "NOTIFY")) {
		if (d->notify != 0) {
			*reply = "501 5.5.4 Duplicate NOTIFY parameter";
			return -1;
		}
		if (parse_notify(v, vlen, &d->notify) == -1) {
			*reply = "501 5.5.4 Bad NOTIFY parameter (NEVER, or "
			    "SUCCESS, FAILURE, DELAY separated by commas)";
			return -1;
		}
		return 1;
	}
	if (dsn_kw(k, klen, "ORCPT")) {
		if (d->orcpt[0] != '\0') {
			*reply = "501 5.5.4 Duplicate ORCPT parameter";
			return -1;
		}
		return parse_orcpt(v, vlen, d->orcpt, reply) == -1 ? -1 : 1;
	}
	return 0;
}
