/*
 * httpc.c - outbound HTTP(S) on libcurl's multi interface, on a thread
 * of its own (see httpc.h).
 *
 * Submitters append a copied request to `incoming` under `mu` and wake
 * the thread with curl_multi_wakeup(); the thread moves new requests
 * into the multi handle and lets libcurl drive every transfer.  As one
 * ends, the thread keeps its reply in the job, appends the job to
 * `ended` under `mu` and wakes the loop, which runs the done()s in the
 * order the requests ended (deliver_ended()): the hand-off to the loop
 * is made here once, not by each caller.  libcurl keeps connections
 * open between requests to one server (keep-alive), so a busy webhook
 * endpoint costs one TLS handshake, not one per batch.
 * Standards: RFC 9110 through libcurl; TLS 1.2 or later, certificates
 * and host names verified, redirects never followed, only http and
 * https (a URL from gw.db cannot make gwd read file:// or speak gopher).
 * Exposure: replies from any server an admin names; a body is kept up
 * to HTTPC_BODY_MAX bytes, the rest read and dropped; every exchange
 * has a deadline.
 * Diagnostics: a failed exchange reaches done() with libcurl's reason;
 * this file logs only its own failures (no memory, the thread).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "httpc.h"
#include "log.h"
#include "loop.h"
#include "util.h"

#define DEFAULT_TIMEOUT_MS	10000
/* Connecting takes at most this much of a request's deadline. */
#define CONNECT_TIMEOUT_MS	5000
/* The longest the thread sleeps in curl_multi_poll(): libcurl wakes it
 * sooner for its own deadlines, httpc_submit() for new work. */
#define IDLE_POLL_MS		60000

struct job {
	struct job		*next;		/* in `incoming`, `active` or
						   `ended` */
	CURL			*easy;
	struct curl_slist	*headers;
	char			*url;
	char			*method;
	char			*body;
	size_t			 body_len;
	char			*ca_file;
	struct curl_slist	*connect_to;	/* "::host:port", or NULL */
	long			 timeout_ms;
	httpc_done_fn		*done;
	void			*arg;
	int			 direct;	/* httpc_do(): done() on this
						   thread, not the loop */
	/* The reply, kept for the loop (the easy handle is gone by then). */
	long			 status;
	char			*ctype;		/* or NULL */
	double			 seconds;
	int			 cert_invalid;
	char			*reply;		/* HTTPC_BODY_MAX + 1 at most */
	size_t			 reply_len;
	int			 truncated;
	int64_t			 started_us;
	char			 errbuf[CURL_ERROR_SIZE];
};

static pthread_mutex_t	 mu = PTHREAD_MUTEX_INITIALIZER;
static struct job	*incoming, **incoming_tail = &incoming;
static int		 running;	/* the thread was started */
static int		 stopping;
static pthread_t	 thread;
static CURLM		*multi;
static struct job	*active;	/* in `multi`; the thread's own */
/* Ended, for the loop to deliver; under `mu`. */
static struct job	*ended, **ended_tail = &ended;
static struct loop_waker waker;
static int		 waker_ready;

/* The whole queue (*head, *tail: `incoming` or `ended`), taken under
 * `mu`. */
static struct job *
take_all(struct job **head, struct job ***tail)
{
	struct job *list;

	pthread_mutex_lock(&mu);
	list = *head;
	*head = NULL;
	*tail = head;
	pthread_mutex_unlock(&mu);
	return list;
}

static void
job_free(struct job *j)
{
	if (j->easy != NULL)
		curl_easy_cleanup(j->easy);
	curl_slist_free_all(j->headers);
	curl_slist_free_all(j->connect_to);
	free(j->url);
	free(j->method);
	free(j->body);
	free(j->ca_file);
	free(j->reply);
	free(j->ctype);
	free(j);
}

/* The reply as done() sees it; valid while j is. */
static void
job_reply(const struct job *j, struct httpc_reply *r, int late)
{
	memset(r, 0, sizeof(*r));
	r->status = j->status;
	r->error = j->status == 0 ? j->errbuf : NULL;
	r->body = j->reply != NULL ? j->reply : "";
	r->body_len = j->reply_len;
	r->body_truncated = j->truncated;
	r->cert_invalid = j->cert_invalid;
	r->content_type = j->ctype;
	r->seconds = j->seconds;
	r->stopping = late;
}

