/*
 * dkim.c - gwctl dkim ...: the DKIM keys of sending domains and their
 * rotation.
 *
 * A key's life: keygen or import make it `pending` and print its DNS
 * record; activate (once DNS serves that record) makes it `active`, so
 * gwd signs with it, and turns the active key of the same algorithm it
 * replaces into `retiring` (not signing, record still published while
 * mail signed with it is verified, 7-14 days); retire makes it
 * `retired` and prints the revocation record (empty p=), a retiring key
 * only once it has been so 7 days (--force: at once); delete forgets
 * a retired or pending key.  gwd signs with every active key of a
 * domain, at most one per algorithm.
 *
 * Security: private keys are written to gw.db (mode 0600, see db.c) as
 * PKCS#8 PEM and never read back or printed here; the SELECTs below do
 * not name the private_key column.
 * Every change is one IMMEDIATE transaction.  DNS is asked before it
 * begins, so no lock on gw.db is held across the network; the state is
 * then checked again inside the transaction.
 * Standards: RFC 6376 3.6 (key records), RFC 8301, RFC 8463.
 * Diagnostics: each command returns a sysexits status and says why on
 * stderr (69 when DNS cannot be asked); dies only when memory runs out
 * or on a broken invariant (a checked selector and domain too long for a
 * host name).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "dkimkey.h"
#include "dns_pkt.h"
#include "gwctl.h"
#include "log.h"
#include "output.h"
#include "util.h"

#define DKIM_HOST_MAX	(DKIMKEY_SELECTOR_MAX + 12 + ADDR_DOMAIN_MAX)
#define DKIM_COLS	"id, domain, selector, algorithm, bits, public_key, " \
			"state, created, activated, retiring, retired"

/* One dkim_key row, without its private key. */
struct dkim_row {
	int64_t		 id;
	char		*domain, *selector, *pub, *state;
	enum dkimkey_alg alg;
	int		 bits;		/* 0: Ed25519 */
	int64_t		 created, activated, retiring, retired; /* 0: never */
};

struct dkim_rows {
	struct dkim_row	*v;
	int		 n;
};

enum dkim_verdict { DKIM_MISSING, DKIM_DIFFERENT, DKIM_MATCHES };
static const char *const dkim_verdicts[] = { "missing", "different",
	"matches" };

/* The same, in `gwctl domain check`'s words. */
static const char *const dkim_words[] = { "missing", "wrong", "ok" };

static const char *const dkim_canons[] = { "relaxed/relaxed",
	"relaxed/simple", "simple/relaxed", "simple/simple" };

/* Lower-case, drop one trailing dot, check as a host name. */
int
dkim_domain_arg(const char *in, char *out)
{
	size_t n = strlen(in);
	char esc[128];

	if (n > 0 && n <= ADDR_DOMAIN_MAX + 1) {
		memcpy(out, in, n + 1);
		if (out[n - 1] == '.')
			out[n - 1] = '\0';
		str_lower(out);
		if (addr_valid_domain(out))
			return EX_OK;
	}
	log_warnx("\"%s\" is not a valid domain name",
	    log_escape(in, n, esc, sizeof(esc)));
	return EX_DATAERR;
}

static int
dkim_selector_arg(const char *in, char *out)
{
	size_t n = strlen(in);
	char esc[128];

	if (n <= DKIMKEY_SELECTOR_MAX) {
		memcpy(out, in, n + 1);
		str_lower(out);
		if (dkimkey_valid_selector(out))
			return EX_OK;
	}
	log_warnx("\"%s\" is not a valid selector (1 to %d characters: "
	    "letters, digits and '-', in labels separated by '.')",
	    log_escape(in, n, esc, sizeof(esc)), DKIMKEY_SELECTOR_MAX);
	return EX_DATAERR;
}

/* DOMAIN and SELECTOR, the first two arguments of most verbs. */
static int
dkim_names(const struct args *a, char *domain, char *selector)
{
	int r;

	if ((r = dkim_domain_arg(a->argv[0], domain)) != EX_OK)
		return r;
	return a->argc > 1 ? dkim_selector_arg(a->argv[1], selector) : EX_OK;
}

static void
dkim_host(const char *selector, const char *domain, char *out, size_t n)
{
	if (snprintf(out, n, "%s._domainkey.%s", selector, domain) >= (int)n)
		fatalx("DKIM host name too long");
}

static int64_t
dkim_col_time(sqlite3_stmt *st, int col)
{
	return sqlite3_column_type(st, col) == SQLITE_NULL ? 0 :
	    sqlite3_column_int64(st, col);
}

static const char *
dkim_col_text(sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);

	return s ? s : "";
}

static void
dkim_row_fill(sqlite3_stmt *st, struct dkim_row *k)
{
	memset(k, 0, sizeof(*k));
	k->id = sqlite3_column_int64(st, 0);
	k->domain = xstrdup(dkim_col_text(st, 1));
	k->selector = xstrdup(dkim_col_text(st, 2));
	if (dkimkey_alg_parse(dkim_col_text(st, 3), &k->alg) == -1)
		k->alg = DKIMKEY_RSA;	/* the schema's CHECK allows no other */
	k->bits = sqlite3_column_int(st, 4);
	k->pub = xstrdup(dkim_col_text(st, 5));
	k->state = xstrdup(dkim_col_text(st, 6));
	k->created = dkim_col_time(st, 7);
	k->activated = dkim_col_time(st, 8);
	k->retiring = dkim_col_time(st, 9);
	k->retired = dkim_col_time(st, 10);
}

