/*
 * pwhash.c - scrypt password hashes and API keys (OpenSSL EVP).
 * Diagnostics: never dies; a hash OpenSSL cannot make returns -1, a
 * malformed stored hash verifies as -1 (no match).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "base64.h"
#include "pwhash.h"
#include "util.h"

/* 2^15 x 8 x 128 bytes = 32 MiB and ~50 ms per hash on this class of CPU. */
#define SCRYPT_LN	15
#define SCRYPT_R	8
#define SCRYPT_P	1
#define SALT_LEN	16
#define HASH_LEN	32

static int
scrypt(const char *pw, size_t pwlen, const unsigned char *salt,
    size_t saltlen, int ln, int r, int p, unsigned char *out)
{
	uint64_t n = (uint64_t)1 << ln;
	uint64_t maxmem = 128 * n * (uint64_t)r * 2 + (1 << 20);

	if (EVP_PBE_scrypt(pw, pwlen, salt, saltlen, n, (uint64_t)r,
	    (uint64_t)p, maxmem, out, HASH_LEN) != 1)
		return -1;
	return 0;
}

int
pwhash_make(const char *pw, size_t pwlen, char *out, size_t outsz)
{
	unsigned char salt[SALT_LEN], hash[HASH_LEN];
	char bsalt[64], bhash[64];
	int n;

	random_bytes(salt, sizeof(salt));
	if (scrypt(pw, pwlen, salt, sizeof(salt), SCRYPT_LN, SCRYPT_R,
	    SCRYPT_P, hash) == -1)
		return -1;
	if (base64_encode(salt, sizeof(salt), bsalt, sizeof(bsalt)) == -1 ||
	    base64_encode(hash, sizeof(hash), bhash, sizeof(bhash)) == -1)
		return -1;
	n = snprintf(out, outsz, "$scrypt$ln=%d,r=%d,p=%d$%s$%s", SCRYPT_LN,
	    SCRYPT_R, SCRYPT_P, bsalt, bhash);
	OPENSSL_cleanse(hash, sizeof(hash));
	return (n < 0 || (size_t)n >= outsz) ? -1 : 0;
}

int
pwhash_verify(const char *pw, size_t pwlen, const char *stored)
{
	unsigned char salt[64], want[64], got[HASH_LEN];
	char bsalt[96], bhash[96];
	size_t saltlen, wantlen;
	int ln, r, p, ok;

	if (sscanf(stored, "$scrypt$ln=%d,r=%d,p=%d$%95[^$]$%95s", &ln, &r,
	    &p, bsalt, bhash) != 5)
		return -1;
	if (ln < 10 || ln > 22 || r < 1 || r > 32 || p < 1 || p > 16)
		return -1;
	if (base64_decode(bsalt, strlen(bsalt), salt, sizeof(salt),
	    &saltlen) == -1 || base64_decode(bhash, strlen(bhash), want,
	    sizeof(want), &wantlen) == -1 || wantlen != HASH_LEN)
		return -1;
	if (scrypt(pw, pwlen, salt, saltlen, ln, r, p, got) == -1)
		return -1;
	ok = CRYPTO_memcmp(got, want, HASH_LEN) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return ok;
}

const char *
pwhash_dummy(void)
{
	/* A real hash of a random password nobody knows. */
	static char dummy[PWHASH_MAX];

	if (dummy[0] == '\0') {
		char pw[33];

		pwhash_generate_password(pw, 32);
		if (pwhash_make(pw, strlen(pw), dummy, sizeof(dummy)) == -1)
			snprintf(dummy, sizeof(dummy), "$scrypt$ln=%d,r=%d,p=%d"
			    "$AAAAAAAAAAAAAAAAAAAAAA==$"
			    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
			    SCRYPT_LN, SCRYPT_R, SCRYPT_P);
	}
	return dummy;
}

void
pwhash_generate_password(char *out, size_t n)
{
	/* No 0/O, 1/l/I: passwords get read aloud and retyped. */
	static const char set[] = "abcdefghijkmnopqrstuvwxyz"
	    "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	const size_t setlen = sizeof(set) - 1;
	unsigned char r;
	size_t i = 0;

	while (i < n) {
		random_bytes(&r, 1);
		if (r >= 256 - (256 % setlen))	/* no modulo bias */
			continue;
		out[i++] = set[r % setlen];
	}
	out[n] = '\0';
}

void
apikey_hash(const char *key, size_t len, char *hexhash)
{
	unsigned char d[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)key, len, d);
	hex_encode(d, sizeof(d), hexhash);
}

void
apikey_generate(char *key, char *id, char *hexhash)
{
	unsigned char pub[6], sec[20];
	char hpub[13], hsec[41];

	random_bytes(pub, sizeof(pub));
	random_bytes(sec, sizeof(sec));
	hex_encode(pub, sizeof(pub), hpub);
	hex_encode(sec, sizeof(sec), hsec);
	snprintf(key, APIKEY_LEN + 1, "gwk_%s_%s", hpub, hsec);
	snprintf(id, APIKEY_ID_LEN + 1, "gwk_%s", hpub);
	apikey_hash(key, APIKEY_LEN, hexhash);
	OPENSSL_cleanse(sec, sizeof(sec));
}

int
apikey_parse(const char *pw, size_t len, char *id)
{
	if (len != APIKEY_LEN || strncmp(pw, "gwk_", 4) != 0 ||
	    pw[APIKEY_ID_LEN] != '_')
		return 0;
	for (size_t i = 4; i < len; i++)
		if (i != APIKEY_ID_LEN && !strchr("0123456789abcdef", pw[i]))
			return 0;
	memcpy(id, pw, APIKEY_ID_LEN);
	id[APIKEY_ID_LEN] = '\0';
	return 1;
}
