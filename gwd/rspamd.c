/*
 * rspamd.c - rspamd's /checkv2 from a content-scan worker, with libcurl.
 * Standards: RFC 9112 (HTTP/1.1); rspamd's protocol (envelope in the
 * request headers From, Rcpt, IP, Helo, User, Queue-Id; a JSON answer).
 * Exposure: sends the message to the configured URL (loopback, as a
 * rule); reads its answer through rspamd_reply.c, bounded in size.
 * Diagnostics: -1 with the reason; the caller decides (fail open or
 * closed) and logs.  Each worker thread keeps one curl handle, so the
 * connection to rspamd is reused from message to message.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "buf.h"
#include "log.h"
#include "rspamd.h"
#include "util.h"

static pthread_key_t	curl_key;
static pthread_once_t	curl_once = PTHREAD_ONCE_INIT;

/* httpc.c (gwd's other libcurl user) starts libcurl too; libcurl counts
 * the calls, so each user may make sure of its own. */
void
rspamd_global_init(void)
{
	static int done;

	if (!done && curl_global_init(CURL_GLOBAL_DEFAULT) == 0)
		done = 1;
}

static void
curl_end(void *h)
{
	curl_easy_cleanup(h);
}

static void
curl_key_make(void)
{
	if (pthread_key_create(&curl_key, curl_end) != 0)
		abort();
}

/* This thread's handle, its options reset. */
static CURL *
handle(void)
{
	CURL *h;

	pthread_once(&curl_once, curl_key_make);
	if ((h = pthread_getspecific(curl_key)) == NULL) {
		if ((h = curl_easy_init()) == NULL)
			return NULL;
		if (pthread_setspecific(curl_key, h) != 0)
			abort();
	} else
		curl_easy_reset(h);
	return h;
}

static size_t
take(char *p, size_t sz, size_t n, void *arg)
{
	struct buf *b = arg;

	/* Past RSPAMD_REPLY_MAX: 0 makes curl fail the transfer. */
	return buf_append(b, p, n * sz) == -1 ? 0 : n * sz;
}

/* "Name: value" with anything but printable ASCII as '?'. */
static struct curl_slist *
header(struct curl_slist *l, const char *name, const char *v)
{
	struct curl_slist *n;
	char *h;

	if (v == NULL || *v == '\0')
		return l;
	h = xasprintf("%s: %s", name, v);
	for (char *p = h + strlen(name) + 2; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	n = curl_slist_append(l, h);
	free(h);
	if (n == NULL)
		fatalx("out of memory");
	return n;
}

static struct curl_slist *
envelope(const struct rspamd_req *q)
{
	struct curl_slist *l = NULL;

	/* No "Expect: 100-continue": rspamd answers once it has it all. */
	if ((l = curl_slist_append(l, "Expect:")) == NULL)
		fatalx("out of memory");
	l = header(l, "From", q->from);
	for (int i = 0; i < q->nrcpt; i++)
		l = header(l, "Rcpt", q->rcpt[i]);
	l = header(l, "IP", q->ip);
	l = header(l, "Helo", q->helo);
	l = header(l, "User", q->user);
	l = header(l, "Queue-Id", q->qid);
	return l;
}

int
rspamd_check(const struct rspamd_req *q, const char *msg, size_t len,
    struct rspamd_reply *r, char *err, size_t errsz)
{
	struct curl_slist *hdrs;
	struct buf b;
	CURL *h;
	CURLcode c;
	long status = 0;
	char *url, cerr[CURL_ERROR_SIZE] = "";
	size_t ul = strlen(q->url);
	int rc = -1;

	if ((h = handle()) == NULL) {
		snprintf(err, errsz, "curl_easy_init failed");
		return -1;
	}
	while (ul > 0 && q->url[ul - 1] == '/')
		ul--;
	url = xasprintf("%.*s/checkv2", (int)ul, q->url);
	hdrs = envelope(q);
	buf_init(&b, RSPAMD_REPLY_MAX);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)q->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)q->timeout_ms);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, msg);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, take);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "gwd/" GW_VERSION);
	c = curl_easy_perform(h);
	if (c == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (c != CURLE_OK)
		snprintf(err, errsz, "%s", cerr[0] ? cerr :
		    curl_easy_strerror(c));
	else if (status != 200)
		snprintf(err, errsz, "HTTP status %ld", status);
	else
		rc = rspamd_reply_parse(buf_ptr(&b) ? buf_ptr(&b) : "",
		    buf_len(&b), r, err, errsz);
	/* The handle keeps none of these past the reset of the next use. */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hdrs);
	buf_free(&b);
	free(url);
	return rc;
}