static void
dkim_row_free(struct dkim_row *k)
{
	free(k->domain);
	free(k->selector);
	free(k->pub);
	free(k->state);
	memset(k, 0, sizeof(*k));
}

static void
dkim_rows_free(struct dkim_rows *rv)
{
	for (int i = 0; i < rv->n; i++)
		dkim_row_free(&rv->v[i]);
	free(rv->v);
	rv->v = NULL;
	rv->n = 0;
}

/* Every row st (selecting DKIM_COLS) returns; finalizes st. */
static int
dkim_rows_read(struct ctx *ctx, sqlite3_stmt *st, struct dkim_rows *rv)
{
	int rc;

	if (st == NULL)
		return EX_SOFTWARE;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rv->v = xreallocarray(rv->v, (size_t)rv->n + 1,
		    sizeof(*rv->v));
		dkim_row_fill(st, &rv->v[rv->n++]);
	}
	rc = rc == SQLITE_DONE ? EX_OK : ctx_sqlerr(ctx, "gw.db");
	sqlite3_finalize(st);
	return rc;
}

/* The key (domain, selector): EX_OK, or EX_NOUSER after saying so. */
static int
dkim_find(struct ctx *ctx, const char *domain, const char *selector,
    struct dkim_row *k)
{
	struct dkim_rows rv = { 0 };
	int r;

	if ((r = dkim_rows_read(ctx, ctx_stmt(ctx, "SELECT " DKIM_COLS
	    " FROM dkim_key WHERE domain = ? AND selector = ?", "tt", domain,
	    selector), &rv)) != EX_OK)
		return r;
	if (rv.n == 0) {
		log_warnx("%s has no DKIM key with selector \"%s\"", domain,
		    selector);
		return EX_NOUSER;
	}
	*k = rv.v[0];
	free(rv.v);
	return EX_OK;
}

/* Same key, same state: nothing changed it since we looked. */
static int
dkim_refind(struct ctx *ctx, const struct dkim_row *k)
{
	struct dkim_row now;
	int r, same;

	if ((r = dkim_find(ctx, k->domain, k->selector, &now)) != EX_OK)
		return r;
	same = now.id == k->id && strcmp(now.state, k->state) == 0;
	dkim_row_free(&now);
	if (same)
		return EX_OK;
	log_warnx("%s key %s changed meanwhile; try again", k->domain,
	    k->selector);
	return EX_TEMPFAIL;
}

static int
dkim_is_retired(const struct dkim_row *k)
{
	return strcmp(k->state, "retired") == 0;
}

/* Zone-file line, then host and value for web DNS panels. */
static void
dkim_print_record(const char *selector, const char *domain,
    enum dkimkey_alg alg, const char *pub, int zone_only)
{
	char host[DKIM_HOST_MAX + 1];
	struct buf b;

	buf_init(&b, 0);
	if (dkimkey_zone_line(&b, selector, domain, alg, pub) == -1)
		fatalx("output too long");
	fputs(buf_cstr(&b), stdout);
	if (!zone_only) {
		buf_reset(&b);
		if (dkimkey_txt(&b, alg, pub) == -1)
			fatalx("output too long");
		dkim_host(selector, domain, host, sizeof(host));
		printf("host: %s\nvalue: %s\n", host, buf_cstr(&b));
	}
	buf_free(&b);
}

/* The record a key should have in DNS: the key, or its revocation. */
static void
dkim_print_row_record(const struct dkim_row *k, int zone_only)
{
	dkim_print_record(k->selector, k->domain, k->alg,
	    dkim_is_retired(k) ? "" : k->pub, zone_only);
}

/* The selector of the domain's active key of `alg` into sel ("": none). */
static int
dkim_active_selector(struct ctx *ctx, const char *domain,
    enum dkimkey_alg alg, char *sel, size_t selsz)
{
	sqlite3_stmt *st;
	int rc;

	*sel = '\0';
	if ((st = ctx_stmt(ctx, "SELECT selector FROM dkim_key WHERE "
	    "domain = ? AND algorithm = ? AND state = 'active'", "tt", domain,
	    dkimkey_alg_name(alg))) == NULL)
		return EX_SOFTWARE;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		gw_strlcpy(sel, dkim_col_text(st, 0), selsz);
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? EX_OK :
	    ctx_sqlerr(ctx, "gw.db");
	sqlite3_finalize(st);
	return rc;
}

int
dkim_domain_active(struct ctx *ctx, const char *domain)
{
	sqlite3_stmt *st;
	int n = -1;

	if ((st = ctx_stmt(ctx, "SELECT count(*) FROM dkim_key WHERE "
	    "domain = ? AND state = 'active'", "t", domain)) == NULL)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static int
dkim_selector_taken(struct ctx *ctx, const char *domain, const char *sel,
    int *taken)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = ctx_stmt(ctx, "SELECT 1 FROM dkim_key WHERE domain = ? AND "
	    "selector = ?", "tt", domain, sel)) == NULL)
		return EX_SOFTWARE;
	rc = sqlite3_step(st);
	*taken = rc == SQLITE_ROW;
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? EX_OK :
	    ctx_sqlerr(ctx, "gw.db");
	sqlite3_finalize(st);
	return rc;
}

