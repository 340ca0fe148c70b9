/*
 * dsn_queue.c - delivery status notifications to the sender: built for
 * the failed recipients of a message (dsn.c writes the report), inserted
 * by the same store op that ends them, queued once that op committed.
 * Standards: RFC 3464 (DSN), RFC 3461.
 * Exposure: remote replies (already parsed) are quoted in the report.
 * Diagnostics: a DSN that cannot be built or stored is logged and
 * dropped; the failed recipients still end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "dsn.h"
#include "event.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"
#include "queue_int.h"
#include "schedule.h"
#include "store.h"
#include "util.h"

/* The DSN an op inserted is stored (queue it) or not (say so). */
void
dsn_queue_stored(struct store_op *op)
{
	struct qmsg *dsn = op->insert;

	op->insert = NULL;
	if (op->failed) {
		log_warnx("DSN qid=%s not stored: %s", dsn->qid, op->error);
		qmsg_free(dsn);
	} else
		routing_add(dsn);
}

static void
dsn_queue_committed(struct store_op *op)
{
	dsn_queue_stored(op);
	store_op_free(op);
}

/*
 * Build the DSN for the failed recipients of m, to be inserted by op.
 * Never for the null sender or for a DSN (no bounce loops).
 */
void
dsn_queue_build(struct store_op *op, struct qmsg *m, const struct dsn_rcpt *fr,
    int nfr)
{
	struct dsn d;
	struct buf out;
	struct qmsg *n;
	struct audit_event *ev;
	char mid[300], boundary[64], pm[300];
	unsigned char rb[8];
	char rhex[17];

	if (nfr == 0 || m->sender[0] == '\0' || (m->flags & QMSG_DSN))
		return;
	if (m->body == NULL && queue_load_body(m) == 0)
		queue_release_body(m);
	n = queue_msg_new("", m->subaccount, 1);
	random_bytes(rb, sizeof(rb));
	hex_encode(rb, sizeof(rb), rhex);
	snprintf(mid, sizeof(mid), "<%s.%s@%s>", n->qid, rhex, gcfg->hostname);
	snprintf(boundary, sizeof(boundary), "%s.%s/%s", n->qid, rhex,
	    "gw");
	snprintf(pm, sizeof(pm), "MAILER-DAEMON@%s", gcfg->hostname);
	memset(&d, 0, sizeof(d));
	d.reporting_mta = gcfg->hostname;
	d.postmaster = pm;
	d.to = m->sender;
	d.message_id = mid;
	d.boundary = boundary;
	d.qid = m->qid;
	d.arrival = us_to_s(m->received_us);
	d.now = sched_unix_s();
	d.original = m->body ? m->body : "";
	d.original_len = m->body ? m->bodylen : 0;
	d.rcpts = fr;
	d.nrcpts = nfr;
	buf_init(&out, 0);
	if (dsn_build(&d, &out) == -1) {
		log_warnx("qid=%s: cannot build DSN", m->qid);
		buf_free(&out);
		qmsg_free(n);
		return;
	}
	n->flags = QMSG_DSN;
	n->received_us = sched_clock();
	n->body = buf_steal(&out, &n->bodylen);
	n->size = n->bodylen;
	n->message_id = xstrdup(mid);
	qmsg_set_rcpt(n, 0, m->sender);
	n->rcpt[0].next_attempt = us_to_s(n->received_us);
	op->insert = n;
	op->done = dsn_queue_committed;
	gm.dsn_total++;

	ev = store_op_event(op, event_name(EV_DSN), m->qid);
	ev->recipient = xstrdup(m->sender);
	if (asprintf(&ev->detail, "dsn_qid=%s", n->qid) == -1)
		ev->detail = NULL;
	ev = store_op_event(op, event_name(EV_RECEIVED), n->qid);
	ev->subaccount = xstrdup(m->subaccount);
	ev->sender = xstrdup("");
	ev->recipient = xstrdup(m->sender);
	ev->rcpts = xcalloc(1, sizeof(char *));
	ev->rcpts[0] = xstrdup(m->sender);
	ev->nrcpts = 1;
	ev->message_id = xstrdup(mid);
	ev->subject = xstrdup("Undelivered Mail Returned to Sender");
	ev->from_addr = xstrdup(pm);
	ev->size = (int64_t)n->size;
	if (asprintf(&ev->detail, "dsn for %s", m->qid) == -1)
		ev->detail = NULL;
}