/* The httpc thread: how j ended (status 0 with `error` when it did not
 * end with a reply) is kept in j, and j goes to its done(): here for
 * httpc_do(), else on the loop. */
static void
job_finish(struct job *j, long status, const char *error)
{
	struct httpc_reply r;
	char *ctype = NULL;

	if (j->done == NULL) {
		job_free(j);
		return;
	}
	j->status = status;
	if (status == 0 && error != j->errbuf)
		gw_strlcpy(j->errbuf, error != NULL ? error : "no reply",
		    sizeof(j->errbuf));
	if (j->easy != NULL && status != 0 && curl_easy_getinfo(j->easy,
	    CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype != NULL)
		j->ctype = strdup(ctype);	/* NULL: none, as documented */
	j->seconds = (double)(now_us() - j->started_us) / 1e6;
	if (j->direct) {
		job_reply(j, &r, 0);
		j->done(j->arg, &r);
		job_free(j);
		return;
	}
	/* libcurl's part ends on libcurl's thread. */
	curl_easy_cleanup(j->easy);
	j->easy = NULL;
	pthread_mutex_lock(&mu);
	j->next = NULL;
	*ended_tail = j;
	ended_tail = &j->next;
	pthread_mutex_unlock(&mu);
	loop_wakeup(&waker);
}

/* The loop (or, late, httpc_stop() once the loop has ended): every
 * done() due, in the order the requests ended. */
static void
deliver_ended(int late)
{
	struct httpc_reply r;
	struct job *list = take_all(&ended, &ended_tail), *j;

	while ((j = list) != NULL) {
		list = j->next;
		job_reply(j, &r, late);
		j->done(j->arg, &r);
		job_free(j);
	}
}

static void
on_ended(void *unused)
{
	(void)unused;
	deliver_ended(0);
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct job *j = arg;
	size_t n = size * nmemb, room;

	if (j->reply == NULL) {
		j->reply = malloc(HTTPC_BODY_MAX + 1);
		if (j->reply == NULL)
			return 0;		/* libcurl fails the transfer */
	}
	room = HTTPC_BODY_MAX - j->reply_len;
	if (n > room)
		j->truncated = 1;
	memcpy(j->reply + j->reply_len, data, n < room ? n : room);
	j->reply_len += n < room ? n : room;
	j->reply[j->reply_len] = '\0';
	return n;
}

/* The easy handle for a request; -1 when libcurl refuses an option
 * (errbuf says which). */
static int
job_setup(struct job *j)
{
	CURL *e;
	long t = j->timeout_ms > 0 ? j->timeout_ms : DEFAULT_TIMEOUT_MS;
	int bad = 0;

	if ((e = j->easy = curl_easy_init()) == NULL)
		return -1;
	bad |= curl_easy_setopt(e, CURLOPT_URL, j->url) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, t) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	    t < CONNECT_TIMEOUT_MS ? t : CONNECT_TIMEOUT_MS) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_SSLVERSION,
	    (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, "gw/" GW_VERSION) !=
	    CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, j) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, j) != CURLE_OK;
	if (j->ca_file != NULL)
		bad |= curl_easy_setopt(e, CURLOPT_CAINFO, j->ca_file) !=
		    CURLE_OK;
	if (strcmp(j->method, "GET") != 0 || j->body != NULL) {
		/* POSTFIELDS with a size sends exactly these bytes, even
		 * none; the method name then overrides POST if need be. */
		bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)j->body_len) != CURLE_OK;
		bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS,
		    j->body != NULL ? j->body : "") != CURLE_OK;
		if (strcmp(j->method, "POST") != 0)
			bad |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
			    j->method) != CURLE_OK;
	}
	bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers) != CURLE_OK;
	if (j->connect_to != NULL)
		bad |= curl_easy_setopt(e, CURLOPT_CONNECT_TO, j->connect_to) !=
		    CURLE_OK;
	if (bad && j->errbuf[0] == '\0')
		gw_strlcpy(j->errbuf, "libcurl refused an option",
		    sizeof(j->errbuf));
	return bad ? -1 : 0;
}