/*
 * The default selector: the UTC date and a letter for the algorithm,
 * "20261127r" (RSA) or "20261127e" (Ed25519); if the domain has it
 * already, "20261127r2", "20261127r3", ...
 */
static int
dkim_default_selector(struct ctx *ctx, const char *domain,
    enum dkimkey_alg alg, char *sel, size_t selsz)
{
	char date[16];
	time_t now = (time_t)ctx_now();
	struct tm tm;
	int r, taken;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y%m%d", &tm);
	for (int i = 1; i < 100; i++) {
		snprintf(sel, selsz, "%s%c", date, alg == DKIMKEY_RSA ? 'r' :
		    'e');
		if (i > 1)
			snprintf(sel + strlen(sel), selsz - strlen(sel), "%d",
			    i);
		if ((r = dkim_selector_taken(ctx, domain, sel, &taken)) !=
		    EX_OK || !taken)
			return r;
	}
	log_warnx("%s: no free selector for today; name one with "
	    "--selector", domain);
	return EX_DATAERR;
}

/* A new key to store, already checked. */
struct dkim_new {
	const char	*domain;
	char		 selector[DKIMKEY_SELECTOR_MAX + 1];	/* "": default */
	enum dkimkey_alg alg;
	int		 bits;
	int		 activate;
	char		*pem;		/* secret */
	char		*pub;
};

static int
dkim_insert(struct ctx *ctx, struct dkim_new *n)
{
	char cur[DKIMKEY_SELECTOR_MAX + 1];
	int64_t now = ctx_now();
	int r, taken;

	if (n->selector[0] == '\0')
		r = dkim_default_selector(ctx, n->domain, n->alg, n->selector,
		    sizeof(n->selector));
	else if ((r = dkim_selector_taken(ctx, n->domain, n->selector,
	    &taken)) == EX_OK && taken) {
		log_warnx("%s already has a DKIM key with selector \"%s\"",
		    n->domain, n->selector);
		r = EX_DATAERR;
	}
	if (r != EX_OK)
		return r;
	if (strlen(n->selector) + strlen("._domainkey.") + strlen(n->domain) >
	    253) {
		log_warnx("%s._domainkey.%s is longer than a DNS name can be",
		    n->selector, n->domain);
		return EX_DATAERR;
	}
	if (n->activate && (r = dkim_active_selector(ctx, n->domain, n->alg,
	    cur, sizeof(cur))) == EX_OK && cur[0] != '\0') {
		log_warnx("not stored: %s already signs with %s key \"%s\"; "
		    "--activate is only for a domain's first key.  Without it "
		    "the new key stays pending: publish its record, then run "
		    "gwctl dkim activate", n->domain, dkimkey_alg_name(n->alg),
		    cur);
		return EX_DATAERR;
	}
	if (r != EX_OK)
		return r;
	/* NULLIF: bits is NULL for Ed25519, activated NULL until active. */
	if ((r = ctx_exec(ctx, NULL, "INSERT INTO dkim_key (domain, selector, "
	    "algorithm, bits, private_key, public_key, state, created, "
	    "activated) VALUES (?, ?, ?, NULLIF(?, 0), ?, ?, ?, ?, "
	    "NULLIF(?, 0))", "tttitttii", n->domain, n->selector,
	    dkimkey_alg_name(n->alg), (int64_t)n->bits, n->pem, n->pub,
	    n->activate ? "active" : "pending", now,
	    n->activate ? now : (int64_t)0)) != EX_OK)
		return r;
	return ctx_exec(ctx, NULL, "INSERT OR IGNORE INTO dkim_domain "
	    "(domain) VALUES (?)", "t", n->domain);
}

/* Store key k for n->domain in one transaction and print its record. */
static int
dkim_store(struct ctx *ctx, struct dkim_new *n, EVP_PKEY *k)
{
	const char *errstr;
	int r;

	if (dkimkey_classify(k, &n->alg, &n->bits, &errstr) == -1) {
		log_warnx("%s", errstr);
		return EX_DATAERR;
	}
	n->pem = dkimkey_private_pem(k);
	n->pub = dkimkey_public(k);
	if (n->pem == NULL || n->pub == NULL) {
		log_warnx("cannot encode the key");
		r = EX_SOFTWARE;
	} else if ((r = ctx_begin(ctx)) == EX_OK) {
		if ((r = dkim_insert(ctx, n)) == EX_OK)
			r = ctx_commit(ctx);
		else
			ctx_rollback(ctx);
	}
	dkimkey_free_secret(n->pem);
	n->pem = NULL;
	if (r == EX_OK) {
		dkim_print_record(n->selector, n->domain, n->alg, n->pub, 0);
		if (n->activate)
			log_info("%s: %s key \"%s\" is active: publish the "
			    "record above now", n->domain,
			    dkimkey_alg_name(n->alg), n->selector);
		else
			log_info("%s: %s key \"%s\" is pending; publish the "
			    "record above, then: gwctl dkim activate %s %s",
			    n->domain, dkimkey_alg_name(n->alg), n->selector,
			    n->domain, n->selector);
	}
	free(n->pub);
	return r;
}

