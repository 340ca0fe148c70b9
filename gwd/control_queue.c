/*
 * control_queue.c - "queue ..." on the control socket (see ctlproto.h
 * for the requests; control.c's header comment for the replies).
 *
 * Listing and showing answer at once from the scheduler's memory.  An
 * action changes the queue at once; its result line is written only
 * when its store op committed, so "held QID" means the hold survives a
 * crash.  The connection may go away meanwhile: the request then only
 * waits for its ops and is freed.
 * Exposure: the request comes from root or gwd's group (SO_PEERCRED,
 * control.c) and is parsed by ctlproto.c; queued addresses, replies and
 * header lines go out with control bytes replaced, one line each.
 * Diagnostics: dies only when memory runs out; a request that does not
 * parse gets one "error" line, an action queue.db refuses a "failed QID
 * ERROR" line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "control_queue.h"
#include "ctlproto.h"
#include "event.h"
#include "gwd.h"
#include "queue.h"
#include "store.h"
#include "store_read.h"
#include "util.h"

#define HEADERS_MAX	(64 * 1024)

struct ctl_req {
	struct conn		*c;	/* NULL once the peer left */
	struct buf		 out;
	struct ctl_queue_cmd	 cmd;
	int			 pending;	/* ops not yet committed */
	int			 overflow;
};

struct ctl_item {
	struct ctl_req		*req;
	char			 qid[QID_LEN + 1];
	const char		*note;		/* static, or NULL */
};

static void	ctlq_ignore(struct conn *);
static void	ctlq_error(struct conn *);
static void	ctlq_closed(struct conn *);

/* While actions commit: the request is c->arg, further input waits. */
static const struct conn_ops ctlq_ops = {
	.on_read = ctlq_ignore,
	.on_error = ctlq_error,
	.on_close = ctlq_closed,
};

static void
ctlq_ignore(struct conn *c)
{
}

static void
ctlq_error(struct conn *c)
{
	conn_close(c);
}

static void
ctlq_closed(struct conn *c)
{
	struct ctl_req *q = c->arg;

	if (q)
		q->c = NULL;
}

int
control_queue_conn(const struct conn *c)
{
	return c->ops == &ctlq_ops;
}

/* One "key value" line ("key" alone when the value is empty); control
 * bytes in the value become '?', except TAB (folded header lines). */
static void
put(struct ctl_req *q, const char *key, const char *val)
{
	size_t start = buf_len(&q->out), n = strlen(val);
	char *p;

	if (buf_printf(&q->out, "%s%s%s\n", key, n ? " " : "", val) == -1) {
		q->overflow = 1;
		return;
	}
	p = buf_ptr(&q->out) + start + strlen(key) + 1;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)p[i] < 0x20 && p[i] != '\t') ||
		    p[i] == 0x7f)
			p[i] = '?';
}

static void
put_int(struct ctl_req *q, const char *key, long long v)
{
	char s[32];

	snprintf(s, sizeof(s), "%lld", v);
	put(q, key, s);
}

static void
req_finish(struct ctl_req *q)
{
	if (q->c) {
		q->c->arg = NULL;
		if (q->overflow) {
			buf_reset(&q->out);
			put(q, "error", "reply too large; narrow it with "
			    "--domain or --subaccount");
		} else
			put(q, "end", "");
		conn_write(q->c, buf_ptr(&q->out), buf_len(&q->out));
		conn_close_after_flush(q->c);
	}
	buf_free(&q->out);
	free(q);
}

static const char *
rcpt_state(const struct qrcpt *r)
{
	switch (r->state) {
	case QR_WAITING:
		return "deferred";
	case QR_READY:
		return "ready";
	case QR_ACTIVE:
		return "active";
	case QR_HELD:
		return "held";
	default:
		return "done";
	}
}

static int
rcpt_matches(const struct qrcpt *r, const char *domain)
{
	return r->state != QR_DONE && (*domain == '\0' ||
	    strcasecmp(r->domain, domain) == 0);
}

/* The header section, one "header" line per physical line. */
static void
put_headers(struct ctl_req *q, struct qmsg *m)
{
	int loaded = 0;
	const char *p, *end, *nl;

	/* Read it for this answer only: the body cache stays as it was. */
	if (m->body == NULL) {
		if (store_load_body(m) == -1) {
			put(q, "header_error", "body missing from queue.db");
			return;
		}
		loaded = 1;
	}
	p = m->body;
	end = m->body + (m->bodylen < HEADERS_MAX ? m->bodylen : HEADERS_MAX);
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		size_t len = (size_t)(nl - p);
		char *line;

		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len == 0)
			break;
		line = xstrndup(p, len);
		put(q, "header", line);
		free(line);
		p = nl + 1;
	}
	if (loaded) {
		free(m->body);
		m->body = NULL;
	}
}

static void
put_message(struct ctl_req *q, struct qmsg *m, int headers)
{
	const char *domain = q->cmd.domain;
	int active = queue_msg_active(m), ready = 0;
	char *mid;

	for (int i = 0; i < m->nrcpt; i++)
		ready += m->rcpt[i].state == QR_READY;
	put(q, "message", m->qid);
	put_int(q, "arrival", m->received_us / 1000000);
	put_int(q, "size", (long long)m->size);
	put(q, "sender", m->sender[0] ? m->sender : "<>");
	put(q, "subaccount", m->subaccount);
	/* Not kept in memory: read back (a point read by rowid). */
	if ((mid = store_message_id(m)) != NULL) {
		put(q, "message_id", mid);
		free(mid);
	}
	put(q, "state", m->held == QMSG_QUARANTINED ? "quarantined" :
	    m->held ? "held" : active ? "active" : ready ? "ready" :
	    "deferred");
	if (headers)
		put_headers(q, m);
	for (int i = 0; i < m->nrcpt; i++) {
		struct qrcpt *r = &m->rcpt[i];

		if (!rcpt_matches(r, domain))
			continue;
		put(q, "recipient", r->addr);
		put(q, "rcpt_state", rcpt_state(r));
		put_int(q, "attempts", r->attempts);
		put_int(q, "next_attempt", r->next_attempt);
		if (r->last_reply)
			put(q, "last_reply", r->last_reply);
	}
}

