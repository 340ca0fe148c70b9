/*
 * dkimkey.c - DKIM keys: make, load, classify, and write their records.
 * Standards: RFC 6376 3.2 (tag lists), 3.6.1 (key records), RFC 8301
 * (RSA key sizes), RFC 8463 (Ed25519), RFC 5958 (PKCS#8).
 * Exposure: dkimkey_parse_record() reads TXT records from the network,
 * in place and bounded by the caller's string; nothing else here sees
 * untrusted bytes (a key file is the administrator's).
 * Diagnostics: never dies; a key or record that cannot be made, read or
 * parsed returns -1 or NULL (with the reason in errstr where one is
 * asked for).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "base64.h"
#include "dkimkey.h"

#define RECORD_MAX_TAGS	32

const char *
dkimkey_alg_name(enum dkimkey_alg a)
{
	return a == DKIMKEY_ED25519 ? "ed25519-sha256" : "rsa-sha256";
}

const char *
dkimkey_alg_k(enum dkimkey_alg a)
{
	return a == DKIMKEY_ED25519 ? "ed25519" : "rsa";
}

int
dkimkey_alg_parse(const char *s, enum dkimkey_alg *a)
{
	if (strcmp(s, "rsa") == 0 || strcmp(s, "rsa-sha256") == 0)
		*a = DKIMKEY_RSA;
	else if (strcmp(s, "ed25519") == 0 || strcmp(s, "ed25519-sha256") == 0)
		*a = DKIMKEY_ED25519;
	else
		return -1;
	return 0;
}

static int
selector_label_ok(const char *s, size_t n)
{
	if (n == 0 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

int
dkimkey_valid_selector(const char *s)
{
	size_t n = strlen(s), lab;

	if (n == 0 || n > DKIMKEY_SELECTOR_MAX)
		return 0;
	for (;;) {
		lab = strcspn(s, ".");
		if (!selector_label_ok(s, lab))
			return 0;
		if (s[lab] == '\0')
			return 1;
		s += lab + 1;
	}
}

int
dkimkey_check_bits(int bits, const char **errstr)
{
	if (bits == 2048 || bits == 3072 || bits == 4096)
		return 0;
	if (bits <= 1024)
		*errstr = "RSA keys of 1024 bits or fewer are refused: they "
		    "are within reach of factoring and RFC 8301 asks signers "
		    "for 2048 or more; use 2048, 3072 or 4096";
	else
		*errstr = "RSA key size must be 2048, 3072 or 4096 bits";
	return -1;
}

EVP_PKEY *
dkimkey_generate(enum dkimkey_alg a, int bits, const char **errstr)
{
	EVP_PKEY *k;

	if (a == DKIMKEY_RSA && dkimkey_check_bits(bits, errstr) == -1)
		return NULL;
	if (a == DKIMKEY_RSA)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (k == NULL) {
		ERR_clear_error();
		*errstr = "OpenSSL could not make the key";
	}
	return k;
}

/* Never prompt for a passphrase: note that one was wanted, and fail. */
static int
pem_nopass(char *buf, int size, int rwflag, void *arg)
{
	*(int *)arg = 1;
	return -1;
}

EVP_PKEY *
dkimkey_from_pem(const char *pem, size_t len, const char **errstr)
{
	EVP_PKEY *k = NULL;
	BIO *bio;
	int wanted_pass = 0;

	if (len > DKIMKEY_PEM_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) ==
	    NULL) {
		*errstr = "key file too large";
		return NULL;
	}
	k = PEM_read_bio_PrivateKey(bio, NULL, pem_nopass, &wanted_pass);
	BIO_free(bio);
	ERR_clear_error();
	if (k == NULL)
		*errstr = wanted_pass ? "the private key is encrypted; decrypt "
		    "it first (openssl pkey -in KEY -out PLAIN)" :
		    "no PEM private key found (PKCS#8, or PKCS#1 for RSA)";
	return k;
}

int
dkimkey_classify(EVP_PKEY *k, enum dkimkey_alg *a, int *bits,
    const char **errstr)
{
	if (EVP_PKEY_is_a(k, "ED25519")) {
		*a = DKIMKEY_ED25519;
		*bits = 0;
		return 0;
	}
	if (!EVP_PKEY_is_a(k, "RSA")) {
		*errstr = "only RSA and Ed25519 keys can sign DKIM";
		return -1;
	}
	*a = DKIMKEY_RSA;
	*bits = EVP_PKEY_get_bits(k);
	if (*bits < DKIMKEY_RSA_MIN_BITS) {
		*errstr = "RSA keys under 2048 bits are refused: they are "
		    "within reach of factoring and RFC 8301 asks signers for "
		    "2048 or more";
		return -1;
	}
	if (*bits > DKIMKEY_RSA_MAX_BITS) {
		*errstr = "RSA keys over 4096 bits are refused: verifiers "
		    "need not handle them (RFC 8301 3.2)";
		return -1;
	}
	return 0;
}