static int
dkim_bits_arg(const struct cmd *c, const char *s, int *bits)
{
	const char *errstr;
	int64_t v;

	if (parse_int(s, 0, 65536, &v) == -1)
		return cmd_usage_error(c, "--bits: expected 2048, 3072 or "
		    "4096");
	*bits = (int)v;
	if (dkimkey_check_bits(*bits, &errstr) == -1) {
		log_warnx("--bits %d: %s", *bits, errstr);
		return EX_DATAERR;
	}
	return EX_OK;
}

int
dkim_keygen(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	char domain[ADDR_DOMAIN_MAX + 2];
	struct dkim_new n = { .domain = domain, .alg = DKIMKEY_RSA,
	    .bits = DKIMKEY_RSA_DEFAULT_BITS, .activate = args_has(a,
	    "--activate") };
	const char *s, *errstr;
	EVP_PKEY *k;
	int r;

	if ((r = dkim_domain_arg(a->argv[0], domain)) != EX_OK)
		return r;
	if ((s = args_get(a, "--selector")) != NULL &&
	    (r = dkim_selector_arg(s, n.selector)) != EX_OK)
		return r;
	if ((s = args_get(a, "--algorithm")) != NULL &&
	    dkimkey_alg_parse(s, &n.alg) == -1)
		return cmd_usage_error(c, "--algorithm: expected rsa or "
		    "ed25519");
	if ((s = args_get(a, "--bits")) != NULL) {
		if (n.alg == DKIMKEY_ED25519)
			return cmd_usage_error(c, "--bits: Ed25519 keys have "
			    "one size; leave --bits out");
		if ((r = dkim_bits_arg(c, s, &n.bits)) != EX_OK)
			return r;
	}
	if ((r = ctx_db(ctx)) != EX_OK)
		return r;
	if ((k = dkimkey_generate(n.alg, n.bits, &errstr)) == NULL) {
		log_warnx("%s", errstr);
		return EX_SOFTWARE;
	}
	r = dkim_store(ctx, &n, k);
	EVP_PKEY_free(k);
	return r;
}

/* The key file (or standard input for "-"), read in full. */
static int
dkim_read_keyfile(const char *path, char *out, size_t outsz, size_t *len)
{
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	int r = EX_OK;

	if (fp == NULL) {
		log_warn("%s", path);
		return EX_NOINPUT;
	}
	*len = fread(out, 1, outsz, fp);
	if (ferror(fp)) {
		log_warn("%s", path);
		r = EX_IOERR;
	} else if (*len == outsz) {
		log_warnx("%s: larger than a private key can be", path);
		r = EX_DATAERR;
	}
	if (fp != stdin)
		fclose(fp);
	return r;
}

int
dkim_import(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	char domain[ADDR_DOMAIN_MAX + 2], *pem;
	struct dkim_new n = { .domain = domain, .activate = args_has(a,
	    "--activate") };
	const char *errstr;
	EVP_PKEY *k = NULL;
	size_t len = 0;
	int r;

	if ((r = dkim_names(a, domain, n.selector)) != EX_OK)
		return r;
	/* Read before ctx_db() drops privileges: the file is root's. */
	pem = xmalloc(DKIMKEY_PEM_MAX + 1);
	if ((r = dkim_read_keyfile(a->argv[2], pem, DKIMKEY_PEM_MAX + 1,
	    &len)) == EX_OK && (k = dkimkey_from_pem(pem, len, &errstr)) ==
	    NULL) {
		log_warnx("%s: %s", a->argv[2], errstr);
		r = EX_DATAERR;
	}
	OPENSSL_cleanse(pem, DKIMKEY_PEM_MAX + 1);
	free(pem);
	if (r == EX_OK && (r = ctx_db(ctx)) == EX_OK)
		r = dkim_store(ctx, &n, k);
	EVP_PKEY_free(k);
	return r;
}

/* A key's lifecycle times, in the order of stamp_names; 0 = not yet. */
#define NSTAMPS	4
static const char *const stamp_names[NSTAMPS] = { "created", "activated",
    "retiring", "retired" };

static void
dkim_stamps(const struct dkim_row *k, int64_t out[NSTAMPS])
{
	out[0] = k->created;
	out[1] = k->activated;
	out[2] = k->retiring;
	out[3] = k->retired;
}

static void
dkim_print_json(const struct dkim_row *k)
{
	int64_t times[NSTAMPS];
	struct json_obj o;
	struct buf b;
	char t[32];

	dkim_stamps(k, times);
	buf_init(&b, 0);
	json_obj_begin(&o, &b);
	json_obj_str(&o, "domain", k->domain);
	json_obj_str(&o, "selector", k->selector);
	json_obj_str(&o, "algorithm", dkimkey_alg_name(k->alg));
	if (k->bits)
		json_obj_int(&o, "bits", k->bits);
	else
		json_obj_null(&o, "bits");
	json_obj_str(&o, "state", k->state);
	for (size_t i = 0; i < NSTAMPS; i++) {
		output_time(times[i], t, sizeof(t));
		if (times[i])
			json_obj_str(&o, stamp_names[i], t);
		else
			json_obj_null(&o, stamp_names[i]);
	}
	if (json_obj_end(&o) == -1)
		fatalx("output too long");
	printf("%s\n", buf_cstr(&b));
	buf_free(&b);
}

