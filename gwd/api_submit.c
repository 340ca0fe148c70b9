/*
 * api_submit.c - a send API message on its way to the queue (api_int.h):
 * a JSON one read and built on a pool of threads of its own (api_msg.c,
 * api_mime.c), a raw one read with the envelope of its query or header;
 * then the envelope through the checks of MAIL and RCPT (envelope.c),
 * the message through DATA's, the cluster's quota token, and
 * submit_message() (submit.h), whose commit answers 202.
 * Standards: RFC 5321 (the envelope as SMTP has it), RFC 6152, 6531.
 * Exposure: the request's body and query, from a client with a good
 * key; bounded by api.c before they get here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "api_int.h"
#include "cluster.h"
#include "gwd.h"
#include "json.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "worker.h"

/* JSON messages built at once, and waiting (then 503). */
#define API_BUILD_THREADS	2
#define API_BUILD_QUEUE		1024

static struct api_req *
req_of(struct submit_waiter *w)
{
	return (struct api_req *)((char *)w - offsetof(struct api_req, w));
}

/* ---- the message ---- */

/* The envelope as SMTP would have it ("FROM:<a> SMTPUTF8", each
 * "TO:<b>"), through the checks of MAIL and RCPT: NULL, or the reply
 * (the refusal is set). */
static int
envelope(struct api_req *rq, const struct subaccount *sa, size_t size)
{
	struct tx *t = &rq->tx;
	struct envelope_verdict v;
	struct rcpt_args ra;
	char line[ADDR_PATH_MAX + 32], msg[600];
	const char *r;
	int n;

	n = snprintf(line, sizeof(line), "FROM:<%s>%s%s", rq->env.from,
	    rq->env.utf8 ? " SMTPUTF8" : "", rq->body_8bit ?
	    " BODY=8BITMIME" : "");
	if (n >= (int)sizeof(line) ||
	    smtp_parse_mail(line, (size_t)n, &t->mail, &r) == -1) {
		api_refuse_smtp(rq, REJ_MAIL_SENDER, BC_NONE, n >= (int)sizeof(line)
		    ? "501 5.1.7 Bad sender address syntax" : r, NULL, 1);
		return -1;
	}
	if ((r = envelope_check_sender(sa, &t->mail.path, size, msg,
	    sizeof(msg), &v)) != NULL) {
		envelope_count(&v);
		api_refuse_smtp(rq, v.rej, v.cls, r, NULL, 1);
		return -1;
	}
	for (int i = 0; i < rq->env.nrcpt; i++) {
		const char *addr = rq->env.rcpt[i];

		v.rej = REJ_COUNT;
		v.cls = BC_NONE;
		n = snprintf(line, sizeof(line), "TO:<%s>", addr);
		if (n >= (int)sizeof(line) ||
		    smtp_parse_rcpt(line, (size_t)n, &ra, &r) == -1)
			r = "501 5.1.3 Bad recipient address syntax";
		else if ((r = envelope_check_rcpt_addr(&t->mail, &ra, &v)) ==
		    NULL && (r = envelope_check_rcpt(sa->name, &t->mail, &ra,
		    t->nrcpt, 0, msg, sizeof(msg), &v)) == NULL) {
			t->rcpt = xreallocarray(t->rcpt, (size_t)t->nrcpt + 1,
			    sizeof(char *));
			t->rdsn = xreallocarray(t->rdsn, (size_t)t->nrcpt + 1,
			    sizeof(*t->rdsn));
			t->rdsn[t->nrcpt] = ra.dsn;
			t->rcpt[t->nrcpt++] = xstrdup(ra.path.addr);
			continue;
		}
		envelope_count(&v);
		api_refuse_smtp(rq, v.rej, v.cls, r, addr, 1);
		return -1;
	}
	t->active = 1;
	return 0;
}

/* The message msg[0..len) through DATA's checks into the transaction:
 * bare CR, NUL, long lines, limits.message_size (a bare LF is a line
 * end, as with smtpd_forbid_bare_newline = normalize). */
static int
data_in(struct api_req *rq, const char *msg, size_t len)
{
	struct tx *t = &rq->tx;
	const char *r;

	data_init_chunks(&t->dp, gcfg->limits.message_size);
	t->dp.lf_normalize = 1;
	buf_init(&t->data, 0);
	data_feed(&t->dp, msg, len, &t->data);
	data_chunks_end(&t->dp, &t->data);
	if ((r = data_flags_reply(t->dp.flags)) != NULL) {
		gm.messages_rejected_total++;
		metrics_reject(REJ_DATA_CONTENT);
		api_refuse_smtp(rq, REJ_DATA_CONTENT, BC_NONE, r, NULL, 1);
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)msg[i] >= 0x80) {
			rq->body_8bit = 1;
			break;
		}
	return 0;
}

