/*
 * signer.c - which keys sign a message, and signing it: a worker
 * prepares (or the content scan's thread, signer_prepare()), the key
 * process signs (its client is signer_kp.c).
 *
 * The network process holds the names of the active keys, never a
 * private key: gw.db's dkim_key table is read by the key process only
 * (even the SQLite pages holding its rows never enter this process).
 * The key list is replaced wholesale on reload; a job copies the names
 * it uses.
 * Exposure: none from the network; the message is hashed on a worker
 * (dkim.c).  Never logs key material (it has none).
 * Diagnostics: dies only when memory runs out; a job that cannot be
 * prepared or signed comes back failed with the reason in its err.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkimkey.h"
#include "signer_priv.h"
#include "util.h"

static struct dkim_key	*keys;		/* active keys, by domain */
static int		 nkeys;

void
signer_free(void)
{
	free(keys);
	keys = NULL;
	nkeys = 0;
}

/* The active keys, as the key process named them (signer_load()). */
void
signer_set_keys(struct dkim_key *k, int n)
{
	signer_free();
	keys = k;
	nkeys = n;
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
	buf_free(&j->sigs);
	free(j);
}

static void
sign_work(struct work *w)
{
	struct sign_job *j = (struct sign_job *)w;
	const struct dkim_key *kp_[SIGNER_MAX_KEYS];

	for (int i = 0; i < j->nkeys; i++)
		kp_[i] = &j->keys[i];
	if (dkim_prepare(kp_, j->nkeys, j->msg, j->len, j->now, j->parts,
	    j->err, sizeof(j->err)) == -1)
		j->failed = 1;
}

/* The job is signed, or failed: free its parts, say what was signed,
 * and hand it back. */
void
signer_finish(struct sign_job *j)
{
	size_t off = 0;

	for (int i = 0; i < j->nkeys; i++)
		dkim_part_free(&j->parts[i]);
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

/* Prepared on the worker: to the key process. */
static void
sign_done(struct work *w)
{
	struct sign_job *j = (struct sign_job *)w;

	if (j->failed)
		signer_finish(j);
	else
		signer_kp_send(j);
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

static void
sign_setup(struct sign_job *j, const char *msg, size_t len, int64_t now)
{
	j->msg = msg;
	j->len = len;
	j->now = now;
	buf_init(&j->sigs, 0);
	j->w.run = sign_work;
	j->w.done = sign_done;
}

void
signer_run(struct sign_job *j, const char *msg, size_t len, int64_t now)
{
	sign_setup(j, msg, len, now);
	worker_submit(&j->w);
}

void
signer_prepare(struct sign_job *j, const char *msg, size_t len, int64_t now)
{
	sign_setup(j, msg, len, now);
	sign_work(&j->w);
}

void
signer_send(struct sign_job *j)
{
	sign_done(&j->w);
}
