/*
 * api.c - the HTTP send API on the HTTPS listener (api.h):
 *
 *   POST /v1/messages           a JSON message (api_msg.c builds it)
 *   POST /v1/messages/raw       an RFC 5322 message; the envelope from
 *                               ?from= and ?to= (repeated), else from
 *                               its From:/Sender:, To:, Cc:, Bcc:
 *   GET  /v1/messages/ID        the message's events (api_get.c)
 *
 * each with "Authorization: Bearer API-KEY" (gwctl apikey add).  A
 * message takes the path an SMTP submission takes: the envelope checks
 * of MAIL and RCPT (envelope.c) and, in a cluster, the quota token
 * MAIL takes (cluster.h; the request waits suspended while Redis is
 * asked), then submit_message() (submit.h): the
 * verdict stages, the stored form, content policies, DKIM, the group
 * commit.  A JSON message is read and built on a pool of threads of
 * its own (Jansson and GMime are CPU work for a large one), never on
 * gwd's loop.  The connection is suspended meanwhile and the answer, 202
 * {"id": QUEUE-ID}, leaves only after the commit.  A refusal is
 * application/problem+json (RFC 9457) carrying the SMTP reply it
 * stands for, with the HTTP status that fits it (403 foreign sender
 * domain, 422 suppressed recipient, 429 quota, pause and the per-key
 * rate, 413 too large, 400 unreadable, 401 no or a wrong key).
 * Standards: RFC 9110 (semantics), RFC 6750 (bearer tokens), RFC 9457
 * (problem details), RFC 5322.
 * Exposure: requests from anyone who reaches http.listen; nothing is
 * read before the key is checked but the request head (MHD's, in its
 * CONN_MEMORY).  A body goes into a buffer of its own, bounded by
 * http.api_max_size and counted in limits.memory; the excess is read
 * and dropped, and answered 413.  Failed keys count toward the
 * login blocks (authguard.h), as a wrong password does.
 * Stopping (api_stop()): a message not handed to the commit yet is
 * answered 503 (nothing was queued: the client sends it again), one
 * being committed gets its 202 once on disk, and gwd waits for every
 * answer to leave (api_requests()) before it stops, at most
 * shutdown_timeout; answers then close the connection.
 * Diagnostics: refusals are "rejected" events (stage=api), accepted
 * messages "received" events with proto HTTPS; nothing here is fatal.
 */
#include <sys/socket.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "api.h"
#include "api_priv.h"
#include "auth.h"
#include "cluster.h"
#include "ctlproto.h"
#include "gwd.h"
#include "hmap.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "pwhash.h"
#include "store.h"
#include "submit.h"
#include "util.h"
#include "worker.h"

#define PROBLEM		"application/problem+json"
#define RETRY_QUOTA	60	/* Retry-After for quota and pauses, s */
#define RETRY_BUSY	30	/* ... for a short store or memory */
/* JSON messages built at once, and waiting (then 503). */
#define API_BUILD_THREADS	2
#define API_BUILD_QUEUE		1024

enum api_route { RT_JSON, RT_RAW, RT_GET, RT_NONE };

struct api_req {
	int			 api;	/* 1: struct https_req (http.h) */
	struct http_server	*srv;
	struct MHD_Connection	*c;
	enum api_route		 route;
	char			 qid[QID_LEN + 1];	/* RT_GET */
	char			 ip[64];
	char			 sub[CTL_NAME_MAX + 1];
	char			 key_id[APIKEY_ID_LEN + 1];
	int			 authed;	/* the key is good */
	struct auth_req		*authreq;	/* its check, under way */
	struct buf		 body;
	size_t			 counted;	/* in session_memory */
	int			 too_big;
	int			 body_8bit;	/* BODY=8BITMIME */
	/* The answer: ready (a refusal found while the body was still
	 * coming, or the commit's or the lookup's result), sent at the
	 * next call of the handler. */
	int			 ready;
	unsigned		 status;
	char			*resp;
	const char		*ctype;
	int			 retry_after;	/* seconds; 0: none */
	int			 suspended;
	struct submit_waiter	 w;
	struct tx		 tx;
	struct api_env		 env;
};

/* Per-key token buckets: http.api_rate a second, as many at once. */
struct bucket {
	double	 tokens;
	int64_t	 last_us;
};
static struct hmap	 buckets;
static int		 buckets_init;
static int		 nrequests;	/* begun, not done */
static int		 stopping;

static struct api_req *
req_of(struct submit_waiter *w)
{
	return (struct api_req *)((char *)w - offsetof(struct api_req, w));
}

