// sources: gwd/httpc.c gwd/loop.c
/*
 * test_httpc.c - gwd's HTTP client (gwd/httpc.c) against a small HTTP
 * server on a loopback port, run by a thread of this test: what is sent
 * arrives as sent, replies come back whole or cut at HTTPC_BODY_MAX,
 * deadlines end a hung exchange, only http and https are spoken, each
 * done() runs once and on the loop's thread (this test's main thread
 * runs gwd's loop), and a stop ends what is in flight with a reason,
 * its done() run inside httpc_stop() and told so.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "httpc.h"
#include "loop.h"

/* What the server answers, chosen by the request's path. */
#define BIG_REPLY	(HTTPC_BODY_MAX + 40000)

static int srv_fd;
static int srv_port;
static pthread_mutex_t srv_mu = PTHREAD_MUTEX_INITIALIZER;
static char last_request[8192];		/* head and body of the last one */
static int hung_fds[64], nhung;
static pthread_t main_thread;		/* the loop's */

/* Read one request (head, then Content-Length bytes); its length, or
 * -1 when the client went away. */
static int
read_request(int fd, char *buf, size_t size)
{
	size_t len = 0, need = 0;
	char *end, *cl;
	ssize_t n;

	for (;;) {
		if (len + 1 >= size)
			return -1;
		if ((n = read(fd, buf + len, size - len - 1)) <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (need == 0 && (end = strstr(buf, "\r\n\r\n")) != NULL) {
			need = (size_t)(end - buf) + 4;
			if ((cl = strcasestr(buf, "\r\nContent-Length:")) !=
			    NULL && cl < end)
				need += strtoul(cl + 17, NULL, 10);
		}
		if (need != 0 && len >= need)
			return (int)len;
	}
}

static void
answer(int fd, const char *status, const char *body, size_t len)
{
	char head[256];
	size_t off = 0;
	ssize_t n;

	snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Type: "
	    "text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
	    status, len);
	(void)!write(fd, head, strlen(head));
	while (off < len && (n = write(fd, body + off, len - off)) > 0)
		off += (size_t)n;
}

static void *
server(void *unused)
{
	char req[8192];
	char *big;
	int fd;

	(void)unused;
	big = malloc(BIG_REPLY);
	memset(big, 'x', BIG_REPLY);
	while ((fd = accept(srv_fd, NULL, NULL)) >= 0) {
		if (read_request(fd, req, sizeof(req)) < 0) {
			close(fd);
			continue;
		}
		pthread_mutex_lock(&srv_mu);
		memcpy(last_request, req, sizeof(req));
		pthread_mutex_unlock(&srv_mu);
		if (strncmp(strchr(req, ' ') + 1, "/hang ", 6) == 0) {
			/* Never answered; closed when the test ends. */
			pthread_mutex_lock(&srv_mu);
			if (nhung < 64)
				hung_fds[nhung++] = fd;
			pthread_mutex_unlock(&srv_mu);
			continue;
		}
		if (strncmp(strchr(req, ' ') + 1, "/big ", 5) == 0)
			answer(fd, "200 OK", big, BIG_REPLY);
		else if (strncmp(strchr(req, ' ') + 1, "/fail ", 6) == 0)
			answer(fd, "500 Internal Server Error", "down", 4);
		else
			answer(fd, "201 Created", "ok", 2);
		close(fd);
	}
	free(big);
	return NULL;
}

static int
setup(void **state)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	pthread_t t;
	int one = 1;

	(void)state;
	srv_fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(srv_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(srv_fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(srv_fd, 64) == -1 ||
	    getsockname(srv_fd, (struct sockaddr *)&sin, &len) == -1)
		return -1;
	srv_port = ntohs(sin.sin_port);
	if (pthread_create(&t, NULL, server, NULL) != 0)
		return -1;
	pthread_detach(t);
	main_thread = pthread_self();
	loop_init();
	return httpc_start();
}

static int
teardown(void **state)
{
	(void)state;
	httpc_stop();
	shutdown(srv_fd, SHUT_RDWR);
	for (int i = 0; i < nhung; i++)
		close(hung_fds[i]);
	return 0;
}