static void
dkim_table_row(struct output_table *t, const struct dkim_row *k)
{
	char bits[16] = "", t1[32], t2[32] = "";

	if (k->bits)
		snprintf(bits, sizeof(bits), "%d", k->bits);
	output_time(k->created, t1, sizeof(t1));
	if (k->activated)
		output_time(k->activated, t2, sizeof(t2));
	output_table_row(t, k->domain, k->selector, dkimkey_alg_name(k->alg),
	    bits, k->state, t1, t2);
}

int
dkim_list(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	char domain[ADDR_DOMAIN_MAX + 2];
	struct dkim_rows rv = { 0 };
	struct output_table t;
	int r, json;

	if ((r = output_format(c, a, &json)) != EX_OK ||
	    (a->argc && (r = dkim_domain_arg(a->argv[0], domain)) != EX_OK) ||
	    (r = ctx_db(ctx)) != EX_OK)
		return r;
	if ((r = dkim_rows_read(ctx, ctx_stmt(ctx, "SELECT " DKIM_COLS
	    " FROM dkim_key WHERE ?1 IS NULL OR domain = ?1 "
	    "ORDER BY domain, created, selector", "t",
	    a->argc ? domain : NULL), &rv)) != EX_OK)
		return r;
	output_table_init(&t, 7, "DOMAIN", "SELECTOR", "ALGORITHM", "BITS",
	    "STATE", "CREATED", "ACTIVATED");
	for (int i = 0; i < rv.n; i++) {
		if (json)
			dkim_print_json(&rv.v[i]);
		else
			dkim_table_row(&t, &rv.v[i]);
	}
	if (!json)
		output_table_print(&t, stdout);
	output_table_free(&t);
	dkim_rows_free(&rv);
	return EX_OK;
}

/* The domain's keys, oldest first; EX_NOUSER when it has none. */
static int
dkim_domain_keys(struct ctx *ctx, const char *domain, struct dkim_rows *rv)
{
	int r;

	if ((r = dkim_rows_read(ctx, ctx_stmt(ctx, "SELECT " DKIM_COLS
	    " FROM dkim_key WHERE domain = ? ORDER BY created, selector", "t",
	    domain), rv)) != EX_OK)
		return r;
	if (rv->n == 0) {
		log_warnx("%s has no DKIM keys", domain);
		return EX_NOUSER;
	}
	return EX_OK;
}

/* The canonicalization gwd uses for the domain (the schema default if
 * it was never set). */
static int
dkim_get_canon(struct ctx *ctx, const char *domain, char *out, size_t n)
{
	sqlite3_stmt *st;
	int rc;

	gw_strlcpy(out, dkim_canons[0], n);
	if ((st = ctx_stmt(ctx, "SELECT canon FROM dkim_domain WHERE "
	    "domain = ?", "t", domain)) == NULL)
		return EX_SOFTWARE;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		gw_strlcpy(out, dkim_col_text(st, 0), n);
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? EX_OK :
	    ctx_sqlerr(ctx, "gw.db");
	sqlite3_finalize(st);
	return rc;
}

static int
dkim_org_users(struct ctx *ctx, const char *domain, struct output_strv *v)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = ctx_stmt(ctx, "SELECT name FROM subaccount WHERE "
	    "dkim_org_domain = ? ORDER BY name", "t", domain)) == NULL)
		return EX_SOFTWARE;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		output_strv_add(v, dkim_col_text(st, 0));
	rc = rc == SQLITE_DONE ? EX_OK : ctx_sqlerr(ctx, "gw.db");
	sqlite3_finalize(st);
	return rc;
}

static void
dkim_show_key(const struct dkim_row *k)
{
	int64_t times[NSTAMPS];
	char t[32];

	dkim_stamps(k, times);
	printf("\nselector: %s\nalgorithm: %s\n", k->selector,
	    dkimkey_alg_name(k->alg));
	if (k->bits)
		printf("bits: %d\n", k->bits);
	printf("state: %s\n", k->state);
	for (size_t i = 0; i < NSTAMPS; i++)
		if (times[i]) {
			output_time(times[i], t, sizeof(t));
			printf("%s: %s\n", stamp_names[i], t);
		}
	dkim_print_row_record(k, 0);
}

int
dkim_show(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	char domain[ADDR_DOMAIN_MAX + 2], canon[32];
	struct output_strv users = { 0 };
	struct dkim_rows rv = { 0 };
	struct buf b;
	int r;

	if ((r = dkim_domain_arg(a->argv[0], domain)) != EX_OK ||
	    (r = ctx_db(ctx)) != EX_OK)
		return r;
	if ((r = dkim_domain_keys(ctx, domain, &rv)) == EX_OK &&
	    (r = dkim_get_canon(ctx, domain, canon, sizeof(canon))) == EX_OK &&
	    (r = dkim_org_users(ctx, domain, &users)) == EX_OK) {
		printf("domain: %s\ncanon: %s\n", domain, canon);
		if (users.n) {
			buf_init(&b, 0);
			output_strv_join(&users, &b);
			printf("second signature for: %s\n", buf_cstr(&b));
			buf_free(&b);
		}
		for (int i = 0; i < rv.n; i++)
			dkim_show_key(&rv.v[i]);
	}
	output_strv_free(&users);
	dkim_rows_free(&rv);
	return r;
}