static struct job *
job_new(const struct httpc_request *req)
{
	struct job *j;
	const char *const *h;
	struct curl_slist *l;

	if (req->url == NULL || (strncasecmp(req->url, "http://", 7) != 0 &&
	    strncasecmp(req->url, "https://", 8) != 0))
		return NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->url = strdup(req->url);
	j->method = strdup(req->method != NULL ? req->method : "GET");
	j->ca_file = req->ca_file != NULL ? strdup(req->ca_file) : NULL;
	if (req->body != NULL && (j->body = malloc(req->body_len + 1)) != NULL) {
		memcpy(j->body, req->body, req->body_len);
		j->body[req->body_len] = '\0';
		j->body_len = req->body_len;
	}
	/* No "Expect: 100-continue" pause before a large body. */
	j->headers = curl_slist_append(NULL, "Expect:");
	for (h = req->headers; h != NULL && *h != NULL && j->headers != NULL;
	    h++) {
		if ((l = curl_slist_append(j->headers, *h)) == NULL) {
			curl_slist_free_all(j->headers);
			j->headers = NULL;
		} else
			j->headers = l;
	}
	if (req->connect_to != NULL) {
		char ct[320];

		if ((size_t)snprintf(ct, sizeof(ct), "::%s", req->connect_to) <
		    sizeof(ct))
			j->connect_to = curl_slist_append(NULL, ct);
	}
	if (j->url == NULL || j->method == NULL || j->headers == NULL ||
	    (req->connect_to != NULL && j->connect_to == NULL) ||
	    (req->body != NULL && j->body == NULL) ||
	    (req->ca_file != NULL && j->ca_file == NULL)) {
		job_free(j);
		return NULL;
	}
	j->timeout_ms = req->timeout_ms;
	j->done = req->done;
	j->arg = req->arg;
	j->started_us = now_us();
	return j;
}

/* Move what was submitted into the multi handle; returns how many. */
static int
take_incoming(void)
{
	struct job *list = take_all(&incoming, &incoming_tail), *j;
	int n = 0;

	while ((j = list) != NULL) {
		list = j->next;
		j->next = NULL;
		if (job_setup(j) == -1 ||
		    curl_multi_add_handle(multi, j->easy) != CURLM_OK) {
			job_finish(j, 0, j->errbuf[0] != '\0' ? j->errbuf :
			    "cannot start the request");
			continue;
		}
		j->next = active;
		active = j;
		n++;
	}
	return n;
}

static void
unlink_active(struct job *j)
{
	struct job **pp;

	for (pp = &active; *pp != NULL; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			return;
		}
}

static void
reap(void)
{
	CURLMsg *m;
	struct job *j;
	char *p;
	long status = 0;
	int left;

	while ((m = curl_multi_info_read(multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
		j = (struct job *)p;
		unlink_active(j);
		curl_multi_remove_handle(multi, j->easy);
		status = 0;
		j->cert_invalid = m->data.result ==
		    CURLE_PEER_FAILED_VERIFICATION;
		if (m->data.result == CURLE_OK)
			curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE,
			    &status);
		job_finish(j, status, j->errbuf[0] != '\0' ? j->errbuf :
		    curl_easy_strerror(m->data.result));
	}
}

/* Every transfer still in the multi handle ends with `why`. */
static void
abandon_all(const char *why)
{
	struct job *j;

	while ((j = active) != NULL) {
		active = j->next;
		curl_multi_remove_handle(multi, j->easy);
		job_finish(j, 0, why);
	}
}

static void *
httpc_main(void *unused)
{
	int still, stop;

	thread_name("gwd-httpc");
	(void)unused;
	for (;;) {
		pthread_mutex_lock(&mu);
		stop = stopping;
		pthread_mutex_unlock(&mu);
		if (stop)
			break;
		take_incoming();
		if (curl_multi_perform(multi, &still) != CURLM_OK)
			log_warnx("httpc: curl_multi_perform failed");
		reap();
		curl_multi_poll(multi, NULL, 0, IDLE_POLL_MS, NULL);
	}
	abandon_all("gwd is stopping");
	/* Submitted after the last take: refused the same way. */
	take_incoming();
	abandon_all("gwd is stopping");
	return NULL;
}

int
httpc_start(void)
{
	if (running)
		return 0;
	if (!waker_ready) {
		loop_waker_init(&waker, on_ended, NULL);
		waker_ready = 1;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (multi = curl_multi_init()) == NULL) {
		log_warnx("httpc: cannot initialise libcurl");
		return -1;
	}
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, 8L);
	pthread_mutex_lock(&mu);
	stopping = 0;
	if (pthread_create(&thread, NULL, httpc_main, NULL) != 0) {
		pthread_mutex_unlock(&mu);
		log_warnx("httpc: cannot start its thread");
		curl_multi_cleanup(multi);
		multi = NULL;
		return -1;
	}
	running = 1;
	pthread_mutex_unlock(&mu);
	return 0;
}