static enum MHD_Result
query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct api_req *rq = cls;
	const char *why = NULL;

	if (value == NULL)
		value = "";
	if (strcmp(key, "from") == 0) {
		if (value[0] == '\0') {		/* the null sender */
			rq->env.from[0] = '\0';
			rq->env.has_from = 1;
		} else if (api_env_from(&rq->env, value, strlen(value),
		    &why) == -1)
			goto bad;
	} else if (strcmp(key, "to") == 0) {
		if (api_env_rcpts(&rq->env, value, strlen(value), &why) < 1)
			goto bad;
	} else {
		why = "unknown parameter (from, to)";
		goto bad;
	}
	return MHD_YES;
bad:
	{
		char d[300];

		snprintf(d, sizeof(d), "%.20s=%.200s: %s", key, value,
		    why ? why : "no address");
		api_bad_request(rq, d);
	}
	return MHD_NO;
}

/* The raw request's message and envelope, or a refusal (-1). */
static int
read_raw(struct api_req *rq)
{
	char err[400];

	MHD_get_connection_values(rq->c, MHD_GET_ARGUMENT_KIND, query_arg,
	    rq);
	if (rq->ready || data_in(rq, buf_ptr(&rq->body), buf_len(&rq->body)) ==
	    -1)
		return -1;
	if (api_raw_envelope(buf_ptr(&rq->tx.data), buf_len(&rq->tx.data),
	    &rq->env, err, sizeof(err)) == -1) {
		api_bad_request(rq, err);
		return -1;
	}
	return 0;
}

/* The commit's answer (submit.h): 202 with the queue id, or the
 * refusal (its "rejected" event is logged already). */
static void
api_answer_commit(struct submit_waiter *w, const char *reply,
    const char *qid, enum gm_reject rej)
{
	struct api_req *rq = req_of(w);
	struct buf b;

	if (qid) {
		buf_init(&b, 0);
		buf_puts(&b, "{\"id\":");
		json_string(&b, qid);
		buf_puts(&b, "}\n");
		api_set_answer(rq, MHD_HTTP_ACCEPTED, "application/json",
		    buf_steal(&b, NULL), 0);
	} else
		api_refuse_smtp(rq, rej, BC_NONE, reply, NULL, 0);
	api_resume(rq);
}

static void
api_held(struct submit_waiter *w, struct store_op *op)
{
	struct api_req *rq = req_of(w);

	api_suspend(rq);
	tx_free(&rq->tx);
}

/* TLS of the connection, for Received: and the event: "TLS1.3
 * AES-256-GCM". */
static void
tls_desc(struct MHD_Connection *c, char *out, size_t outsz)
{
	const union MHD_ConnectionInfo *ci;
	gnutls_session_t s;
	const char *v, *ciph;

	out[0] = '\0';
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || (s = ci->tls_session) == NULL)
		return;
	v = gnutls_protocol_get_name(gnutls_protocol_get_version(s));
	ciph = gnutls_cipher_get_name(gnutls_cipher_get(s));
	snprintf(out, outsz, "%s %s", v ? v : "TLS", ciph ? ciph : "");
}

/* The transaction is over: a quota token it holds goes back. */
void
api_tx_end(struct api_req *rq)
{
	if (rq->tx.cq_held) {
		rq->tx.cq_held = 0;
		cluster_quota_return(rq->sub);
	}
	tx_free(&rq->tx);
}

static void	 submit_checked(struct api_req *, const struct subaccount *);

static void
quota_over(struct api_req *rq, const struct subaccount *sa)
{
	char r[300];

	metrics_reject(REJ_MAIL_QUOTA);
	snprintf(r, sizeof(r), "451 4.7.1 Error: subaccount %s has reached "
	    "its quota across the cluster; try again later", sa->name);
	api_refuse_smtp(rq, REJ_MAIL_QUOTA, BC_THROTTLED, r, NULL, 1);
}

/* Redis's answer for a request that waited for a quota token. */
static void
quota_done(void *arg, int verdict)
{
	struct api_req *rq = arg;
	const struct subaccount *sa = account_find(rq->sub);

	if (sa == NULL || !sa->enabled) {
		if (verdict == CQ_OK)
			cluster_quota_return(rq->sub);
		api_refuse_smtp(rq, REJ_MAIL_DISABLED, BC_NONE, "550 5.7.1 Error: "
		    "subaccount is disabled or gone", NULL, 1);
	} else if (verdict == CQ_OVER)
		quota_over(rq, sa);
	else {
		/* CQ_AWAY: Redis went away meanwhile; the node's share,
		 * which the envelope's check applied, said yes. */
		rq->tx.cq_held = verdict == CQ_OK;
		submit_checked(rq, sa);
	}
	if (rq->ready)
		api_resume(rq);
}

