// sources: gwd/dkim.c gwd/dkim_canon.c
/*
 * test_dkim.c - DKIM canonicalization against golden strings (RFC 6376
 * 3.4.5 and the corners around it), and signatures checked twice: by a
 * small verifier written here from the RFC, and by dkimpy when the
 * python3-dkim and python3-nacl packages are installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "base64.h"
#include "buf.h"
#include "dkim.h"

#define NOW		1795000000
#define PYTHON		"/usr/bin/python3"

struct canon_case {
	const char	*name;
	const char	*in;
	const char	*simple;
	const char	*relaxed;
};

static const struct canon_case body_cases[] = {
	{ "rfc6376 3.4.5", " C \r\nD \t E\r\n\r\n\r\n",
	  " C \r\nD \t E\r\n", " C\r\nD E\r\n" },
	{ "empty", "", "\r\n", "" },
	{ "only empty lines", "\r\n\r\n\r\n", "\r\n", "" },
	{ "only blank lines", " \t\r\n  \r\n", " \t\r\n  \r\n", "" },
	{ "no final crlf", "abc", "abc\r\n", "abc\r\n" },
	{ "no final crlf, wsp", "abc  \t", "abc  \t\r\n", "abc\r\n" },
	{ "trailing wsp", "a b \r\n", "a b \r\n", "a b\r\n" },
	{ "wsp runs", "a \t  b\t\tc\r\n", "a \t  b\t\tc\r\n", "a b c\r\n" },
	{ "leading wsp", "\t\tx\r\n", "\t\tx\r\n", " x\r\n" },
	{ "inner empty lines", "a\r\n\r\nb\r\n\r\n",
	  "a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n" },
	{ "inner blank line", "a\r\n \r\nb\r\n",
	  "a\r\n \r\nb\r\n", "a\r\n\r\nb\r\n" },
	{ "blank lines, then text without crlf", "\r\n \r\nx",
	  "\r\n \r\nx\r\n", "\r\n\r\nx\r\n" },
	{ "8-bit", "caf\xc3\xa9  \xff\r\n",
	  "caf\xc3\xa9  \xff\r\n", "caf\xc3\xa9 \xff\r\n" },
	/* Bare LF and CR are data, not line ends. */
	{ "bare lf", "a \n b\r\n", "a \n b\r\n", "a \n b\r\n" },
	{ "bare cr at end", "a \r", "a \r\r\n", "a \r\r\n" },
	{ "crlf after cr", "a\r\r\n\r\n", "a\r\r\n", "a\r\r\n" },
};

static const struct canon_case header_cases[] = {
	{ "rfc6376 3.4.5 A", "A: X\r\n", "A: X\r\n", "a:X\r\n" },
	{ "rfc6376 3.4.5 B", "B : Y\t\r\n\tZ  \r\n",
	  "B : Y\t\r\n\tZ  \r\n", "b:Y Z\r\n" },
	{ "long folded", "Subject: a very\r\n long\r\n\t subject   line \r\n",
	  "Subject: a very\r\n long\r\n\t subject   line \r\n",
	  "subject:a very long subject line\r\n" },
	{ "fold right after colon", "To:\r\n x@y\r\n",
	  "To:\r\n x@y\r\n", "to:x@y\r\n" },
	{ "colon spacing", "To  :   x@y\r\n", "To  :   x@y\r\n", "to:x@y\r\n" },
	{ "no final crlf", "From: a", "From: a\r\n", "from:a\r\n" },
	{ "empty value", "X-Empty:\r\n", "X-Empty:\r\n", "x-empty:\r\n" },
	{ "blank value", "X-Empty: \t \r\n", "X-Empty: \t \r\n",
	  "x-empty:\r\n" },
	{ "name case", "MiXeD-CaSe: VaLuE\r\n", "MiXeD-CaSe: VaLuE\r\n",
	  "mixed-case:VaLuE\r\n" },
	{ "8-bit", "Subject: caf\xc3\xa9 \xC3\x89\r\n",
	  "Subject: caf\xc3\xa9 \xC3\x89\r\n",
	  "subject:caf\xc3\xa9 \xC3\x89\r\n" },
	{ "colons in value", "Date: 12:00 :  x\r\n", "Date: 12:00 :  x\r\n",
	  "date:12:00 : x\r\n" },
	{ "trailing fold", "X: y\r\n \r\n", "X: y\r\n \r\n", "x:y\r\n" },
	/* Not real fields: stray CR and LF go, like dkimpy's CRLF. */
	{ "crlf without wsp", "X: a\r\nb \r\n\r\n c",
	  "X: a\r\nb \r\n\r\n c\r\n", "x:ab c\r\n" },
	{ "bare lf and cr", "X\n: a\rb\n", "X\n: a\rb\n\r\n", "x:ab\r\n" },
};