int
dkim_dns(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	char domain[ADDR_DOMAIN_MAX + 2];
	struct dkim_rows rv = { 0 };
	int r;

	if ((r = dkim_domain_arg(a->argv[0], domain)) != EX_OK ||
	    (r = ctx_db(ctx)) != EX_OK)
		return r;
	if ((r = dkim_domain_keys(ctx, domain, &rv)) == EX_OK)
		for (int i = 0; i < rv.n; i++) {
			printf("; %s %s %s%s\n", rv.v[i].selector,
			    dkimkey_alg_name(rv.v[i].alg), rv.v[i].state,
			    dkim_is_retired(&rv.v[i]) ? " (revoked)" : "");
			dkim_print_row_record(&rv.v[i], 1);
		}
	dkim_rows_free(&rv);
	return r;
}

/*
 * What DNS publishes for key k, compared with what it should: the key
 * (the revocation for a retired key).  EX_OK with *v and a reason in
 * why ("" when none); EX_UNAVAILABLE or EX_CONFIG when DNS could not be
 * asked.
 */
static int
dkim_lookup(struct ctx *ctx, const struct dkim_row *k,
    enum dkim_verdict *v, char *why, size_t whysz)
{
	const char *want = dkim_is_retired(k) ? "" : k->pub;
	char host[DKIM_HOST_MAX + 1], esc[64];
	struct dkimkey_record rec;
	struct dns_answer *ans;
	int r, nkey = 0, match = 0;

	dkim_host(k->selector, k->domain, host, sizeof(host));
	ans = xcalloc(1, sizeof(*ans));
	if ((r = resolver_query(ctx, host, DNS_T_TXT, ans)) != EX_OK) {
		free(ans);
		return r;
	}
	*why = '\0';
	for (int i = 0; i < ans->ntxt; i++) {
		if (dkimkey_parse_record(ans->txt[i], &rec) == -1)
			continue;
		nkey++;
		if (strcmp(rec.k, dkimkey_alg_k(k->alg)) != 0)
			snprintf(why, whysz, "k=%s, expected k=%s",
			    log_escape(rec.k, strlen(rec.k), esc, sizeof(esc)),
			    dkimkey_alg_k(k->alg));
		else if (strcmp(rec.p, want) == 0)
			match = 1;
		else
			snprintf(why, whysz, "%s", *rec.p == '\0' ?
			    "p= is empty: the key is revoked" : *want == '\0' ?
			    "p= still holds a key" : "p= holds another key");
	}
	if (nkey == 0) {
		*v = DKIM_MISSING;
		snprintf(why, whysz, "%s", ans->rcode == DNS_RCODE_NXDOMAIN ?
		    "no such name" : ans->ntxt ? "no DKIM key record among the "
		    "TXT records" : "no TXT record");
	} else if (nkey > 1) {
		*v = DKIM_DIFFERENT;
		snprintf(why, whysz, "%d DKIM key records; verifiers may use "
		    "any one", nkey);
	} else
		*v = match ? DKIM_MATCHES : DKIM_DIFFERENT;
	free(ans);
	return EX_OK;
}

/*
 * Check domain's keys with DNS, one line each ("PREFIXHOST: verdict
 * (why)"), and with publish only the active keys, in domain check's
 * words (ok, wrong, missing) and the record to publish under a line
 * that is not ok.  Without a selector, retired keys are left out: their
 * records may be gone, as they should be in the end.  EX_OK with *nkeys
 * and *bad (keys that do not match), or what DNS or gw.db failed with.
 */
int
dkim_check_keys(struct ctx *ctx, const char *domain, const char *selp,
    const char *prefix, int publish, int *nkeys, int *bad)
{
	char host[DKIM_HOST_MAX + 1], why[128];
	struct dkim_rows rv = { 0 };
	enum dkim_verdict v;
	int r;

	*nkeys = *bad = 0;
	if ((r = dkim_rows_read(ctx, ctx_stmt(ctx, "SELECT " DKIM_COLS
	    " FROM dkim_key WHERE domain = ?1 AND (?2 IS NULL AND "
	    "state != 'retired' OR selector = ?2) AND (?3 = 0 OR "
	    "state = 'active') ORDER BY created, selector", "tti", domain,
	    selp, (int64_t)publish), &rv)) != EX_OK)
		return r;
	*nkeys = rv.n;
	for (int i = 0; i < rv.n && r == EX_OK; i++) {
		if ((r = dkim_lookup(ctx, &rv.v[i], &v, why, sizeof(why))) !=
		    EX_OK)
			break;
		dkim_host(rv.v[i].selector, domain, host, sizeof(host));
		printf("%s%s: %s%s%s%s\n", prefix, host, publish ?
		    dkim_words[v] : dkim_verdicts[v],
		    *why ? " (" : "", why, *why ? ")" : "");
		*bad += v != DKIM_MATCHES;
		if (publish && v != DKIM_MATCHES) {
			fputs("  publish: ", stdout);
			dkim_print_row_record(&rv.v[i], 1);
		}
	}
	dkim_rows_free(&rv);
	return r;
}

