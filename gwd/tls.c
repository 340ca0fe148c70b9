/*
 * tls.c - OpenSSL contexts for gwd.
 * Standards: RFC 8446 (TLS 1.3), RFC 5246 (TLS 1.2), RFC 7525 (BCP 195),
 * RFC 6125 (checking a server's name), RFC 6066 3 (SNI), RFC 5077 and
 * RFC 8446 4.6.1 (session tickets).
 * Exposure: loads the private key (as root, before dropping privileges);
 * judges the certificates of next hops, which may be hostile; decrypts
 * session tickets clients send back (OpenSSL checks their MAC first).
 * Diagnostics: never dies; the context builders return NULL with
 * OpenSSL's reason in err (start-up), a handshake failure reaches the
 * connection's owner; a ticket that cannot be opened means a full
 * handshake.
 *
 * Session tickets are sealed with keys of our own that rotate every
 * tls.ticket_lifetime: the newest seals, the one before still opens (so
 * every ticket stays usable for its whole lifetime), older ones are
 * forgotten, which bounds how long a stolen key exposes resumed
 * sessions.  OpenSSL's default is one key for the life of the process.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "dns_pkt.h"
#include "log.h"
#include "tls.h"
#include "util.h"

static void
ssl_err(char *err, size_t errsz, const char *what)
{
	unsigned long e = ERR_get_error();
	char tmp[160];

	ERR_error_string_n(e, tmp, sizeof(tmp));
	snprintf(err, errsz, "%s: %s", what, e ? tmp : "unknown error");
	ERR_clear_error();
}

static int
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	X509_add_ext(x, ex, -1);
	X509_EXTENSION_free(ex);
	return 0;
}

int
tls_make_self_signed(const char *certpath, const char *keypath,
    const char *host, char *err, size_t errsz)
{
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	FILE *f = NULL;
	char san[300];
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	int fd, ok = -1;

	if ((pkey = EVP_EC_gen("P-256")) == NULL) {
		ssl_err(err, errsz, "key generation");
		goto out;
	}
	if ((x = X509_new()) == NULL)
		goto sslfail;
	X509_set_version(x, 2);
	random_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto sslfail;
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3650L * 86400);
	X509_set_pubkey(x, pkey);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)host, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	snprintf(san, sizeof(san), "DNS:%s", host);
	if (add_ext(x, NID_subject_alt_name, san) == -1 ||
	    add_ext(x, NID_basic_constraints, "critical,CA:FALSE") == -1)
		goto sslfail;
	if (X509_sign(x, pkey, EVP_sha256()) == 0)
		goto sslfail;

	fd = open(keypath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 || (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errsz, "%s: %s", keypath, strerror(errno));
		if (fd != -1)
			close(fd);
		goto out;
	}
	if (!PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) ||
	    fclose(f) != 0) {
		f = NULL;
		snprintf(err, errsz, "%s: write failed", keypath);
		goto out;
	}
	if ((f = fopen(certpath, "wx")) == NULL) {
		snprintf(err, errsz, "%s: %s", certpath, strerror(errno));
		goto out;
	}
	if (!PEM_write_X509(f, x) || fclose(f) != 0) {
		f = NULL;
		snprintf(err, errsz, "%s: write failed", certpath);
		goto out;
	}
	f = NULL;
	ok = 0;
	goto out;
sslfail:
	ssl_err(err, errsz, "self-signed certificate");
out:
	if (f)
		fclose(f);
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return ok;
}

static void
harden(SSL_CTX *ctx)
{
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* OpenSSL 3 refuses client-initiated renegotiation by default
	 * (unless SSL_OP_ALLOW_CLIENT_RENEGOTIATION); say no to all. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	/* One read() for what is there, not two per record (header, then
	 * body); conn.c asks SSL_has_pending() for what stays buffered. */
	SSL_CTX_set_read_ahead(ctx, 1);
}

/* Session ticket keys. */

static struct ticket_keys	 tickets;
static EVP_CIPHER		*ticket_cipher;

static void
ticket_key_new(struct ticket_key *k)
{
	random_bytes(k->name, sizeof(k->name));
	random_bytes(k->aes, sizeof(k->aes));
	random_bytes(k->hmac, sizeof(k->hmac));
}

void
ticket_keys_init(struct ticket_keys *t, int64_t period_ms, int64_t now_ms)
{
	memset(t, 0, sizeof(*t));
	t->period_ms = period_ms;
	t->rotated_ms = now_ms;
	ticket_key_new(&t->key[0]);
	ticket_key_new(&t->key[1]);	/* opens nothing anyone was given */
}

static void
ticket_keys_rotate(struct ticket_keys *t, int64_t now_ms)
{
	int64_t age = now_ms - t->rotated_ms;

	if (age < t->period_ms)
		return;
	if (age >= 2 * t->period_ms)		/* both are too old */
		ticket_key_new(&t->key[0]);
	t->key[1] = t->key[0];
	ticket_key_new(&t->key[0]);
	t->rotated_ms = now_ms;
}