static void
check_canon(enum dkim_canon c, int header, const char *name, const char *in,
    size_t inlen, const char *want)
{
	struct buf out;
	int rc;

	buf_init(&out, 0);
	rc = header ? dkim_canon_header(c, in, inlen, &out) :
	    dkim_canon_body(c, in, inlen, &out);
	assert_int_equal(rc, 0);
	/* buf_cstr: an empty buffer has no data pointer to compare. */
	if (buf_len(&out) != strlen(want) ||
	    memcmp(buf_cstr(&out), want, strlen(want)) != 0)
		fail_msg("%s %s %s: got \"%.*s\"", header ? "header" : "body",
		    c == DKIM_RELAXED ? "relaxed" : "simple", name,
		    (int)buf_len(&out), buf_ptr(&out));
	buf_free(&out);
}

static void
test_canon_body(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
		const struct canon_case *t = &body_cases[i];

		check_canon(DKIM_SIMPLE, 0, t->name, t->in, strlen(t->in),
		    t->simple);
		check_canon(DKIM_RELAXED, 0, t->name, t->in, strlen(t->in),
		    t->relaxed);
	}
	/* NUL is data too. */
	{
		struct buf out;

		buf_init(&out, 0);
		assert_int_equal(dkim_canon_body(DKIM_RELAXED, "a\0 \tb  ", 7,
		    &out), 0);
		assert_int_equal(buf_len(&out), 6);
		assert_memory_equal(buf_ptr(&out), "a\0 b\r\n", 6);
		buf_free(&out);
	}
}

static void
test_canon_header(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(header_cases) / sizeof(header_cases[0]); i++) {
		const struct canon_case *t = &header_cases[i];

		check_canon(DKIM_SIMPLE, 1, t->name, t->in, strlen(t->in),
		    t->simple);
		check_canon(DKIM_RELAXED, 1, t->name, t->in, strlen(t->in),
		    t->relaxed);
	}
}

/* A full buffer fails and leaves what was there. */
static void
test_canon_limit(void **state)
{
	struct buf out;

	buf_init(&out, 8);
	assert_int_equal(buf_puts(&out, "xy"), 0);
	assert_int_equal(dkim_canon_body(DKIM_RELAXED, "a b c d e f\r\n", 13,
	    &out), -1);
	assert_int_equal(buf_len(&out), 2);
	assert_int_equal(dkim_canon_header(DKIM_RELAXED, "Subject: long",
	    13, &out), -1);
	assert_int_equal(buf_len(&out), 2);
	assert_memory_equal(buf_ptr(&out), "xy", 2);
	buf_free(&out);
}

static void
test_parse_canon(void **state)
{
	static const struct {
		const char	*s;
		int		 rc;
		enum dkim_canon	 h, b;
	} t[] = {
		{ "simple", 0, DKIM_SIMPLE, DKIM_SIMPLE },
		{ "relaxed", 0, DKIM_RELAXED, DKIM_SIMPLE },
		{ "simple/simple", 0, DKIM_SIMPLE, DKIM_SIMPLE },
		{ "simple/relaxed", 0, DKIM_SIMPLE, DKIM_RELAXED },
		{ "relaxed/simple", 0, DKIM_RELAXED, DKIM_SIMPLE },
		{ "relaxed/relaxed", 0, DKIM_RELAXED, DKIM_RELAXED },
		{ "", -1, 0, 0 },
		{ "relaxed/", -1, 0, 0 },
		{ "/relaxed", -1, 0, 0 },
		{ "Relaxed", -1, 0, 0 },
		{ "relaxed/relaxed/relaxed", -1, 0, 0 },
		{ "nofws", -1, 0, 0 },
	};
	enum dkim_canon h, b;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		h = b = (enum dkim_canon)-1;
		assert_int_equal(dkim_parse_canon(t[i].s, &h, &b), t[i].rc);
		if (t[i].rc == 0) {
			assert_int_equal(h, t[i].h);
			assert_int_equal(b, t[i].b);
		}
	}
	assert_string_equal(dkim_alg_name(DKIM_RSA_SHA256), "rsa-sha256");
	assert_string_equal(dkim_alg_name(DKIM_ED25519_SHA256),
	    "ed25519-sha256");
}