char *
dkimkey_private_pem(EVP_PKEY *k)
{
	char *data, *out = NULL;
	long n;
	BIO *bio;

	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		return NULL;
	if (PEM_write_bio_PKCS8PrivateKey(bio, k, NULL, NULL, 0, NULL,
	    NULL) == 1 && (n = BIO_get_mem_data(bio, &data)) > 0 &&
	    (out = malloc((size_t)n + 1)) != NULL) {
		memcpy(out, data, (size_t)n);
		out[n] = '\0';
	}
	BIO_free(bio);
	ERR_clear_error();
	return out;
}

void
dkimkey_free_secret(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

char *
dkimkey_public(EVP_PKEY *k)
{
	unsigned char *der = NULL, *p;
	size_t n = 0;
	char *out = NULL;
	int len;

	if (EVP_PKEY_is_a(k, "ED25519")) {
		if (EVP_PKEY_get_raw_public_key(k, NULL, &n) == 1 &&
		    (der = malloc(n)) != NULL &&
		    EVP_PKEY_get_raw_public_key(k, der, &n) != 1)
			n = 0;
	} else if ((len = i2d_PUBKEY(k, NULL)) > 0 &&
	    (der = malloc((size_t)len)) != NULL) {
		p = der;
		n = i2d_PUBKEY(k, &p) == len ? (size_t)len : 0;
	}
	if (der != NULL && n > 0 &&
	    (out = malloc(base64_encoded_size(n))) != NULL)
		base64_encode(der, n, out, base64_encoded_size(n));
	free(der);
	ERR_clear_error();
	return out;
}

int
dkimkey_txt(struct buf *b, enum dkimkey_alg a, const char *p)
{
	return buf_printf(b, "v=DKIM1; k=%s; p=%s", dkimkey_alg_k(a),
	    p ? p : "");
}

/*
 * The first string holds the fixed tags, so a panel that shows strings
 * one per line shows them apart from the key; the key follows in
 * strings of at most DKIMKEY_TXT_STRING bytes.
 */
int
dkimkey_zone_line(struct buf *b, const char *selector, const char *domain,
    enum dkimkey_alg a, const char *p)
{
	char head[2 + DKIMKEY_TXT_STRING + 1];
	size_t n = p ? strlen(p) : 0, off, take;
	int r;

	r = buf_printf(b, "%s._domainkey.%s. IN TXT ( \"v=DKIM1; k=%s; \"",
	    selector, domain, dkimkey_alg_k(a));
	take = n < DKIMKEY_TXT_STRING - 2 ? n : DKIMKEY_TXT_STRING - 2;
	memcpy(head, "p=", 2);
	memcpy(head + 2, p ? p : "", take);
	head[2 + take] = '\0';
	if (r == 0)
		r = buf_printf(b, " \"%s\"", head);
	for (off = take; r == 0 && off < n; off += take) {
		take = n - off < DKIMKEY_TXT_STRING ? n - off :
		    DKIMKEY_TXT_STRING;
		r = buf_printf(b, " \"%.*s\"", (int)take, p + off);
	}
	return r == 0 ? buf_puts(b, " )\n") : -1;
}

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trim s[0..n) of folding white space; returns the new start. */
static char *
trim(char *s, size_t *n)
{
	while (*n > 0 && is_wsp(*s)) {
		s++;
		(*n)--;
	}
	while (*n > 0 && is_wsp(s[*n - 1]))
		(*n)--;
	s[*n] = '\0';
	return s;
}

static int
tag_name_ok(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return 0;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/* Remove every white-space byte from s (base64 may be folded). */
static void
squeeze(char *s)
{
	char *o = s;

	for (; *s; s++)
		if (!is_wsp(*s))
			*o++ = *s;
	*o = '\0';
}

int
dkimkey_parse_record(char *txt, struct dkimkey_record *rec)
{
	const char *seen[RECORD_MAX_TAGS];
	char *spec, *next, *eq, *name, *val;
	size_t n, nn, nv;
	int nseen = 0;

	memset(rec, 0, sizeof(*rec));
	strcpy(rec->k, "rsa");
	for (spec = txt; spec != NULL; spec = next) {
		if ((next = strchr(spec, ';')) != NULL)
			*next++ = '\0';
		n = strlen(spec);
		if (*(spec = trim(spec, &n)) == '\0')
			continue;
		if ((eq = strchr(spec, '=')) == NULL ||
		    nseen == RECORD_MAX_TAGS)
			return -1;
		*eq = '\0';
		nn = (size_t)(eq - spec);
		nv = strlen(eq + 1);
		name = trim(spec, &nn);
		val = trim(eq + 1, &nv);
		if (!tag_name_ok(name))
			return -1;
		for (int i = 0; i < nseen; i++)
			if (strcmp(seen[i], name) == 0)
				return -1;	/* RFC 6376 3.2 */
		seen[nseen++] = name;
		if (strcmp(name, "v") == 0 &&
		    (nseen != 1 || strcmp(val, "DKIM1") != 0))
			return -1;
		if (strcmp(name, "k") == 0) {
			if (strlen(val) >= sizeof(rec->k))
				return -1;
			strcpy(rec->k, val);
		} else if (strcmp(name, "p") == 0) {
			squeeze(val);
			rec->p = val;
		}
	}
	return rec->p ? 0 : -1;
}