const struct ticket_key *
ticket_keys_seal(struct ticket_keys *t, int64_t now_ms)
{
	ticket_keys_rotate(t, now_ms);
	return &t->key[0];
}

const struct ticket_key *
ticket_keys_open(struct ticket_keys *t, const unsigned char *name,
    int64_t now_ms, int *renew)
{
	ticket_keys_rotate(t, now_ms);
	for (int i = 0; i < 2; i++)
		if (CRYPTO_memcmp(name, t->key[i].name, TICKET_NAME_LEN) == 0) {
			*renew = i > 0;
			return &t->key[i];
		}
	return NULL;
}

static int
ticket_mac_init(EVP_MAC_CTX *hctx, const struct ticket_key *k)
{
	OSSL_PARAM p[3];

	p[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    (void *)k->hmac, sizeof(k->hmac));
	p[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	p[2] = OSSL_PARAM_construct_end();
	return EVP_MAC_CTX_set_params(hctx, p);
}

/* OpenSSL's ticket callback: 1 sealed/opened, 2 opened and a fresh
 * ticket is to follow, 0 unknown key, -1 error. */
static int
ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	const struct ticket_key *k;
	int renew = 0;

	if (enc) {
		k = ticket_keys_seal(&tickets, mono_ms());
		memcpy(name, k->name, TICKET_NAME_LEN);
		random_bytes(iv, (size_t)EVP_CIPHER_get_iv_length(
		    ticket_cipher));
		if (EVP_EncryptInit_ex(cctx, ticket_cipher, NULL, k->aes, iv)
		    != 1 || ticket_mac_init(hctx, k) != 1)
			return -1;
		return 1;
	}
	if ((k = ticket_keys_open(&tickets, name, mono_ms(), &renew)) ==
	    NULL)
		return 0;		/* a full handshake instead */
	if (EVP_DecryptInit_ex(cctx, ticket_cipher, NULL, k->aes, iv) != 1 ||
	    ticket_mac_init(hctx, k) != 1)
		return -1;
	/* A TLS 1.3 client uses a ticket once (RFC 8446 C.4): it needs a
	 * new one after each resumption, or its next connection is a full
	 * handshake.  TLS 1.2 clients keep theirs until the key turns. */
	return renew || SSL_version(ssl) >= TLS1_3_VERSION ? 2 : 1;
}

/*
 * One ticket per full handshake (OpenSSL sends two by default; each
 * costs a session copy, its encoding, encryption and MAC, ~7% of a
 * one-message submission's CPU), valid for tls.ticket_lifetime.
 */
static int
tickets_setup(SSL_CTX *ctx, int64_t lifetime_ms, char *err, size_t errsz)
{
	if (lifetime_ms == 0) {
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ctx, 0);
		return 0;
	}
	if (lifetime_ms < 1000)
		lifetime_ms = 1000;	/* OpenSSL counts whole seconds */
	if (ticket_cipher == NULL &&
	    (ticket_cipher = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL)) ==
	    NULL) {
		ssl_err(err, errsz, "session tickets: AES-256-CBC");
		return -1;
	}
	ticket_keys_init(&tickets, lifetime_ms, mono_ms());
	SSL_CTX_set_timeout(ctx, (long)(lifetime_ms / 1000));
	SSL_CTX_set_num_tickets(ctx, 1);
	if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) != 1) {
		ssl_err(err, errsz, "session tickets");
		return -1;
	}
	return 0;
}

/* TLS 1.3 suites and key exchange groups, in our order of preference. */
static int
choices(SSL_CTX *ctx, const struct gw_config *cfg, char *err, size_t errsz)
{
	if (SSL_CTX_set_ciphersuites(ctx, cfg->tls.ciphersuites) != 1) {
		ssl_err(err, errsz, "tls.ciphersuites");
		return -1;
	}
	if (SSL_CTX_set1_groups_list(ctx, cfg->tls.groups) != 1) {
		ssl_err(err, errsz, "tls.groups");
		return -1;
	}
	return 0;
}

