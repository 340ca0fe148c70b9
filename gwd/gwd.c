/*
 * gwd.c - what gwd's modules share (gwd.h): the configuration and the
 * TLS contexts, which main.c sets (and, for gcfg, replaces on SIGHUP),
 * and the queued message as the main thread holds it, made and freed
 * here for the store's recovery, the session and the scheduler alike.
 * Exposure: none.
 * Diagnostics: dies only when memory for a message runs out (xcalloc).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "gwd.h"
#include "util.h"

struct gw_config	*_Atomic gcfg;
SSL_CTX			*server_tls;
SSL_CTX			*client_tls;

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
	struct qmsg *m = xcalloc(1, sizeof(*m));

	m->sender = xstrdup(sender ? sender : "");
	m->subaccount = xstrdup(subaccount ? subaccount : "");
	m->nrcpt = m->npending = nrcpt;
	m->rcpt = xcalloc((size_t)(nrcpt ? nrcpt : 1), sizeof(*m->rcpt));
	for (int i = 0; i < nrcpt; i++) {
		m->rcpt[i].msg = m;
		m->rcpt[i].heap_idx = -1;
	}
	return m;
}

void
qmsg_free(struct qmsg *m)
{
	for (int i = 0; i < m->nrcpt; i++) {
		free(m->rcpt[i].addr);
		free(m->rcpt[i].domain);
		free(m->rcpt[i].last_reply);
		free(m->rcpt[i].dsn_orcpt);
	}
	free(m->rcpt);
	free(m->sender);
	free(m->subaccount);
	free(m->message_id);
	free(m->dsn_envid);
	free(m->body);
	free(m);
}