/* ---- a verifier written from RFC 6376 6.1, for the tests only ---- */

static EVP_PKEY *rsa_key, *ed_key;

static int
setup_keys(void **state)
{
	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ed_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return rsa_key != NULL && ed_key != NULL ? 0 : -1;
}

static int
teardown_keys(void **state)
{
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(ed_key);
	return 0;
}

static void
key_init(struct dkim_key *k, enum dkim_alg alg, const char *canon,
    const char *sel)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->domain, sizeof(k->domain), "example.com");
	snprintf(k->selector, sizeof(k->selector), "%s", sel);
	k->alg = alg;
	k->pkey = alg == DKIM_RSA_SHA256 ? rsa_key : ed_key;
	assert_int_equal(dkim_parse_canon(canon, &k->hcanon, &k->bcanon), 0);
}

struct hfield {
	const char	*p;
	size_t		 len;
	int		 used;
};

/* Header fields of msg, into f (at most max); returns how many, and
 * the body through *body. */
static size_t
test_fields(const char *msg, struct hfield *f, size_t max, const char **body)
{
	const char *p = msg, *e;
	size_t n = 0;

	*body = msg + strlen(msg);
	while (*p != '\0') {
		if (p[0] == '\r' && p[1] == '\n') {
			*body = p + 2;
			break;
		}
		assert_true(n < max);
		f[n].p = p;
		f[n].used = 0;
		do {
			e = strstr(p, "\r\n");
			p = e != NULL ? e + 2 : p + strlen(p);
		} while (*p == ' ' || *p == '\t');
		f[n].len = p - f[n].p;
		n++;
	}
	return n;
}

static int
test_name_is(const struct hfield *f, const char *name, size_t nl)
{
	const char *c = memchr(f->p, ':', f->len);
	size_t l;

	if (c == NULL)
		return 0;
	for (l = c - f->p; l > 0 && (f->p[l - 1] == ' ' ||
	    f->p[l - 1] == '\t'); l--)
		;
	return l == nl && strncasecmp(f->p, name, nl) == 0;
}

/* Tag value from a DKIM-Signature with all whitespace taken out. */
static char *
sig_tag(const char *sig, size_t len, const char *tag)
{
	char *flat = calloc(1, len + 1), *p, *q, *v = NULL;
	size_t i, n = 0, tl = strlen(tag);

	assert_non_null(flat);
	for (i = strchr(sig, ':') - sig + 1; i < len; i++)
		if (strchr(" \t\r\n", sig[i]) == NULL)
			flat[n++] = sig[i];
	for (p = flat; p != NULL && *p != '\0'; p = q) {
		if ((q = strchr(p, ';')) != NULL)
			*q++ = '\0';
		if (strncmp(p, tag, tl) == 0 && p[tl] == '=') {
			v = strdup(p + tl + 1);
			break;
		}
	}
	free(flat);
	assert_non_null(v);
	return v;
}

static void
sha256(const void *p, size_t n, unsigned char md[32])
{
	assert_int_equal(EVP_Digest(p, n, md, NULL, EVP_sha256(), NULL), 1);
}