static void
url(char *buf, size_t size, const char *path)
{
	snprintf(buf, size, "http://127.0.0.1:%d%s", srv_port, path);
}

static void
test_post_round_trip(void **state)
{
	static const char *const hdrs[] = { "Content-Type: application/json",
	    "GW-Signature: t=1,v1=ab", NULL };
	struct httpc_request req = { .method = "POST", .headers = hdrs,
	    .body = "{\"a\":1}", .body_len = 7 };
	struct httpc_reply r;
	char u[128];

	(void)state;
	url(u, sizeof(u), "/hook");
	req.url = u;
	assert_int_equal(httpc_do(&req, &r), 0);
	assert_int_equal(r.status, 201);
	assert_null(r.error);
	assert_string_equal(r.body, "ok");
	assert_int_equal(r.body_len, 2);
	assert_false(r.body_truncated);
	assert_non_null(r.content_type);
	assert_string_equal(r.content_type, "text/plain");
	pthread_mutex_lock(&srv_mu);
	assert_memory_equal(last_request, "POST /hook HTTP/1.1\r\n", 21);
	assert_non_null(strstr(last_request, "\r\nGW-Signature: t=1,v1=ab\r\n"));
	assert_non_null(strstr(last_request, "\r\nContent-Length: 7\r\n"));
	/* No 100-continue wait, and the body exactly as given. */
	assert_null(strcasestr(last_request, "\r\nExpect:"));
	assert_non_null(strstr(last_request, "\r\n\r\n{\"a\":1}"));
	pthread_mutex_unlock(&srv_mu);
	httpc_reply_free(&r);

	/* A server error is a reply, not a failure. */
	url(u, sizeof(u), "/fail");
	req.url = u;
	assert_int_equal(httpc_do(&req, &r), 0);
	assert_int_equal(r.status, 500);
	assert_string_equal(r.body, "down");
	httpc_reply_free(&r);
}

static void
test_big_reply_cut(void **state)
{
	struct httpc_request req = { 0 };
	struct httpc_reply r;
	char u[128];

	(void)state;
	url(u, sizeof(u), "/big");
	req.url = u;
	assert_int_equal(httpc_do(&req, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, HTTPC_BODY_MAX);
	assert_true(r.body_truncated);
	assert_int_equal(strlen(r.body), HTTPC_BODY_MAX);
	httpc_reply_free(&r);
	pthread_mutex_lock(&srv_mu);
	assert_memory_equal(last_request, "GET /big HTTP/1.1\r\n", 19);
	pthread_mutex_unlock(&srv_mu);
}

static void
test_deadline_and_refusal(void **state)
{
	struct httpc_request req = { .timeout_ms = 300 };
	struct httpc_reply r;
	char u[128];
	int fd, port;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	(void)state;
	url(u, sizeof(u), "/hang");
	req.url = u;
	assert_int_equal(httpc_do(&req, &r), -1);
	assert_int_equal(r.status, 0);
	assert_non_null(r.error);
	if (strcasestr(r.error, "timed out") == NULL)
		fail_msg("not a timeout: %s", r.error);
	httpc_reply_free(&r);

	/* A port nobody listens on (bound, never listened). */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/x", port);
	req.url = u;
	assert_int_equal(httpc_do(&req, &r), -1);
	assert_int_equal(r.status, 0);
	assert_non_null(r.error);
	httpc_reply_free(&r);
	close(fd);
}

static void
test_only_http(void **state)
{
	static const char *const bad[] = { "file:///etc/passwd",
	    "gopher://127.0.0.1/", "ftp://127.0.0.1/", "/relative", "",
	    "httpx://127.0.0.1/" };
	struct httpc_request req = { 0 };
	struct httpc_reply r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		req.url = bad[i];
		assert_int_equal(httpc_submit(&req), -1);
		assert_int_equal(httpc_do(&req, &r), -1);
		assert_int_equal(r.status, 0);
		assert_non_null(r.error);
		httpc_reply_free(&r);
	}
	req.url = NULL;
	assert_int_equal(httpc_submit(&req), -1);
}

