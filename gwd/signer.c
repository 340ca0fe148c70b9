/*
 * signer.c - DKIM keys from gw.db and signing on the worker pool.
 *
 * A key set is replaced wholesale on reload.  A job takes its own
 * reference to each EVP_PKEY it uses, so a reload while a 25 MB message
 * is being hashed on a worker frees nothing the worker still needs.
 * Exposure: reads private keys from gw.db (written by gwctl) and hands
 * them to workers; never logs key material.
 * Diagnostics: dies only when memory runs out; signer_load() returns -1
 * and keeps the previous keys when gw.db cannot be read whole, a key
 * that does not load is skipped with a warning, and a job that cannot be
 * signed comes back failed with the reason (the session then refuses the
 * message).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "dkimkey.h"
#include "log.h"
#include "signer.h"
#include "util.h"

static struct dkim_key	*keys;		/* active keys, by domain */
static int		 nkeys;

void
signer_free(void)
{
	for (int i = 0; i < nkeys; i++)
		EVP_PKEY_free(keys[i].pkey);
	free(keys);
	keys = NULL;
	nkeys = 0;
}

int
signer_load(sqlite3 *db)
{
	sqlite3_stmt *st;
	struct dkim_key *k = NULL;
	int n = 0, rc;

	if (sqlite3_prepare_v2(db, "SELECT k.domain, k.selector, k.algorithm,"
	    " k.private_key, coalesce(d.canon, 'relaxed/relaxed')"
	    " FROM dkim_key k LEFT JOIN dkim_domain d ON d.domain = k.domain"
	    " WHERE k.state = 'active' ORDER BY k.domain, k.algorithm",
	    -1, &st, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *dom = (const char *)sqlite3_column_text(st, 0);
		const char *sel = (const char *)sqlite3_column_text(st, 1);
		const char *alg = (const char *)sqlite3_column_text(st, 2);
		const char *pem = (const char *)sqlite3_column_text(st, 3);
		const char *canon = (const char *)sqlite3_column_text(st, 4);
		const char *errstr;
		struct dkim_key *x;

		k = xreallocarray(k, (size_t)n + 1, sizeof(*k));
		x = &k[n];
		memset(x, 0, sizeof(*x));
		if (gw_strlcpy(x->domain, dom, sizeof(x->domain)) >=
		    sizeof(x->domain) || gw_strlcpy(x->selector, sel,
		    sizeof(x->selector)) >= sizeof(x->selector)) {
			log_warnx("dkim key %s/%s: name too long", dom, sel);
			continue;
		}
		x->alg = strcmp(alg, "ed25519-sha256") == 0 ?
		    DKIM_ED25519_SHA256 : DKIM_RSA_SHA256;
		if (dkim_parse_canon(canon, &x->hcanon, &x->bcanon) == -1) {
			x->hcanon = DKIM_RELAXED;
			x->bcanon = DKIM_RELAXED;
		}
		if ((x->pkey = dkimkey_from_pem(pem, strlen(pem), &errstr)) ==
		    NULL) {
			log_warnx("dkim key %s selector %s: %s; not signing "
			    "with it", dom, sel, errstr);
			continue;
		}
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		for (int i = 0; i < n; i++)
			EVP_PKEY_free(k[i].pkey);
		free(k);
		return -1;
	}
	signer_free();
	keys = k;
	nkeys = n;
	return n;
}

/* Copy the active keys of `domain` into the job; how many. */
static int
add_domain(struct sign_job *j, const char *domain)
{
	int added = 0;

	for (int i = 0; i < nkeys && j->nkeys < SIGNER_MAX_KEYS; i++) {
		if (strcmp(keys[i].domain, domain) != 0)
			continue;
		j->keys[j->nkeys] = keys[i];
		EVP_PKEY_up_ref(keys[i].pkey);
		j->nkeys++;
		added++;
	}
	return added;
}

struct sign_job *
signer_plan(const char *from_domain, const char *org_domain, char *why,
    size_t whysz)
{
	struct sign_job *j = xcalloc(1, sizeof(*j));
	const char *d = from_domain;
	const char *signed_as = NULL;

	/* The From: domain, or its nearest parent with a key: d= may be a
	 * parent and still align for DMARC (relaxed alignment). */
	while (d && *d) {
		if (add_domain(j, d) > 0) {
			signed_as = d;
			break;
		}
		d = strchr(d, '.');
		if (d)
			d++;
		if (d && strchr(d, '.') == NULL)
			break;		/* never a bare TLD */
	}
	if (org_domain && *org_domain &&
	    (signed_as == NULL || strcmp(org_domain, signed_as) != 0))
		add_domain(j, org_domain);
	if (j->nkeys == 0) {
		snprintf(why, whysz, "no active DKIM key for %s%s%s",
		    from_domain, org_domain && *org_domain ? " or " : "",
		    org_domain && *org_domain ? org_domain : "");
		free(j);
		return NULL;
	}
	return j;
}

void
signer_domain(const struct msg_info *mi, const char *sender, char *dom,
    size_t domsz)
{
	const char *at = mi->nfrom_addr > 0 ? strrchr(mi->from_addr[0], '@') :
	    strrchr(sender, '@');

	/* Keys are kept under A-labels (a U-label From: domain is signed
	 * as its A-label d=, RFC 6376 3.5 as updated by RFC 8616 4). */
	if (at == NULL || addr_domain_ascii(at + 1, dom, domsz) == -1)
		gw_strlcpy(dom, at ? at + 1 : "", domsz);
	for (char *p = dom; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

void
sign_job_free(struct sign_job *j)
{
	for (int i = 0; i < j->nkeys; i++)
		EVP_PKEY_free(j->keys[i].pkey);
	buf_free(&j->sigs);
	free(j);
}

static void
sign_work(struct work *w)
{
	struct sign_job *j = (struct sign_job *)w;
	const struct dkim_key *kp[SIGNER_MAX_KEYS];

	for (int i = 0; i < j->nkeys; i++)
		kp[i] = &j->keys[i];
	if (dkim_sign(kp, j->nkeys, j->msg, j->len, j->now, &j->sigs, j->err,
	    sizeof(j->err)) == -1)
		j->failed = 1;
}

static void
sign_done(struct work *w)
{
	struct sign_job *j = (struct sign_job *)w;
	size_t off = 0;

	for (int i = 0; i < j->nkeys; i++) {
		int n = snprintf(j->detail + off, sizeof(j->detail) - off,
		    "%sd=%s s=%s a=%s", i ? "; " : "", j->keys[i].domain,
		    j->keys[i].selector, dkim_alg_name(j->keys[i].alg));

		if (n < 0 || (size_t)n >= sizeof(j->detail) - off)
			break;
		off += (size_t)n;
	}
	j->done(j);
}

size_t
signer_prepend(const struct sign_job *j, char **msg, size_t *len)
{
	size_t n = buf_len(&j->sigs);
	char *body = xmalloc(n + *len);

	memcpy(body, buf_ptr(&j->sigs), n);
	memcpy(body + n, *msg, *len);
	free(*msg);
	*msg = body;
	*len += n;
	return n;
}

void
signer_run(struct sign_job *j, const char *msg, size_t len, int64_t now)
{
	j->msg = msg;
	j->len = len;
	j->now = now;
	buf_init(&j->sigs, 0);
	j->w.run = sign_work;
	j->w.done = sign_done;
	worker_submit(&j->w);
}