/* Verify the DKIM-Signature sig[0..siglen) over msg with pkey. */
static int
self_verify(const char *sig, size_t siglen, const char *msg, EVP_PKEY *pkey)
{
	struct hfield f[64];
	struct buf data, body, nob;
	enum dkim_canon hc, bc;
	unsigned char md[32], *raw;
	char *a, *c, *h, *bh, *b, *name, *save = NULL, bhwant[64];
	const char *bodyp;
	size_t nf, i, rawlen, bpos, bend;
	EVP_MD_CTX *ctx;
	int ok;

	a = sig_tag(sig, siglen, "a");
	c = sig_tag(sig, siglen, "c");
	h = sig_tag(sig, siglen, "h");
	bh = sig_tag(sig, siglen, "bh");
	b = sig_tag(sig, siglen, "b");
	assert_int_equal(dkim_parse_canon(c, &hc, &bc), 0);
	buf_init(&data, 0);
	buf_init(&body, 0);
	buf_init(&nob, 0);

	/* Body hash. */
	nf = test_fields(msg, f, 64, &bodyp);
	assert_int_equal(dkim_canon_body(bc, bodyp, strlen(bodyp), &body), 0);
	sha256(buf_cstr(&body), buf_len(&body), md);
	base64_encode(md, 32, bhwant, sizeof(bhwant));
	assert_string_equal(bh, bhwant);

	/* Signed fields, each name taking instances from the bottom. */
	for (name = strtok_r(h, ":", &save); name != NULL;
	    name = strtok_r(NULL, ":", &save)) {
		for (i = nf; i > 0; i--) {
			if (f[i - 1].used ||
			    !test_name_is(&f[i - 1], name, strlen(name)))
				continue;
			f[i - 1].used = 1;
			assert_int_equal(dkim_canon_header(hc, f[i - 1].p,
			    f[i - 1].len, &data), 0);
			break;
		}
	}

	/* The signature field, b= value and its FWS deleted, no CRLF. */
	for (bpos = 1; bpos + 1 < siglen; bpos++)
		if (sig[bpos] == 'b' && sig[bpos + 1] == '=' &&
		    strchr("; \t\n", sig[bpos - 1]) != NULL)
			break;
	assert_true(bpos + 1 < siglen);
	for (bend = bpos + 2; bend < siglen - 2 && sig[bend] != ';'; bend++)
		;
	assert_int_equal(buf_append(&nob, sig, bpos + 2), 0);
	assert_int_equal(buf_append(&nob, sig + bend, siglen - 2 - bend), 0);
	i = buf_len(&data);
	assert_int_equal(dkim_canon_header(hc, buf_ptr(&nob), buf_len(&nob),
	    &data), 0);
	data.len -= 2;
	assert_true(buf_len(&data) > i);

	raw = malloc(strlen(b));
	assert_non_null(raw);
	assert_int_equal(base64_decode(b, strlen(b), raw, strlen(b),
	    &rawlen), 0);
	ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	if (strcmp(a, "rsa-sha256") == 0) {
		assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(),
		    NULL, pkey), 1);
		ok = EVP_DigestVerify(ctx, raw, rawlen,
		    (unsigned char *)buf_ptr(&data), buf_len(&data)) == 1;
	} else {
		assert_string_equal(a, "ed25519-sha256");
		sha256(buf_ptr(&data), buf_len(&data), md);
		assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL,
		    pkey), 1);
		ok = EVP_DigestVerify(ctx, raw, rawlen, md, 32) == 1;
	}
	EVP_MD_CTX_free(ctx);
	free(raw);
	free(a);
	free(c);
	free(h);
	free(bh);
	free(b);
	buf_free(&data);
	buf_free(&body);
	buf_free(&nob);
	return ok;
}

/* Start and length of the n-th field (0-based) in sigs. */
static void
nth_sig(const struct buf *sigs, int n, const char **p, size_t *len)
{
	const char *s = buf_ptr(sigs), *end = s + buf_len(sigs), *q;
	int i;

	for (i = 0; ; i++) {
		assert_true(s < end);
		assert_memory_equal(s, "DKIM-Signature: ", 16);
		for (q = s; ; ) {
			q = memmem(q, end - q, "\r\n", 2);
			assert_non_null(q);
			q += 2;
			if (q == end || (*q != ' ' && *q != '\t'))
				break;
		}
		if (i == n) {
			*p = s;
			*len = q - s;
			return;
		}
		s = q;
	}
}

