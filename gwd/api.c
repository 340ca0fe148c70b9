/*
 * api.c - the HTTP send API on the HTTPS listener (api.h): its requests
 * (routes, the bearer key and its per-key rate, the bounded body); the
 * answers are api_reply.c's, the message's way to the queue
 * api_submit.c's (api_int.h):
 *
 *   POST /v1/messages           a JSON message (api_msg.c reads it,
 *                               api_mime.c writes it)
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
 * its own (reading and writing it are CPU work for a large one), never on
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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_int.h"
#include "gwd.h"
#include "hmap.h"
#include "log.h"
#include "pwhash.h"
#include "util.h"

/* Per-key token buckets: http.api_rate a second, as many at once. */
struct bucket {
	double	 tokens;
	int64_t	 last_us;
};
static struct hmap	 buckets;
static int		 buckets_init;
static int		 nrequests;	/* begun, not done */
int			 api_stopping;

uint64_t
api_max_body(void)
{
	/* A message of limits.message_size as base64 in JSON, and room
	 * for the rest of the request. */
	if (gcfg->http_api_max_size)
		return gcfg->http_api_max_size;
	return gcfg->limits.message_size / 3 * 4 + 65536;
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

void
api_resume(struct api_req *rq)
{
	if (rq->suspended) {
		rq->suspended = 0;
		MHD_resume_connection(rq->c);
		http_kick(rq->srv);
	}
}

void
api_suspend(struct api_req *rq)
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
			api_set_problem(rq, MHD_HTTP_TOO_MANY_REQUESTS, "rate",
			    "over http.api_rate requests per second for this "
			    "key", NULL, wait);
		break;
	case AUTH_BLOCKED:
		api_set_problem(rq, MHD_HTTP_TOO_MANY_REQUESTS, "auth-blocked",
		    "too many failed logins from this address", NULL,
		    (int)((gcfg->limits.auth_window_ms + 999) / 1000));
		break;
	case AUTH_BUSY:
		api_set_problem(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
		    "too many logins being checked", NULL, RETRY_BUSY);
		break;
	case AUTH_FAILED:
		log_info("api ip=%s key_id=%s login failed: %s", rq->ip,
		    rq->key_id, res->reason);
		api_set_problem(rq, MHD_HTTP_UNAUTHORIZED, "unauthenticated",
		    "wrong or unknown API key", NULL, 0);
		break;
	}
	api_resume(rq);
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
		api_set_problem(rq, MHD_HTTP_UNAUTHORIZED, "unauthenticated",
		    "Authorization: Bearer API-KEY required", NULL, 0);
		return;
	}
	key = h + 7 + strspn(h + 7, " ");
	if (!apikey_parse(key, strlen(key), rq->key_id)) {
		api_set_problem(rq, MHD_HTTP_UNAUTHORIZED, "unauthenticated",
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
		api_suspend(rq);
}

/* GET's answer (api_get.c). */
static void
got(void *arg, unsigned status, char *body)
{
	struct api_req *rq = arg;

	api_set_answer(rq, status, status == MHD_HTTP_OK ? "application/json" :
	    PROBLEM, body, status == MHD_HTTP_SERVICE_UNAVAILABLE ?
	    RETRY_BUSY : 0);
	api_resume(rq);
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
		api_set_problem(rq, strncmp(url, "/v1/messages", 12) == 0 ?
		    MHD_HTTP_METHOD_NOT_ALLOWED : MHD_HTTP_NOT_FOUND,
		    "no-such-resource", "POST /v1/messages, POST "
		    "/v1/messages/raw, GET /v1/messages/ID", NULL, 0);
		return;
	}
	/* Far too large: refused before it is read (MHD then closes the
	 * connection, and a client still writing may see a reset instead
	 * of the 413).  A little too large: read, dropped, then 413 on a
	 * connection that stays open (api_body()). */
	if (len > 2 * api_max_body()) {
		api_set_problem(rq, MHD_HTTP_CONTENT_TOO_LARGE, "too-large",
		    "request body over http.api_max_size", NULL, 0);
		return;
	}
	if (session_memory + len > gcfg->limits.memory) {
		api_set_problem(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", "too "
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
		api_set_problem(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", "too "
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
		api_set_problem(rq, MHD_HTTP_CONTENT_TOO_LARGE, "too-large",
		    "request body over http.api_max_size", NULL, 0);
		return;
	}
	if (rq->route == RT_GET) {
		if (api_get_start(rq->sub, rq->qid, got, rq) == -1)
			api_set_problem(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
			    "too many lookups waiting", NULL, RETRY_BUSY);
		else
			api_suspend(rq);
		return;
	}
	api_send_message(rq);
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
		buf_init(&rq->body, api_max_body());
		ci = MHD_get_connection_info(c,
		    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (ci && ci->client_addr)
			sockaddr_ntop(ci->client_addr, rq->ip, sizeof(rq->ip));
		*req_cls = rq;
		api_head(rq, url, method);
		return rq->ready ? api_send_answer(rq) : MHD_YES;
	}
	if (*upload_data_size) {
		api_body(rq, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!rq->ready && rq->authed)
		api_act(rq);
	else if (!rq->ready && rq->authreq == NULL)	/* cannot be */
		api_set_problem(rq, MHD_HTTP_UNAUTHORIZED, "unauthenticated",
		    "not authenticated", NULL, 0);
	if (!rq->ready)
		return MHD_YES;		/* suspended: the answer comes */
	return api_send_answer(rq);
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
	api_tx_end(rq);
	api_env_free(&rq->env);
	free(rq->resp);
	free(rq);
	*req_cls = NULL;
}

void
api_stop(void)
{
	api_stopping = 1;
}

int
api_requests(void)
{
	return nrequests;
}