SSL_CTX *
tls_server_ctx(const struct gw_config *cfg, char *err, size_t errsz)
{
	SSL_CTX *ctx;
	struct stat st;

	if (cfg->tls.self_signed && stat(cfg->tls.certificate, &st) == -1 &&
	    errno == ENOENT && stat(cfg->tls.key, &st) == -1 &&
	    errno == ENOENT) {
		if (tls_make_self_signed(cfg->tls.certificate, cfg->tls.key,
		    cfg->hostname, err, errsz) == -1)
			return NULL;
		log_info("made a self-signed certificate for %s: %s",
		    cfg->hostname, cfg->tls.certificate);
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		ssl_err(err, errsz, "SSL_CTX_new");
		return NULL;
	}
	harden(ctx);
	if (SSL_CTX_set_cipher_list(ctx, cfg->tls.ciphers) != 1) {
		ssl_err(err, errsz, "tls.ciphers");
		goto fail;
	}
	if (choices(ctx, cfg, err, errsz) == -1)
		goto fail;
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls.certificate) != 1) {
		ssl_err(err, errsz, cfg->tls.certificate);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls.key, SSL_FILETYPE_PEM)
	    != 1) {
		ssl_err(err, errsz, cfg->tls.key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ssl_err(err, errsz, "tls.key does not match tls.certificate");
		goto fail;
	}
	/* Sessions resume through tickets; no server-side cache needed. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (tickets_setup(ctx, cfg->tls.ticket_lifetime_ms, err, errsz) == -1)
		goto fail;
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/*
 * One client context for every policy.  The CA store is always loaded,
 * because any routing rule may ask for "verify" whatever relay.tls says,
 * and because the outcome (verified or not, and why) is logged under
 * every policy.  The context itself never refuses a handshake over the
 * certificate: tls_client_prepare() sets that per connection.
 */
SSL_CTX *
tls_client_ctx(const struct gw_config *cfg, char *err, size_t errsz)
{
	const char *file = cfg->relay.ca_file, *dir = cfg->relay.ca_dir;
	SSL_CTX *ctx;
	int ok;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		ssl_err(err, errsz, "SSL_CTX_new");
		return NULL;
	}
	harden(ctx);
	if (choices(ctx, cfg, err, errsz) == -1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	ok = file || dir ? SSL_CTX_load_verify_locations(ctx, file, dir) :
	    SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		ssl_err(err, errsz, file ? file : dir ? dir :
		    "the system's CA certificates");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* DANE is then per connection (tls_client_dane()). */
	if (SSL_CTX_dane_enable(ctx) <= 0) {
		ssl_err(err, errsz, "SSL_CTX_dane_enable");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int
tls_client_prepare(SSL *ssl, const char *host, enum tls_policy policy)
{
	unsigned char a[16];
	char lit[256];
	size_t n = strlen(host);
	int ok;

	/* A smarthost may be an address, bare or in brackets. */
	if (host[0] == '[' && n > 2 && n - 2 < sizeof(lit) &&
	    host[n - 1] == ']') {
		memcpy(lit, host + 1, n - 2);
		lit[n - 2] = '\0';
	} else
		gw_strlcpy(lit, host, sizeof(lit));
	if (inet_pton(AF_INET, lit, a) == 1 || inet_pton(AF_INET6, lit, a) == 1)
		/* No SNI for an address (RFC 6066 3); match an IP SAN. */
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), lit);
	else {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		ok = SSL_set_tlsext_host_name(ssl, lit) == 1 &&
		    SSL_set1_host(ssl, lit) == 1;
	}
	if (ok != 1)
		return -1;
	/* verify: a certificate that does not verify ends the handshake
	 * (and mta_tls.c checks the result again before MAIL).  Otherwise
	 * the result is only recorded. */
	SSL_set_verify(ssl, policy == TLSP_VERIFY ? SSL_VERIFY_PEER :
	    SSL_VERIFY_NONE, NULL);
	return 0;
}

int
tls_client_dane(SSL *ssl, const char *host, const struct dns_tlsa *t, int n)
{
	int added = 0;

	if (SSL_set_tlsext_host_name(ssl, host) != 1 ||
	    SSL_dane_enable(ssl, host) <= 0)
		return -1;
	/* RFC 7672 3.1.1: a DANE-EE(3) match is the whole check. */
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	for (int i = 0; i < n; i++)
		if (SSL_dane_tlsa_add(ssl, t[i].usage, t[i].selector,
		    t[i].mtype, t[i].data, t[i].len) > 0)
			added++;
	ERR_clear_error();
	if (added > 0)
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	return added;
}

int
tls_client_dane_verified(SSL *ssl, char *how, size_t howsz)
{
	uint8_t usage, selector, mtype;
	const char *bad;

	if ((bad = tls_client_verify_error(ssl)) != NULL) {
		snprintf(how, howsz, "%s", bad);
		return 0;
	}
	if (SSL_get0_dane_tlsa(ssl, &usage, &selector, &mtype, NULL,
	    NULL) < 0) {
		snprintf(how, howsz, "no TLSA record matched");
		return 0;
	}
	snprintf(how, howsz, "TLSA %u %u %u matched", usage, selector, mtype);
	return 1;
}

const char *
tls_client_verify_error(const SSL *ssl)
{
	long r = SSL_get_verify_result(ssl);

	return r == X509_V_OK ? NULL : X509_verify_cert_error_string(r);
}

int
tls_client_verified(const SSL *ssl, const char **why)
{
	if (SSL_get0_peer_certificate(ssl) == NULL) {
		*why = "no server certificate";
		return 0;
	}
	if ((*why = tls_client_verify_error(ssl)) != NULL)
		return 0;
	return 1;
}