void
httpc_stop(void)
{
	pthread_mutex_lock(&mu);
	if (!running) {
		pthread_mutex_unlock(&mu);
		return;
	}
	stopping = 1;
	curl_multi_wakeup(multi);
	pthread_mutex_unlock(&mu);
	pthread_join(thread, NULL);
	curl_multi_cleanup(multi);
	multi = NULL;
	pthread_mutex_lock(&mu);
	running = 0;
	pthread_mutex_unlock(&mu);
	curl_global_cleanup();
	/* The loop has ended: what it did not deliver is delivered now,
	 * here, each done() told so. */
	deliver_ended(1);
}

/* Queue a copy of req; its done() on the loop, or (direct) on the httpc
 * thread. */
static int
submit(const struct httpc_request *req, int direct)
{
	struct job *j;

	if ((j = job_new(req)) == NULL)
		return -1;
	j->direct = direct;
	pthread_mutex_lock(&mu);
	if (!running || stopping) {
		pthread_mutex_unlock(&mu);
		j->done = NULL;
		job_free(j);
		return -1;
	}
	*incoming_tail = j;
	incoming_tail = &j->next;
	/* Under `mu`: httpc_stop() cannot free `multi` meanwhile. */
	curl_multi_wakeup(multi);
	pthread_mutex_unlock(&mu);
	return 0;
}

int
httpc_submit(const struct httpc_request *req)
{
	return submit(req, 0);
}

/* httpc_do(): the submitter waits on `cv` for done() to fill `out`. */
struct waiter {
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	int			 finished;
	struct httpc_reply	*out;
};

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static void
wait_done(void *arg, const struct httpc_reply *r)
{
	struct waiter *w = arg;
	struct httpc_reply *o = w->out;
	char *body;

	*o = *r;
	if ((body = malloc(r->body_len + 1)) != NULL) {
		memcpy(body, r->body, r->body_len);
		body[r->body_len] = '\0';
	} else
		o->body_len = 0;
	o->body = body;
	o->error = dup_or_null(r->error);
	o->content_type = dup_or_null(r->content_type);
	if (body == NULL && o->status != 0) {
		o->status = 0;
		o->error = dup_or_null("no memory for the reply");
	}
	pthread_mutex_lock(&w->mu);
	w->finished = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

int
httpc_do(const struct httpc_request *req, struct httpc_reply *out)
{
	struct httpc_request r = *req;
	struct waiter w;

	memset(out, 0, sizeof(*out));
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	w.finished = 0;
	w.out = out;
	r.done = wait_done;
	r.arg = &w;
	if (submit(&r, 1) == -1) {
		out->error = strdup("cannot submit the request (not an "
		    "http or https URL, or gwd is stopping)");
	} else {
		pthread_mutex_lock(&w.mu);
		while (!w.finished)
			pthread_cond_wait(&w.cv, &w.mu);
		pthread_mutex_unlock(&w.mu);
	}
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	return out->status != 0 ? 0 : -1;
}

void
httpc_reply_free(struct httpc_reply *r)
{
	free((char *)r->body);
	free((char *)r->error);
	free((char *)r->content_type);
	memset(r, 0, sizeof(*r));
}