static uint64_t
max_body(void)
{
	/* A message of limits.message_size as base64 in JSON, and room
	 * for the rest of the request. */
	if (gcfg->http_api_max_size)
		return gcfg->http_api_max_size;
	return gcfg->limits.message_size / 3 * 4 + 65536;
}

char *
api_problem(unsigned status, const char *reason, const char *detail,
    const char *smtp)
{
	struct json_obj o;
	struct buf b;
	const char *title = MHD_get_reason_phrase_for(status);

	buf_init(&b, 0);
	json_obj_begin(&o, &b);
	json_obj_str(&o, "type", "about:blank");
	json_obj_str(&o, "title", title && title[0] ? title : "Error");
	json_obj_int(&o, "status", status);
	json_obj_str(&o, "detail", detail);
	json_obj_str(&o, "reason", reason);
	json_obj_str(&o, "smtp_reply", smtp);
	json_obj_end(&o);
	buf_putc(&b, '\n');
	return buf_steal(&b, NULL);
}

/* The answer to send at the next call (replacing none set before). */
static void
set_answer(struct api_req *rq, unsigned status, const char *ctype,
    char *body, int retry_after)
{
	if (rq->ready) {
		free(body);
		return;
	}
	rq->ready = 1;
	rq->status = status;
	rq->ctype = ctype;
	rq->resp = body;
	rq->retry_after = retry_after;
}

static void
set_problem(struct api_req *rq, unsigned status, const char *reason,
    const char *detail, const char *smtp, int retry_after)
{
	set_answer(rq, status, PROBLEM, api_problem(status, reason, detail,
	    smtp), retry_after);
}

