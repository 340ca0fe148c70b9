/*
 * pwhash.h - salted, memory-hard password hashes (scrypt) and API keys.
 *
 * Stored form: "$scrypt$ln=15,r=8,p=1$<salt b64>$<hash b64>", so the cost
 * can rise later without breaking existing hashes.  API keys are random
 * and long, so a plain SHA-256 of the key is enough: "gwk_" + 12 hex of
 * public id + "_" + 40 hex of secret.
 */
#ifndef GW_PWHASH_H
#define GW_PWHASH_H

#include <stddef.h>

#define PWHASH_MAX	160
#define APIKEY_LEN	(4 + 12 + 1 + 40)
#define APIKEY_ID_LEN	(4 + 12)

/* Hash `pw` into out (PWHASH_MAX); 0 or -1. */
int	pwhash_make(const char *pw, size_t pwlen, char *out, size_t outsz);
/* 1 = match, 0 = no match, -1 = malformed hash.  Constant-time compare. */
int	pwhash_verify(const char *pw, size_t pwlen, const char *hash);
/* A hash that verifies nothing, costing the same: for unknown users. */
const char *pwhash_dummy(void);
/* A new random password of `n` characters from an unambiguous set. */
void	pwhash_generate_password(char *out, size_t n);

/* New API key into key (APIKEY_LEN+1); its id (APIKEY_ID_LEN+1) and
 * hex SHA-256 (65) for storage. */
void	apikey_generate(char *key, char *id, char *hexhash);
/* If `pw` looks like an API key, copy its id into id and return 1. */
int	apikey_parse(const char *pw, size_t pwlen, char *id);
void	apikey_hash(const char *key, size_t len, char *hexhash);

#endif