/* Exit status 0 when every key checked matches, 1 when one does not. */
int
dkim_check(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	char domain[ADDR_DOMAIN_MAX + 2], sel[DKIMKEY_SELECTOR_MAX + 1];
	const char *selp = a->argc > 1 ? sel : NULL;
	int r, n, bad;

	if ((r = dkim_names(a, domain, sel)) != EX_OK ||
	    (r = ctx_db(ctx)) != EX_OK)
		return r;
	if ((r = dkim_check_keys(ctx, domain, selp, "", 0, &n, &bad)) !=
	    EX_OK)
		return r;
	if (n == 0) {
		if (selp)
			log_warnx("%s has no DKIM key with selector \"%s\"",
			    domain, sel);
		else
			log_warnx("%s has no DKIM keys to check", domain);
		return EX_NOUSER;
	}
	return bad ? 1 : EX_OK;
}

/* Refuse to activate k until DNS serves its record. */
static int
dkim_activate_check(struct ctx *ctx, const struct dkim_row *k)
{
	char host[DKIM_HOST_MAX + 1], why[128];
	enum dkim_verdict v;
	int r;

	if ((r = dkim_lookup(ctx, k, &v, why, sizeof(why))) != EX_OK) {
		log_warnx("not activated: DNS could not be asked; --force "
		    "activates without checking");
		return r;
	}
	if (v == DKIM_MATCHES)
		return EX_OK;
	dkim_host(k->selector, k->domain, host, sizeof(host));
	log_warnx("not activated: the record of %s is %s%s%s%s; publish it "
	    "(gwctl dkim dns %s) and wait until DNS serves it, or use --force",
	    host, dkim_verdicts[v], *why ? " (" : "", why, *why ? ")" : "",
	    k->domain);
	return EX_DATAERR;
}

static int
dkim_activate_tx(struct ctx *ctx, const struct dkim_row *k,
    struct output_strv *old)
{
	int64_t now = ctx_now();
	sqlite3_stmt *st;
	int r, rc;

	if ((r = dkim_refind(ctx, k)) != EX_OK)
		return r;
	if ((st = ctx_stmt(ctx, "SELECT selector FROM dkim_key WHERE "
	    "domain = ? AND algorithm = ? AND state = 'active' AND id != ?",
	    "tti", k->domain, dkimkey_alg_name(k->alg), k->id)) == NULL)
		return EX_SOFTWARE;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		output_strv_add(old, dkim_col_text(st, 0));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return ctx_sqlerr(ctx, "gw.db");
	if ((r = ctx_exec(ctx, NULL, "UPDATE dkim_key SET state = 'retiring', "
	    "retiring = ? WHERE domain = ? AND algorithm = ? AND "
	    "state = 'active' AND id != ?", "itti", now, k->domain,
	    dkimkey_alg_name(k->alg), k->id)) != EX_OK ||
	    (r = ctx_exec(ctx, NULL, "UPDATE dkim_key SET state = 'active', "
	    "activated = ?, retiring = NULL WHERE id = ?", "ii", now,
	    k->id)) != EX_OK)
		return r;
	return ctx_exec(ctx, NULL, "INSERT OR IGNORE INTO dkim_domain "
	    "(domain) VALUES (?)", "t", k->domain);
}

int
dkim_activate(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	char domain[ADDR_DOMAIN_MAX + 2], sel[DKIMKEY_SELECTOR_MAX + 1];
	struct output_strv old = { 0 };
	struct dkim_row k;
	int r;

	if ((r = dkim_names(a, domain, sel)) != EX_OK ||
	    (r = ctx_db(ctx)) != EX_OK ||
	    (r = dkim_find(ctx, domain, sel, &k)) != EX_OK)
		return r;
	if (strcmp(k.state, "active") == 0)
		log_info("%s key %s is active already", domain, sel);
	else if (dkim_is_retired(&k)) {
		log_warnx("%s key %s is retired and its record revoked; make a "
		    "new key (gwctl dkim keygen %s)", domain, sel, domain);
		r = EX_DATAERR;
	} else if ((args_has(a, "--force") ||
	    (r = dkim_activate_check(ctx, &k)) == EX_OK) &&
	    (r = ctx_begin(ctx)) == EX_OK) {
		if ((r = dkim_activate_tx(ctx, &k, &old)) == EX_OK)
			r = ctx_commit(ctx);
		else
			ctx_rollback(ctx);
	}
	if (r == EX_OK && strcmp(k.state, "active") != 0) {
		printf("%s %s: active\n", domain, sel);
		for (int i = 0; i < old.n; i++) {
			printf("%s %s: retiring\n", domain, old.v[i]);
			log_info("keep the record of %s key %s published for "
			    "7 to 14 days, then: gwctl dkim retire %s %s",
			    domain, old.v[i], domain, old.v[i]);
		}
	}
	output_strv_free(&old);
	dkim_row_free(&k);
	return r;
}

static int
dkim_retire_tx(struct ctx *ctx, const struct dkim_row *k)
{
	int r;

	if ((r = dkim_refind(ctx, k)) != EX_OK)
		return r;
	return ctx_exec(ctx, NULL, "UPDATE dkim_key SET state = 'retired', "
	    "retired = ? WHERE id = ?", "ii", ctx_now(), k->id);
}

/*
 * A key that stopped signing less than DKIM_KEEP_DAYS ago: mail it
 * signed is still in queues and mailboxes, verified against its record.
 * Said with when it turned retiring and when it may go; 1 if so.
 */
