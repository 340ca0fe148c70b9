/*
 * store_op.c - building and freeing store ops and audit events
 * (store.h): what a session, the scheduler or an admin's command hands
 * the store thread.  Runs on the main thread; the ops are freed there
 * too, after the store thread hands them back.
 * Exposure: copies what sessions accepted; parses nothing.
 * Diagnostics: dies only when memory runs out.
 */
#include <stdint.h>
#include <stdlib.h>

#include "store_priv.h"
#include "util.h"

struct store_op *
store_op_new(void)
{
	struct store_op *op = xcalloc(1, sizeof(*op));

	op->events_tail = &op->events;
	return op;
}

void
audit_free(struct audit_event *ev)
{
	free(ev->qid);
	free(ev->subaccount);
	free(ev->client_ip);
	free(ev->sender);
	free(ev->recipient);
	free(ev->message_id);
	free(ev->subject);
	free(ev->from_addr);
	free(ev->tls);
	free(ev->tls_note);
	free(ev->username);
	free(ev->remote_host);
	free(ev->remote_ip);
	free(ev->reply_status);
	free(ev->reply_text);
	free(ev->detail);
	for (int i = 0; i < ev->nrcpts; i++)
		free(ev->rcpts[i]);
	free(ev->rcpts);
	free(ev);
}

void
store_op_free(struct store_op *op)
{
	struct audit_event *ev, *next;

	for (ev = op->events; ev; ev = next) {
		next = ev->next;
		audit_free(ev);
	}
	for (int i = 0; i < op->nupd; i++)
		free(op->upd[i].last_reply);
	free(op->upd);
	for (int i = 0; i < op->nsupp; i++) {
		free(op->supp[i].subaccount);
		free(op->supp[i].address);
		free(op->supp[i].reason);
	}
	free(op->supp);
	free(op->pause_sub);
	free(op->pause_reason);
	free(op->sts_domain);
	free(op->sts_id);
	free(op->sts_policy);
	free(op->rpt.domain);
	free(op->rpt.policy);
	free(op->rpt.result);
	free(op->rpt.sending_ip);
	free(op->rpt.mx_host);
	free(op->rpt.receiving_ip);
	free(op->rpt_sent_domain);
	free(op->del_rcpt);
	free(op->hook_ack);
	archive_req_free(op->archive);
	if (op->journal)
		qmsg_free(op->journal);
	free(op);
}

void
store_op_del_rcpt(struct store_op *op, int64_t dbid)
{
	op->del_rcpt = xreallocarray(op->del_rcpt, (size_t)op->ndel_rcpt + 1,
	    sizeof(*op->del_rcpt));
	op->del_rcpt[op->ndel_rcpt++] = dbid;
}

void
store_op_upd_rcpt(struct store_op *op, const struct qrcpt *r)
{
	struct rcpt_update *u;

	op->upd = xreallocarray(op->upd, (size_t)op->nupd + 1,
	    sizeof(*op->upd));
	u = &op->upd[op->nupd++];
	u->dbid = r->dbid;
	u->attempts = r->attempts;
	u->next_attempt = r->next_attempt;
	u->last_reply = r->last_reply ? xstrdup(r->last_reply) : NULL;
	u->dsn_notify = r->dsn_notify;
}

void
store_op_supp(struct store_op *op, int del, const char *subaccount,
    const char *address, const char *reason, int64_t created)
{
	struct supp_change *s;

	op->supp = xreallocarray(op->supp, (size_t)op->nsupp + 1,
	    sizeof(*op->supp));
	s = &op->supp[op->nsupp++];
	s->del = del;
	s->subaccount = xstrdup(subaccount);
	s->address = xstrdup(address);
	s->reason = reason ? xstrdup(reason) : NULL;
	s->created = created;
}

struct audit_event *
audit_new(const char *action, const char *qid)
{
	struct audit_event *ev = xcalloc(1, sizeof(*ev));

	ev->ts = now_us();
	ev->action = action;
	ev->qid = qid ? xstrdup(qid) : NULL;
	ev->size = -1;
	ev->duration_ms = -1;
	ev->tls_verified = -1;
	return ev;
}

struct audit_event *
store_op_event(struct store_op *op, const char *action, const char *qid)
{
	struct audit_event *ev = audit_new(action, qid);

	*op->events_tail = ev;
	op->events_tail = &ev->next;
	return ev;
}