/* Many submitters at once: every request ends once, with its reply. */
#define NSUB	8
#define PERSUB	10
static pthread_mutex_t count_mu = PTHREAD_MUTEX_INITIALIZER;
static int calls[NSUB * PERSUB], ended, off_loop, late;

static void
count_done(void *arg, const struct httpc_reply *r)
{
	int i = (int)(intptr_t)arg;

	pthread_mutex_lock(&count_mu);
	calls[i] += r->status == 201 ? 1 : 1000;
	ended++;
	off_loop += !pthread_equal(pthread_self(), main_thread);
	late += r->stopping;
	pthread_mutex_unlock(&count_mu);
}

/* The loop runs until every request has ended. */
static void
all_ended(struct ev_timer *t)
{
	pthread_mutex_lock(&count_mu);
	if (ended == NSUB * PERSUB)
		loop_stop();
	else
		timer_add(t, 10);
	pthread_mutex_unlock(&count_mu);
}

static void *
submitter(void *arg)
{
	int base = (int)(intptr_t)arg * PERSUB;
	char u[128];
	struct httpc_request req = { .method = "POST", .body = "e",
	    .body_len = 1, .done = count_done };

	url(u, sizeof(u), "/many");
	req.url = u;
	for (int i = 0; i < PERSUB; i++) {
		req.arg = (void *)(intptr_t)(base + i);
		if (httpc_submit(&req) == -1)
			abort();
	}
	return NULL;
}

static void
test_concurrent_submitters(void **state)
{
	pthread_t t[NSUB];
	struct ev_timer check;

	(void)state;
	for (int i = 0; i < NSUB; i++)
		assert_int_equal(pthread_create(&t[i], NULL, submitter,
		    (void *)(intptr_t)i), 0);
	for (int i = 0; i < NSUB; i++)
		pthread_join(t[i], NULL);
	timer_init(&check, all_ended, NULL);
	timer_add(&check, 0);
	loop_run();
	pthread_mutex_lock(&count_mu);
	for (int i = 0; i < NSUB * PERSUB; i++)
		assert_int_equal(calls[i], 1);
	/* Every done() on the loop's thread, none told "stopping". */
	assert_int_equal(off_loop, 0);
	assert_int_equal(late, 0);
	pthread_mutex_unlock(&count_mu);
}

/* Last: stopping ends a hung exchange with a reason, its done() runs
 * inside httpc_stop() on the stopping thread, told so, and submissions
 * after the stop are refused. */
static int stop_calls, stop_on_loop, stop_late;
static char stop_error[256];

static void
stop_done(void *arg, const struct httpc_reply *r)
{
	(void)arg;
	stop_calls++;
	stop_on_loop = pthread_equal(pthread_self(), main_thread);
	stop_late = r->stopping;
	snprintf(stop_error, sizeof(stop_error), "%s",
	    r->error != NULL ? r->error : "");
}

static void
test_stop_in_flight(void **state)
{
	struct httpc_request req = { .timeout_ms = 60000, .done = stop_done };
	char u[128];
	int before;

	(void)state;
	pthread_mutex_lock(&srv_mu);
	before = nhung;
	pthread_mutex_unlock(&srv_mu);
	url(u, sizeof(u), "/hang");
	req.url = u;
	assert_int_equal(httpc_submit(&req), 0);
	/* Wait until the server holds the request, so it is in flight. */
	for (;;) {
		pthread_mutex_lock(&srv_mu);
		int now = nhung;
		pthread_mutex_unlock(&srv_mu);
		if (now > before)
			break;
		usleep(10000);
	}
	httpc_stop();
	assert_int_equal(stop_calls, 1);
	assert_string_equal(stop_error, "gwd is stopping");
	assert_true(stop_on_loop);
	assert_true(stop_late);
	assert_int_equal(httpc_submit(&req), -1);
	assert_int_equal(stop_calls, 1);
	httpc_stop();			/* twice is harmless */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_post_round_trip),
		cmocka_unit_test(test_big_reply_cut),
		cmocka_unit_test(test_deadline_and_refusal),
		cmocka_unit_test(test_only_http),
		cmocka_unit_test(test_concurrent_submitters),
		cmocka_unit_test(test_stop_in_flight),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