static int
msg_matches(const struct qmsg *m, const struct ctl_queue_cmd *cmd)
{
	if (cmd->subaccount[0] && strcmp(m->subaccount, cmd->subaccount) != 0)
		return 0;
	if (cmd->quarantined && m->held != QMSG_QUARANTINED)
		return 0;
	for (int i = 0; i < m->nrcpt; i++)
		if (rcpt_matches(&m->rcpt[i], cmd->domain))
			return 1;
	return 0;
}

static void
ctlq_list(struct ctl_req *q)
{
	/* Still reading the queue at start-up: what is not listed yet. */
	if (queue_loading() > 0)
		put_int(q, "loading", queue_loading());
	for (struct qmsg *m = queue_first(); m && !q->overflow; m = m->qnext)
		if (msg_matches(m, &q->cmd))
			put_message(q, m, 0);
}

static void
ctlq_show(struct ctl_req *q)
{
	struct qmsg *m = queue_find(q->cmd.ids[0]);

	if (m == NULL)
		put(q, "unknown", q->cmd.ids[0]);
	else
		put_message(q, m, 1);
}

static void
ctlq_committed(void *arg, int failed, const char *error)
{
	struct ctl_item *it = arg;
	struct ctl_req *q = it->req;
	char line[256];

	if (failed) {
		snprintf(line, sizeof(line), "%s %s", it->qid, error);
		put(q, "failed", line);
	} else {
		snprintf(line, sizeof(line), "%s%s%s", it->qid, it->note ?
		    " " : "", it->note ? it->note : "");
		/* The line says what its audit event says. */
		put(q, event_name(ctl_verb_event(q->cmd.verb)), line);
	}
	free(it);
	if (--q->pending == 0)
		req_finish(q);
}

static void
ctlq_act(struct ctl_req *q, struct qmsg *m)
{
	struct ctl_item *it = xcalloc(1, sizeof(*it));
	const char *why = NULL;
	char line[256];
	int r;

	it->req = q;
	memcpy(it->qid, m->qid, sizeof(it->qid));
	q->pending++;
	r = queue_admin(m, &q->cmd, ctlq_committed, it, &why);
	if (r == QA_DONE) {
		it->note = why;
		return;
	}
	snprintf(line, sizeof(line), "%s %s", it->qid, why ? why : "");
	put(q, r == QA_BUSY ? "busy" : "unchanged", line);
	free(it);
	q->pending--;
}

/* ALL, or flush --domain: every message (with recipients there).  An
 * action may free its own message, never another (queue.h). */
static void
ctlq_act_every(struct ctl_req *q)
{
	struct qmsg *m, *next;

	for (m = queue_first(); m; m = next) {
		next = m->qnext;
		if (q->cmd.all || msg_matches(m, &q->cmd))
			ctlq_act(q, m);
	}
}

static void
ctlq_actions(struct ctl_req *q)
{
	struct qmsg *m;

	if (q->cmd.all || q->cmd.nids == 0) {
		ctlq_act_every(q);
		return;
	}
	for (int i = 0; i < q->cmd.nids; i++) {
		if ((m = queue_find(q->cmd.ids[i])) == NULL)
			put(q, "unknown", q->cmd.ids[i]);
		else
			ctlq_act(q, m);
	}
}

/* Whole-queue actions wait until every message is read at start-up:
 * "ALL" would otherwise miss those not read yet. */
static int
ctlq_too_early(const struct ctl_queue_cmd *cmd, char *err, size_t errsz)
{
	if (cmd->verb == CTL_Q_LIST || cmd->verb == CTL_Q_SHOW ||
	    (!cmd->all && cmd->nids > 0) || queue_loading() == 0)
		return 0;
	snprintf(err, errsz, "gwd is still reading its queue (%lld messages "
	    "to go); try again once `gwctl stats` shows queue_loading 0, or "
	    "name the messages", (long long)queue_loading());
	return 1;
}

void
control_queue(struct conn *c, const char *line)
{
	struct ctl_req *q = xcalloc(1, sizeof(*q));
	char err[256];

	buf_init(&q->out, CTL_OUT_MAX - 64);
	q->c = c;
	if (ctl_queue_parse(line, &q->cmd, err, sizeof(err)) == -1 ||
	    ctlq_too_early(&q->cmd, err, sizeof(err))) {
		put(q, "error", err);
		conn_write(c, buf_ptr(&q->out), buf_len(&q->out));
		conn_close_after_flush(c);
		buf_free(&q->out);
		free(q);
		return;
	}
	c->ops = &ctlq_ops;
	c->arg = q;
	conn_pause_read(c, 1);
	q->pending = 1;		/* until every action is under way */
	if (q->cmd.verb == CTL_Q_LIST)
		ctlq_list(q);
	else if (q->cmd.verb == CTL_Q_SHOW)
		ctlq_show(q);
	else
		ctlq_actions(q);
	if (--q->pending == 0)
		req_finish(q);
}