#define DKIM_KEEP_DAYS	7

static int
dkim_too_soon(const struct dkim_row *k)
{
	int64_t keep = DKIM_KEEP_DAYS * 86400, since;
	char at[32], until[32];

	if (strcmp(k->state, "retiring") != 0 || k->retiring == 0 ||
	    (since = ctx_now() - k->retiring) >= keep)
		return 0;
	output_time(k->retiring, at, sizeof(at));
	output_time(k->retiring + keep, until, sizeof(until));
	log_warnx("%s key %s turned retiring %lldd%02lldh ago (%s): mail it "
	    "signed may still be checked against its record, which DKIM "
	    "wants kept %d to 14 days.  Retire it after %s, or use --force "
	    "to revoke it now", k->domain, k->selector,
	    (long long)(since / 86400), (long long)(since % 86400 / 3600), at,
	    DKIM_KEEP_DAYS, until);
	return 1;
}

int
dkim_retire(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	char domain[ADDR_DOMAIN_MAX + 2], sel[DKIMKEY_SELECTOR_MAX + 1];
	struct dkim_row k;
	int r, was_active;

	if ((r = dkim_names(a, domain, sel)) != EX_OK ||
	    (r = ctx_db(ctx)) != EX_OK ||
	    (r = dkim_find(ctx, domain, sel, &k)) != EX_OK)
		return r;
	was_active = strcmp(k.state, "active") == 0;
	if (dkim_is_retired(&k))
		log_info("%s key %s is retired already", domain, sel);
	else if (was_active && !args_has(a, "--force")) {
		log_warnx("%s key %s is active: gwd signs with it.  Activate "
		    "its successor first (this key then becomes retiring), or "
		    "use --force to stop signing with it now", domain, sel);
		r = EX_DATAERR;
	} else if (!args_has(a, "--force") && dkim_too_soon(&k))
		r = EX_DATAERR;
	else if ((r = ctx_begin(ctx)) == EX_OK) {
		if ((r = dkim_retire_tx(ctx, &k)) == EX_OK)
			r = ctx_commit(ctx);
		else
			ctx_rollback(ctx);
	}
	if (r == EX_OK) {
		dkim_print_record(k.selector, k.domain, k.alg, "", 0);
		log_info("publish this revocation record in place of the key");
		if (was_active)
			log_info("%s has no active %s key now", domain,
			    dkimkey_alg_name(k.alg));
	}
	dkim_row_free(&k);
	return r;
}

int
dkim_delete(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	char domain[ADDR_DOMAIN_MAX + 2], sel[DKIMKEY_SELECTOR_MAX + 1];
	struct dkim_row k;
	int r;

	if ((r = dkim_names(a, domain, sel)) != EX_OK ||
	    (r = ctx_db(ctx)) != EX_OK ||
	    (r = dkim_find(ctx, domain, sel, &k)) != EX_OK)
		return r;
	if (strcmp(k.state, "retired") != 0 && strcmp(k.state, "pending") !=
	    0) {
		log_warnx("%s key %s is %s; only retired or pending keys can "
		    "be deleted (gwctl dkim retire %s %s first)", domain, sel,
		    k.state, domain, sel);
		r = EX_DATAERR;
	} else if ((r = ctx_begin(ctx)) == EX_OK) {
		if ((r = dkim_refind(ctx, &k)) == EX_OK &&
		    (r = ctx_exec(ctx, NULL, "DELETE FROM dkim_key WHERE "
		    "id = ?", "i", k.id)) == EX_OK)
			r = ctx_commit(ctx);
		else
			ctx_rollback(ctx);
	}
	dkim_row_free(&k);
	return r;
}

int
dkim_canon(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	char domain[ADDR_DOMAIN_MAX + 2], canon[32];
	size_t i;
	int r;

	if ((r = dkim_domain_arg(a->argv[0], domain)) != EX_OK)
		return r;
	if (a->argc == 1) {
		if ((r = ctx_db(ctx)) == EX_OK &&
		    (r = dkim_get_canon(ctx, domain, canon, sizeof(canon))) ==
		    EX_OK)
			printf("%s\n", canon);
		return r;
	}
	for (i = 0; i < nitems(dkim_canons); i++)
		if (strcmp(a->argv[1], dkim_canons[i]) == 0)
			break;
	if (i == nitems(dkim_canons))
		return cmd_usage_error(c, "expected relaxed/relaxed, "
		    "relaxed/simple, simple/relaxed or simple/simple "
		    "(header/body)");
	if ((r = ctx_db(ctx)) != EX_OK || (r = ctx_begin(ctx)) != EX_OK)
		return r;
	if ((r = ctx_exec(ctx, NULL, "INSERT INTO dkim_domain (domain, canon) "
	    "VALUES (?, ?) ON CONFLICT (domain) DO UPDATE SET "
	    "canon = excluded.canon", "tt", domain, dkim_canons[i])) != EX_OK) {
		ctx_rollback(ctx);
		return r;
	}
	return ctx_commit(ctx);
}

int
dkim_domains(struct ctx *ctx, void (*add)(void *, const char *), void *arg)
{
	return ctx_words(ctx, "SELECT DISTINCT domain FROM dkim_key ORDER BY "
	    "domain", add, arg);
}