static char *
prepend(const char *sig, size_t siglen, const char *msg)
{
	char *m = malloc(siglen + strlen(msg) + 1);

	assert_non_null(m);
	memcpy(m, sig, siglen);
	strcpy(m + siglen, msg);
	return m;
}

static const char test_msg[] =
    "Received: from x by y; Tue, 24 Nov 2026 10:00:00 +0000\r\n"
    "From: Alice <alice@example.com>\r\n"
    "To: bob@example.net\r\n"
    "Subject: a folded\r\n"
    "\tsubject  with   runs of  whitespace and caf\xc3\xa9 \r\n"
    "to: carol@example.org\r\n"
    "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
    "Message-ID: <1@example.com>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "X-Not-Signed: yes\r\n"
    "\r\n"
    "Hello  Bob, \r\n"
    "\t\r\n"
    "caf\xc3\xa9\r\n"
    "\r\n"
    "\r\n";

static void
check_folding(const struct buf *sigs)
{
	const char *p = buf_ptr(sigs), *end = p + buf_len(sigs), *e;

	for (; p < end; p = e + 2) {
		e = memmem(p, end - p, "\r\n", 2);
		assert_non_null(e);
		if (e - p > 78)
			fail_msg("line of %d: %.*s", (int)(e - p),
			    (int)(e - p), p);
		assert_true(memchr(p, '\n', e - p) == NULL);
	}
}

/* Every canonicalization pair, both algorithms, tampering caught. */
static void
test_sign_self_verify(void **state)
{
	static const char *canons[] = { "simple/simple", "simple/relaxed",
	    "relaxed/simple", "relaxed/relaxed" };
	const struct dkim_key *kp[1];
	struct dkim_key k;
	struct buf out;
	const char *sig, *from;
	char err[128], *m, *h;
	size_t i, siglen;
	int alg;

	for (alg = 0; alg < 2; alg++) {
		for (i = 0; i < 4; i++) {
			key_init(&k, alg, canons[i], "sel");
			kp[0] = &k;
			buf_init(&out, 0);
			assert_int_equal(dkim_sign(kp, 1, test_msg,
			    strlen(test_msg), NOW, &out, err, sizeof(err)), 0);
			check_folding(&out);
			nth_sig(&out, 0, &sig, &siglen);
			assert_int_equal(siglen, buf_len(&out));
			assert_true(self_verify(sig, siglen, test_msg,
			    k.pkey));

			h = sig_tag(sig, siglen, "h");
			assert_string_equal(h, "from:from:to:to:subject:date:"
			    "message-id:mime-version:content-type");
			free(h);
			h = sig_tag(sig, siglen, "t");
			assert_string_equal(h, "1795000000");
			free(h);

			/* A changed Subject breaks it ... */
			m = strdup(test_msg);
			memcpy(strstr(m, "folded"), "FOLDED", 6);
			assert_false(self_verify(sig, siglen, m, k.pkey));
			free(m);
			/* ... and so does a second From (over-signing). */
			from = "From: mallory@example.org\r\n";
			m = prepend(from, strlen(from), test_msg);
			assert_false(self_verify(sig, siglen, m, k.pkey));
			free(m);
			buf_free(&out);
		}
	}
}

static void
test_sign_dual(void **state)
{
	struct dkim_key rk, ek;
	const struct dkim_key *kp[2] = { &rk, &ek };
	struct buf out;
	const char *s0, *s1;
	char err[128], *a;
	size_t l0, l1;

	key_init(&rk, DKIM_RSA_SHA256, "relaxed/relaxed", "rsa");
	key_init(&ek, DKIM_ED25519_SHA256, "relaxed/simple", "ed");
	buf_init(&out, 0);
	assert_int_equal(dkim_sign(kp, 2, test_msg, strlen(test_msg), NOW,
	    &out, err, sizeof(err)), 0);
	check_folding(&out);
	nth_sig(&out, 0, &s0, &l0);
	nth_sig(&out, 1, &s1, &l1);
	assert_int_equal(l0 + l1, buf_len(&out));
	a = sig_tag(s0, l0, "a");
	assert_string_equal(a, "rsa-sha256");
	free(a);
	a = sig_tag(s1, l1, "a");
	assert_string_equal(a, "ed25519-sha256");
	free(a);
	assert_true(self_verify(s0, l0, test_msg, rsa_key));
	assert_true(self_verify(s1, l1, test_msg, ed_key));
	buf_free(&out);
}