/* The message to the path SMTP's take; the answer comes after the
 * commit, or the refusal now. */
static void
submit(struct api_req *rq)
{
	const struct subaccount *sa;

	if (api_stopping) {
		api_set_problem(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting-down",
		    "gwd is stopping; the message was not queued", "421 4.3.2 "
		    "Service shutting down", RETRY_BUSY);
		return;
	}

	/* The request is read: its body is not needed any more. */
	session_memory -= rq->counted;
	rq->counted = 0;
	buf_free(&rq->body);
	accounts_poll();
	if ((sa = account_find(rq->sub)) == NULL || !sa->enabled) {
		api_refuse_smtp(rq, REJ_MAIL_DISABLED, BC_NONE, "550 5.7.1 Error: "
		    "subaccount is disabled or gone", NULL, 1);
		return;
	}
	if (envelope(rq, sa, buf_len(&rq->tx.data)) == -1)
		return;
	/* The cluster's quota, at the point SMTP takes it (MAIL). */
	switch (cluster_quota_take(sa->name, sa->quota_hour, sa->quota_day,
	    quota_done, rq)) {
	case CQ_OK:
		rq->tx.cq_held = 1;
		break;
	case CQ_OVER:
		quota_over(rq, sa);
		return;
	case CQ_WAIT:
		/* A round trip to Redis; MHD keeps the request. */
		api_suspend(rq);
		return;
	}
	submit_checked(rq, sa);
}

static void
submit_checked(struct api_req *rq, const struct subaccount *sa)
{
	struct submit_origin o = { .subaccount = rq->sub, .ip = rq->ip,
	    .proto = "HTTPS" };
	struct incoming in = { .o = &o, .t = &rq->tx };
	char helo[80], auth[APIKEY_ID_LEN + 8], *detail;

	snprintf(helo, sizeof(helo), "[%s]", rq->ip);
	o.helo = helo;
	tls_desc(rq->c, o.tlsdesc, sizeof(o.tlsdesc));
	o.detail = detail = xasprintf("via=http api=%s auth=apikey key_id=%s",
	    rq->route == RT_RAW ? "raw" : "json", rq->key_id);
	snprintf(auth, sizeof(auth), "apikey %s", rq->key_id);
	o.auth = auth;
	in.sa = sa;
	in.now = now_us();
	rq->w.held = api_held;
	rq->w.answer = api_answer_commit;
	if (submit_message(&in, &rq->w) == -1) {
		api_refuse_smtp(rq, in.rej, in.cls, in.reply, in.rcpt, 1);
		api_tx_end(rq);
	}
	free(detail);
}

/*
 * A JSON message is read and built (Jansson, api_mime.c: CPU work for a
 * large one) on a pool of its own, never on gwd's loop; the connection
 * waits suspended.
 */
struct build_job {
	struct work	 w;
	struct api_req	*rq;
	struct buf	 built;
	int		 failed;
	char		 err[400];
};

static struct worker_pool *build_pool;

static void
build_run(struct work *w)
{
	struct build_job *j = (struct build_job *)w;
	struct api_req *rq = j->rq;

	j->failed = api_json_message(buf_ptr(&rq->body), buf_len(&rq->body),
	    &j->built, &rq->env, j->err, sizeof(j->err)) == -1;
}

static void
build_done(struct work *w)
{
	struct build_job *j = (struct build_job *)w;
	struct api_req *rq = j->rq;

	if (j->failed)
		api_bad_request(rq, j->err);
	else if (data_in(rq, buf_ptr(&j->built), buf_len(&j->built)) == 0)
		submit(rq);
	buf_free(&j->built);
	free(j);
	if (rq->ready)
		api_resume(rq);
}

void
api_send_message(struct api_req *rq)
{
	struct build_job *j;

	if (rq->route == RT_RAW) {
		if (read_raw(rq) == 0)
			submit(rq);
		return;
	}
	if (build_pool == NULL)
		build_pool = worker_pool_new(API_BUILD_THREADS,
		    API_BUILD_QUEUE);
	j = xcalloc(1, sizeof(*j));
	j->rq = rq;
	buf_init(&j->built, gcfg->limits.message_size * 2 + 65536);
	j->w.run = build_run;
	j->w.done = build_done;
	api_suspend(rq);
	if (worker_pool_submit(build_pool, &j->w) == -1) {
		buf_free(&j->built);
		free(j);
		api_set_problem(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", "too "
		    "many messages being built", NULL, RETRY_BUSY);
		api_resume(rq);
	}
}