static enum MHD_Result
send_answer(struct api_req *rq)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char ra[24];

	r = MHD_create_response_from_buffer(strlen(rq->resp), rq->resp,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rq->ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (rq->retry_after > 0) {
		snprintf(ra, sizeof(ra), "%d", rq->retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (rq->status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"gw\"");
	if (stopping)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION,
		    "close");
	ret = MHD_queue_response(rq->c, rq->status, r);
	MHD_destroy_response(r);
	return ret;
}

/*
 * What an SMTP refusal is over HTTP.  By the check that refused (rej):
 * the sender's domain 403, a suppressed recipient 422, quota and
 * pauses 429, the store 503; otherwise by the reply: 4xx 503, 5xx 422,
 * x.7.x (policy, authorship) 403, 552 413.
 */
static unsigned
http_status_of(enum gm_reject rej, const char *r, const char **reason,
    int *retry)
{
	*retry = 0;
	switch (rej) {
	case REJ_MAIL_SENDER:
		*reason = "foreign-sender-domain";
		return 403;
	case REJ_MAIL_DISABLED:
		*reason = "subaccount-disabled";
		return 403;
	case REJ_RCPT_SUPPRESSION:
		*reason = "suppressed-recipient";
		return 422;
	case REJ_MAIL_PAUSED:
		*reason = "paused";
		*retry = RETRY_QUOTA;
		return 429;
	case REJ_MAIL_QUOTA:
	case REJ_DATA_QUOTA:
		*reason = "quota";
		*retry = RETRY_QUOTA;
		return 429;
	case REJ_RCPT_LIMIT:
		*reason = "too-many-recipients";
		return 422;
	case REJ_MAIL_STORAGE:
	case REJ_DATA_STORAGE:
	case REJ_DATA_MEMORY:
		*reason = "storage";
		*retry = RETRY_BUSY;
		return 503;
	case REJ_DATA_CONTENT_POLICY:
	case REJ_DATA_POLICY:
	case REJ_RCPT_POLICY:
		*reason = "policy";
		break;
	default:
		*reason = "refused";
		break;
	}
	if (strncmp(r, "552", 3) == 0) {
		*reason = "too-large";
		return 413;
	}
	if (r[0] == '4') {
		*retry = RETRY_BUSY;
		return 503;
	}
	/* 500-504, 555: what SMTP calls syntax */
	if (strncmp(r, "50", 2) == 0 || strncmp(r, "555", 3) == 0)
		return 400;
	if (strlen(r) > 8 && r[6] == '7' && r[7] == '.')
		return 403;
	return rej == REJ_DATA_CONTENT ? 400 : 422;
}

/* The reply's text: "550 5.7.1 text" -> "text". */
static const char *
reply_text(const char *r)
{
	const char *p = r;

	if (strlen(p) > 4)
		p += 4;
	if (p[0] >= '2' && p[0] <= '5' && p[1] == '.')
		p += strcspn(p, " ");
	return p + strspn(p, " ");
}

/* A refusal SMTP would give: its HTTP form, and (unless it was logged
 * already) its "rejected" event. */
static void
refuse_smtp(struct api_req *rq, enum gm_reject rej, enum bounce_class cls,
    const char *r, const char *rcpt, int log)
{
	const char *reason;
	int retry;
	unsigned st = http_status_of(rej, r, &reason, &retry);

	if (log)
		audit_refusal(r, "api", rq->ip, rq->sub, rq->env.has_from ?
		    rq->env.from : NULL, rcpt, cls == BC_NONE ? NULL :
		    bounce_class_name(cls));
	set_problem(rq, st, reason, reply_text(r), r, retry);
}

static void
bad_request(struct api_req *rq, const char *why)
{
	set_problem(rq, MHD_HTTP_BAD_REQUEST, "bad-request", why, NULL, 0);
}

/* ---- the key, and its rate ---- */

struct key_find {
	const char		*id;
	const struct subaccount	*sa;
};

static void
key_match(const struct subaccount *sa, void *arg)
{
	struct key_find *kf = arg;

	for (int i = 0; kf->sa == NULL && i < sa->nkeys; i++)
		if (strcmp(sa->keys[i].id, kf->id) == 0)
			kf->sa = sa;
}

/* The per-key rate: 0 when this request may go, else the seconds to
 * wait. */
static int
rate_wait(const char *key_id)
{
	int rate = gcfg->http_api_rate;
	int64_t now = now_us();
	struct bucket *b;

	if (rate <= 0)
		return 0;
	if (!buckets_init) {
		hmap_init(&buckets);
		buckets_init = 1;
	}
	if ((b = hmap_get(&buckets, key_id)) == NULL) {
		b = xcalloc(1, sizeof(*b));
		b->tokens = rate;
		b->last_us = now;
		hmap_put(&buckets, key_id, b);
	}
	b->tokens += (double)(now - b->last_us) / 1e6 * rate;
	if (b->tokens > rate)
		b->tokens = rate;
	b->last_us = now;
	if (b->tokens < 1)
		return (int)ceil((1 - b->tokens) / rate);
	b->tokens -= 1;
	return 0;
}

static void
resume(struct api_req *rq)
{
	if (rq->suspended) {
		rq->suspended = 0;
		MHD_resume_connection(rq->c);
		http_kick(rq->srv);
	}
}

static void
suspend(struct api_req *rq)
{
	if (!rq->suspended) {
		rq->suspended = 1;
		MHD_suspend_connection(rq->c);
	}
}

/* The key's check is over (auth.c: at once, or after a wait). */
static void
authed(void *arg, const struct auth_result *res)
{
	struct api_req *rq = arg;
	int wait;

	rq->authreq = NULL;
	switch (res->status) {
	case AUTH_OK:
		rq->authed = 1;
		gw_strlcpy(rq->sub, res->subaccount, sizeof(rq->sub));
		if ((wait = rate_wait(rq->key_id)) > 0)
			set_problem(rq, MHD_HTTP_TOO_MANY_REQUESTS, "rate",
			    "over http.api_rate requests per second for this "
			    "key", NULL, wait);
		break;
	case AUTH_BLOCKED:
		set_problem(rq, MHD_HTTP_TOO_MANY_REQUESTS, "auth-blocked",
		    "too many failed logins from this address", NULL,
		    (int)((gcfg->limits.auth_window_ms + 999) / 1000));
		break;
	case AUTH_BUSY:
		set_problem(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
		    "too many logins being checked", NULL, RETRY_BUSY);
		break;
	case AUTH_FAILED:
		log_info("api ip=%s key_id=%s login failed: %s", rq->ip,
		    rq->key_id, res->reason);
		set_problem(rq, MHD_HTTP_UNAUTHORIZED, "unauthenticated",
		    "wrong or unknown API key", NULL, 0);
		break;
	}
	resume(rq);
}

/* Authorization: Bearer KEY, checked as SMTP AUTH checks an API key. */
static void
check_key(struct api_req *rq)
{
	const char *h = MHD_lookup_connection_value(rq->c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	const union MHD_ConnectionInfo *ci;
	struct key_find kf = { rq->key_id, NULL };
	const char *key;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		set_problem(rq, MHD_HTTP_UNAUTHORIZED, "unauthenticated",
		    "Authorization: Bearer API-KEY required", NULL, 0);
		return;
	}
	key = h + 7 + strspn(h + 7, " ");
	if (!apikey_parse(key, strlen(key), rq->key_id)) {
		set_problem(rq, MHD_HTTP_UNAUTHORIZED, "unauthenticated",
		    "not an API key (gwctl apikey add)", NULL, 0);
		return;
	}
	ci = MHD_get_connection_info(rq->c,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	accounts_poll();
	accounts_foreach(key_match, &kf);
	rq->authreq = auth_check(kf.sa ? kf.sa->name : "", kf.sa ?
	    strlen(kf.sa->name) : 0, key, strlen(key), ci->client_addr,
	    rq->ip, NULL, authed, rq);
	if (rq->authreq)
		suspend(rq);
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
		refuse_smtp(rq, REJ_MAIL_SENDER, BC_NONE, n >= (int)sizeof(line)
		    ? "501 5.1.7 Bad sender address syntax" : r, NULL, 1);
		return -1;
	}
	if ((r = envelope_check_sender(sa, &t->mail.path, size, msg,
	    sizeof(msg), &v)) != NULL) {
		envelope_count(&v);
		refuse_smtp(rq, v.rej, v.cls, r, NULL, 1);
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
		refuse_smtp(rq, v.rej, v.cls, r, addr, 1);
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
		refuse_smtp(rq, REJ_DATA_CONTENT, BC_NONE, r, NULL, 1);
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
		bad_request(rq, d);
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
		bad_request(rq, err);
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
		set_answer(rq, MHD_HTTP_ACCEPTED, "application/json",
		    buf_steal(&b, NULL), 0);
	} else
		refuse_smtp(rq, rej, BC_NONE, reply, NULL, 0);
	resume(rq);
}

static void
api_held(struct submit_waiter *w, struct store_op *op)
{
	struct api_req *rq = req_of(w);

	suspend(rq);
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
static void
tx_end(struct api_req *rq)
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
	refuse_smtp(rq, REJ_MAIL_QUOTA, BC_THROTTLED, r, NULL, 1);
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
		refuse_smtp(rq, REJ_MAIL_DISABLED, BC_NONE, "550 5.7.1 Error: "
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
		resume(rq);
}

/* The message to the path SMTP's take; the answer comes after the
 * commit, or the refusal now. */
static void
submit(struct api_req *rq)
{
	const struct subaccount *sa;

	if (stopping) {
		set_problem(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting-down",
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
		refuse_smtp(rq, REJ_MAIL_DISABLED, BC_NONE, "550 5.7.1 Error: "
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
		suspend(rq);
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
		refuse_smtp(rq, in.rej, in.cls, in.reply, in.rcpt, 1);
		tx_end(rq);
	}
	free(detail);
}

/*
 * A JSON message is read and built (Jansson, GMime: CPU work for a
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
		bad_request(rq, j->err);
	else if (data_in(rq, buf_ptr(&j->built), buf_len(&j->built)) == 0)
		submit(rq);
	buf_free(&j->built);
	free(j);
	if (rq->ready)
		resume(rq);
}

static void
send_message(struct api_req *rq)
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
	suspend(rq);
	if (worker_pool_submit(build_pool, &j->w) == -1) {
		buf_free(&j->built);
		free(j);
		set_problem(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", "too "
		    "many messages being built", NULL, RETRY_BUSY);
		resume(rq);
	}
}

/* GET's answer (api_get.c). */
static void
got(void *arg, unsigned status, char *body)
{
	struct api_req *rq = arg;

	set_answer(rq, status, status == MHD_HTTP_OK ? "application/json" :
	    PROBLEM, body, status == MHD_HTTP_SERVICE_UNAVAILABLE ?
	    RETRY_BUSY : 0);
	resume(rq);
}

/* ---- the request ---- */

static enum api_route
route_of(const char *url, const char *method, char *qid)
{
	const char *id;

	if (strcmp(url, "/v1/messages") == 0)
		return strcmp(method, "POST") == 0 ? RT_JSON : RT_NONE;
	if (strcmp(url, "/v1/messages/raw") == 0)
		return strcmp(method, "POST") == 0 ? RT_RAW : RT_NONE;
	if (strncmp(url, "/v1/messages/", 13) != 0)
		return RT_NONE;
	id = url + 13;
	if (strcmp(method, "GET") != 0 || strlen(id) != QID_LEN ||
	    strspn(id, "0123456789ABCDEFabcdef") != QID_LEN)
		return RT_NONE;
	memcpy(qid, id, QID_LEN + 1);
	return RT_GET;
}

/* The request head: route, size, memory, key.  An answer set here goes
 * out at once (MHD then reads no body and closes the connection). */
static void
api_head(struct api_req *rq, const char *url, const char *method)
{
	const char *cl = MHD_lookup_connection_value(rq->c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	uint64_t len = cl ? strtoull(cl, NULL, 10) : 0;

	if ((rq->route = route_of(url, method, rq->qid)) == RT_NONE) {
		set_problem(rq, strncmp(url, "/v1/messages", 12) == 0 ?
		    MHD_HTTP_METHOD_NOT_ALLOWED : MHD_HTTP_NOT_FOUND,
		    "no-such-resource", "POST /v1/messages, POST "
		    "/v1/messages/raw, GET /v1/messages/ID", NULL, 0);
		return;
	}
	/* Far too large: refused before it is read (MHD then closes the
	 * connection, and a client still writing may see a reset instead
	 * of the 413).  A little too large: read, dropped, then 413 on a
	 * connection that stays open (api_body()). */
	if (len > 2 * max_body()) {
		set_problem(rq, MHD_HTTP_CONTENT_TOO_LARGE, "too-large",
		    "request body over http.api_max_size", NULL, 0);
		return;
	}
	if (session_memory + len > gcfg->limits.memory) {
		set_problem(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", "too "
		    "much mail is being received at once", NULL, RETRY_BUSY);
		return;
	}
	check_key(rq);
}

/* A piece of the body: kept up to the maximum, counted in
 * limits.memory; past either, dropped (the answer says so at the end). */
static void
api_body(struct api_req *rq, const char *data, size_t n)
{
	size_t cap = rq->body.cap;

	if (rq->ready || rq->too_big)
		return;
	if (buf_append(&rq->body, data, n) == -1) {
		rq->too_big = 1;
		buf_free(&rq->body);
	} else if (session_memory + (rq->body.cap - cap) >
	    gcfg->limits.memory) {
		set_problem(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", "too "
		    "much mail is being received at once", NULL, RETRY_BUSY);
		buf_free(&rq->body);
	}
	session_memory = session_memory - rq->counted + rq->body.cap;
	rq->counted = rq->body.cap;
}

/* The whole request is in: act on it. */
static void
api_act(struct api_req *rq)
{
	if (rq->too_big) {
		set_problem(rq, MHD_HTTP_CONTENT_TOO_LARGE, "too-large",
		    "request body over http.api_max_size", NULL, 0);
		return;
	}
	if (rq->route == RT_GET) {
		if (api_get_start(rq->sub, rq->qid, got, rq) == -1)
			set_problem(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
			    "too many lookups waiting", NULL, RETRY_BUSY);
		else
			suspend(rq);
		return;
	}
	send_message(rq);
}

enum MHD_Result
api_answer(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **req_cls)
{
	struct api_req *rq = *req_cls;
	const union MHD_ConnectionInfo *ci;

	if (rq == NULL) {
		rq = xcalloc(1, sizeof(*rq));
		rq->api = 1;
		rq->srv = cls;
		rq->c = c;
		nrequests++;
		buf_init(&rq->body, max_body());
		ci = MHD_get_connection_info(c,
		    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (ci && ci->client_addr)
			sockaddr_ntop(ci->client_addr, rq->ip, sizeof(rq->ip));
		*req_cls = rq;
		api_head(rq, url, method);
		return rq->ready ? send_answer(rq) : MHD_YES;
	}
	if (*upload_data_size) {
		api_body(rq, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!rq->ready && rq->authed)
		api_act(rq);
	else if (!rq->ready && rq->authreq == NULL)	/* cannot be */
		set_problem(rq, MHD_HTTP_UNAUTHORIZED, "unauthenticated",
		    "not authenticated", NULL, 0);
	if (!rq->ready)
		return MHD_YES;		/* suspended: the answer comes */
	return send_answer(rq);
}

void
api_done(void *cls, struct MHD_Connection *c, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct api_req *rq = *req_cls;

	if (rq == NULL)
		return;
	/* Never while suspended: MHD ends a request only once resumed. */
	nrequests--;
	auth_cancel(rq->authreq);
	session_memory -= rq->counted;
	buf_free(&rq->body);
	tx_end(rq);
	api_env_free(&rq->env);
	free(rq->resp);
	free(rq);
	*req_cls = NULL;
}

void
api_stop(void)
{
	stopping = 1;
}

int
api_requests(void)
{
	return nrequests;
}