/* No empty line: all header, empty body; no From: still from listed. */
static void
test_sign_edge_messages(void **state)
{
	static const char *msgs[] = {
		"From: a@example.com\r\nSubject: no body\r\n",
		"From: a@example.com\r\nSubject: no crlf",
		"Subject: no from\r\n\r\nbody\r\n",
		"From: a@example.com\r\nFrom: b@example.com\r\n\r\n",
		"\r\nbody only\r\n",
		"",
	};
	static const char *wanth[] = {
		"from:from:subject", "from:from:subject", "from:subject",
		"from:from:from", "from", "from",
	};
	struct dkim_key k;
	const struct dkim_key *kp[1] = { &k };
	struct buf out;
	const char *sig;
	char err[128], *h;
	size_t i, siglen;

	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		key_init(&k, DKIM_ED25519_SHA256, "simple/simple", "s");
		buf_init(&out, 0);
		assert_int_equal(dkim_sign(kp, 1, msgs[i], strlen(msgs[i]),
		    NOW, &out, err, sizeof(err)), 0);
		nth_sig(&out, 0, &sig, &siglen);
		h = sig_tag(sig, siglen, "h");
		assert_string_equal(h, wanth[i]);
		free(h);
		assert_true(self_verify(sig, siglen, msgs[i], ed_key));
		buf_free(&out);
	}
}

/* Many To fields force h= over several lines; none may pass 78. */
static void
test_sign_long_h(void **state)
{
	struct dkim_key k;
	const struct dkim_key *kp[1] = { &k };
	struct buf msg, out;
	const char *sig;
	char err[128];
	size_t siglen;
	int i;

	buf_init(&msg, 0);
	buf_puts(&msg, "From: a@example.com\r\n");
	for (i = 0; i < 40; i++)
		buf_printf(&msg, "To: r%d@example.net\r\n", i);
	buf_puts(&msg, "\r\nbody\r\n");
	key_init(&k, DKIM_RSA_SHA256, "simple/simple", "a-very-long-selector");
	buf_init(&out, 0);
	assert_int_equal(dkim_sign(kp, 1, buf_cstr(&msg), buf_len(&msg), NOW,
	    &out, err, sizeof(err)), 0);
	check_folding(&out);
	nth_sig(&out, 0, &sig, &siglen);
	assert_true(self_verify(sig, siglen, buf_cstr(&msg), rsa_key));
	buf_free(&msg);
	buf_free(&out);
}

/* One RSA context from dkim_rsa_signer() signs digest after digest (the
 * key process keeps one per key), each as a fresh context would. */
