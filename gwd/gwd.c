/*
 * gwd.c - what gwd's modules share (gwd.h): the configuration and the
 * TLS contexts, which main.c sets (and, for gcfg, replaces on SIGHUP),
 * and the queued message as the main thread holds it, made and freed
 * here for the store's recovery, the session and the scheduler alike,
 * with the pool of the strings its recipients share (common/intern.c).
 * Exposure: none.
 * Diagnostics: dies only when memory for a message runs out (xcalloc).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gwd.h"
#include "intern.h"
#include "util.h"

struct gw_config	*_Atomic gcfg;
SSL_CTX			*server_tls;
SSL_CTX			*client_tls;
/* Domains, senders, subaccounts, replies: held once (struct qrcpt). */
static struct intern	 pool;

void
qid_make(char out[QID_LEN + 1])
{
	static uint64_t last;
	uint64_t v = (uint64_t)now_us() << 8;

	/* Strictly increasing within the process, ordered by time. */
	if (v <= last)
		v = last + 1;
	last = v;
	snprintf(out, QID_LEN + 1, "%016llX", (unsigned long long)v);
}

struct qmsg *
qmsg_new(const char *sender, const char *subaccount, int nrcpt)
{
	struct qmsg *m = xcalloc(1, sizeof(*m) +
	    (size_t)nrcpt * sizeof(m->rcpt[0]));

	m->sender = intern_get(&pool, sender ? sender : "");
	m->subaccount = intern_get(&pool, subaccount ? subaccount : "");
	m->nrcpt = m->npending = nrcpt;
	for (int i = 0; i < nrcpt; i++) {
		m->rcpt[i].msg = m;
		m->rcpt[i].heap_idx = -1;
	}
	return m;
}

void
qmsg_set_rcpt(struct qmsg *m, int i, const char *addr)
{
	struct qrcpt *r = &m->rcpt[i];
	const char *at = strrchr(addr, '@');

	free(r->addr);
	intern_put(&pool, r->domain);
	r->addr = xstrdup(addr);
	r->domain = intern_get(&pool, at ? at + 1 : "");
}

void
qrcpt_set_reply(struct qrcpt *r, const char *reply)
{
	const char *old = r->last_reply;

	r->last_reply = intern_get(&pool, reply);
	intern_put(&pool, old);
}

void
qmsg_free_prefix(struct qmsg *m)
{
	if (m->prefix == NULL)
		return;
	for (int i = 0; i < m->nrcpt; i++)
		free(m->prefix[i].p);
	free(m->prefix);
	m->prefix = NULL;
}

void
qmsg_free(struct qmsg *m)
{
	for (int i = 0; i < m->nrcpt; i++) {
		free(m->rcpt[i].addr);
		intern_put(&pool, m->rcpt[i].domain);
		intern_put(&pool, m->rcpt[i].last_reply);
		free(m->rcpt[i].dsn_orcpt);
	}
	intern_put(&pool, m->sender);
	intern_put(&pool, m->subaccount);
	free(m->message_id);
	free(m->dsn_envid);
	free(m->body);
	qmsg_free_prefix(m);
	free(m);
}

/* The pooled strings: how many, and their bytes. */
void
qmsg_pool_stats(size_t *n, size_t *bytes)
{
	*n = pool.n;
	*bytes = pool.bytes;
}