static void
test_sign_reused_rsa_context(void **state)
{
	EVP_PKEY_CTX *rsa = dkim_rsa_signer(rsa_key), *vc;
	unsigned char md[DKIM_DIGEST_LEN];
	struct buf sig, fresh;

	(void)state;
	assert_non_null(rsa);
	buf_init(&sig, 0);
	buf_init(&fresh, 0);
	for (int i = 0; i < 3; i++) {
		memset(md, 'a' + i, sizeof(md));
		buf_reset(&sig);
		buf_reset(&fresh);
		assert_int_equal(dkim_sign_digest(rsa_key, rsa, DKIM_RSA_SHA256,
		    md, &sig), 0);
		assert_int_equal(dkim_sign_digest(rsa_key, NULL,
		    DKIM_RSA_SHA256, md, &fresh), 0);
		/* PKCS#1 v1.5 is deterministic: the same bytes. */
		assert_int_equal(buf_len(&sig), 256);
		assert_int_equal(buf_len(&fresh), buf_len(&sig));
		assert_memory_equal(buf_ptr(&fresh), buf_ptr(&sig),
		    buf_len(&sig));
		vc = EVP_PKEY_CTX_new(rsa_key, NULL);
		assert_non_null(vc);
		assert_int_equal(EVP_PKEY_verify_init(vc), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(vc,
		    RSA_PKCS1_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_signature_md(vc,
		    EVP_sha256()), 1);
		assert_int_equal(EVP_PKEY_verify(vc,
		    (const unsigned char *)buf_ptr(&sig), buf_len(&sig), md,
		    sizeof(md)), 1);
		EVP_PKEY_CTX_free(vc);
	}
	buf_free(&sig);
	buf_free(&fresh);
	EVP_PKEY_CTX_free(rsa);
}

static void
test_sign_errors(void **state)
{
	struct dkim_key k;
	const struct dkim_key *kp[1] = { &k };
	struct buf out;
	char err[128];

	buf_init(&out, 0);
	key_init(&k, DKIM_RSA_SHA256, "relaxed", "s");
	k.pkey = ed_key;
	assert_int_equal(dkim_sign(kp, 1, test_msg, strlen(test_msg), NOW,
	    &out, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "RSA"));
	key_init(&k, DKIM_ED25519_SHA256, "relaxed", "s;x=1");
	err[0] = '\0';
	assert_int_equal(dkim_sign(kp, 1, test_msg, strlen(test_msg), NOW,
	    &out, err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
	assert_int_equal(buf_len(&out), 0);

	/* Too small for the second signature: nothing is left behind. */
	buf_free(&out);
	buf_init(&out, 500);
	buf_puts(&out, "X: y\r\n");
	key_init(&k, DKIM_ED25519_SHA256, "relaxed", "s");
	{
		const struct dkim_key *two[2] = { &k, &k };

		assert_int_equal(dkim_sign(two, 2, test_msg, strlen(test_msg),
		    NOW, &out, err, sizeof(err)), -1);
	}
	assert_int_equal(buf_len(&out), 6);
	buf_free(&out);
}

/* Bare LF and other junk: no crash, same bytes twice. */
static void
test_sign_bare_lf(void **state)
{
	static const char m[] = "From: a\nTo: b\n\nbody  \n\n";
	struct dkim_key k;
	const struct dkim_key *kp[1] = { &k };
	struct buf o1, o2;
	char err[128];

	key_init(&k, DKIM_ED25519_SHA256, "relaxed/relaxed", "s");
	buf_init(&o1, 0);
	buf_init(&o2, 0);
	assert_int_equal(dkim_sign(kp, 1, m, sizeof(m) - 1, NOW, &o1, err,
	    sizeof(err)), 0);
	assert_int_equal(dkim_sign(kp, 1, m, sizeof(m) - 1, NOW, &o2, err,
	    sizeof(err)), 0);
	/* Ed25519 is deterministic. */
	assert_int_equal(buf_len(&o1), buf_len(&o2));
	assert_memory_equal(buf_ptr(&o1), buf_ptr(&o2), buf_len(&o1));
	buf_free(&o1);
	buf_free(&o2);
}

/* ---- dkimpy, an independent verifier ---- */

static const char verify_py[] =
    "import sys, dkim\n"
    "msg = open(sys.argv[1], 'rb').read()\n"
    "recs = {}\n"
    "for line in open(sys.argv[2], 'rb'):\n"
    "    name, rec = line.rstrip(b'\\n').split(b' ', 1)\n"
    "    recs[name] = rec\n"
    "def dnsfunc(name, timeout=5):\n"
    "    return recs.get(name.rstrip(b'.'))\n"
    "d = dkim.DKIM(msg, minkey=1024)\n"
    "for i in range(int(sys.argv[3])):\n"
    "    if not d.verify(idx=i, dnsfunc=dnsfunc):\n"
    "        sys.exit(1)\n";

static int
have_dkimpy(void)
{
	return access(PYTHON, X_OK) == 0 &&
	    system(PYTHON " -c 'import dkim, nacl' >/dev/null 2>&1") == 0;
}

static void
write_file(const char *path, const void *p, size_t n)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
}

/* "sel._domainkey.example.com v=DKIM1; k=...; p=..." */
static void
dns_record(FILE *fp, const char *sel, EVP_PKEY *pkey)
{
	unsigned char der[1024], *p = der;
	char b64[2048];
	size_t n = sizeof(der);
	int len;

	if (EVP_PKEY_is_a(pkey, "ED25519")) {
		/* RFC 8463 4: p= is the bare 32-byte key. */
		assert_int_equal(EVP_PKEY_get_raw_public_key(pkey, der, &n), 1);
		base64_encode(der, n, b64, sizeof(b64));
		fprintf(fp, "%s._domainkey.example.com v=DKIM1; k=ed25519; "
		    "p=%s\n", sel, b64);
		return;
	}
	len = i2d_PUBKEY(pkey, &p);
	assert_true(len > 0 && (size_t)len <= sizeof(der));
	base64_encode(der, (size_t)len, b64, sizeof(b64));
	fprintf(fp, "%s._domainkey.example.com v=DKIM1; k=rsa; p=%s\n", sel,
	    b64);
}

static int
dkimpy_verify(const char *dir, const struct buf *sigs, int nsig,
    const char *msg)
{
	char path[4][256], cmd[1280];
	char *m;
	FILE *fp;

	snprintf(path[0], sizeof(path[0]), "%s/msg.eml", dir);
	snprintf(path[1], sizeof(path[1]), "%s/dns.txt", dir);
	snprintf(path[2], sizeof(path[2]), "%s/verify.py", dir);
	snprintf(path[3], sizeof(path[3]), "%s/verify.log", dir);
	m = prepend(buf_ptr(sigs), buf_len(sigs), msg);
	write_file(path[0], m, strlen(m));
	free(m);
	fp = fopen(path[1], "w");
	assert_non_null(fp);
	dns_record(fp, "rsa", rsa_key);
	dns_record(fp, "ed", ed_key);
	assert_int_equal(fclose(fp), 0);
	write_file(path[2], verify_py, sizeof(verify_py) - 1);
	/* Its complaints go to a log: the negative tests expect some. */
	snprintf(cmd, sizeof(cmd), PYTHON " %s %s %s %d >%s 2>&1", path[2],
	    path[0], path[1], nsig, path[3]);
	return system(cmd) == 0;
}

static void
test_dkimpy(void **state)
{
	static const char *canons[] = { "simple/simple", "simple/relaxed",
	    "relaxed/simple", "relaxed/relaxed" };
	struct dkim_key rk, ek;
	const struct dkim_key *kp[2] = { &rk, &ek };
	struct buf out;
	char dir[] = "/tmp/test_dkim.XXXXXX", err[128], cmd[128], *m;
	size_t i;

	if (!have_dkimpy())
		skip();
	assert_non_null(mkdtemp(dir));
	for (i = 0; i < 4; i++) {
		key_init(&rk, DKIM_RSA_SHA256, canons[i], "rsa");
		key_init(&ek, DKIM_ED25519_SHA256, canons[i], "ed");
		buf_init(&out, 0);
		assert_int_equal(dkim_sign(kp, 2, test_msg, strlen(test_msg),
		    NOW, &out, err, sizeof(err)), 0);
		if (!dkimpy_verify(dir, &out, 2, test_msg))
			fail_msg("dkimpy rejects %s (see %s/verify.log): %s",
			    canons[i], dir, buf_cstr(&out));
		/* The verifier must be able to say no. */
		m = strdup(test_msg);
		memcpy(strstr(m, "Hello"), "HELLO", 5);
		assert_false(dkimpy_verify(dir, &out, 1, m));
		free(m);
		buf_free(&out);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canon_body),
		cmocka_unit_test(test_canon_header),
		cmocka_unit_test(test_canon_limit),
		cmocka_unit_test(test_parse_canon),
		cmocka_unit_test(test_sign_self_verify),
		cmocka_unit_test(test_sign_dual),
		cmocka_unit_test(test_sign_edge_messages),
		cmocka_unit_test(test_sign_long_h),
		cmocka_unit_test(test_sign_errors),
		cmocka_unit_test(test_sign_reused_rsa_context),
		cmocka_unit_test(test_sign_bare_lf),
		cmocka_unit_test(test_dkimpy),
	};

	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
