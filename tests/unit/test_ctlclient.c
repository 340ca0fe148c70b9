// sources:
/*
 * test_ctlclient.c - the control socket client gwctl and gwtop share,
 * against a real Unix socket served by a thread: the request goes out
 * with the protocol version word, a reply of any size up to the
 * buffer's maximum comes back whole (gwtop's fixed 128 KB buffer cut
 * longer ones silently), a longer one is an error, and silence or no
 * server are told apart.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
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

#include "buf.h"
#include "ctlclient.h"
#include "ctlproto.h"

struct server {
	int		 fd;
	char		 path[108];
	size_t		 reply_len;	/* bytes to answer */
	int		 silent;	/* accept, read, never answer */
	char		 request[CTL_REQ_MAX];
	pthread_t	 thread;
	int		 release[2];	/* a silent server waits on it */
};

/* Byte i of a test reply: lines of 63 letters. */
static char
byte_at(size_t i)
{
	return i % 64 == 63 ? '\n' : (char)('a' + i % 26);
}

static void *
serve(void *arg)
{
	struct server *s = arg;
	size_t got = 0, sent = 0;
	char *reply, c;
	ssize_t n;
	int fd = accept(s->fd, NULL, NULL);

	if (fd == -1)
		return NULL;
	while (got < sizeof(s->request) - 1 &&
	    (n = read(fd, s->request + got, 1)) == 1 &&
	    s->request[got++] != '\n')
		;
	s->request[got] = '\0';
	if (s->silent) {
		(void)read(s->release[0], &c, 1);
		close(fd);
		return NULL;
	}
	reply = malloc(s->reply_len + 1);
	for (size_t i = 0; i < s->reply_len; i++)
		reply[i] = byte_at(i);
	while (sent < s->reply_len && (n = send(fd, reply + sent,
	    s->reply_len - sent, MSG_NOSIGNAL)) > 0)
		sent += (size_t)n;
	free(reply);
	close(fd);
	return NULL;
}

static void
server_start(struct server *s, size_t reply_len, int silent)
{
	struct sockaddr_un sun;

	memset(s, 0, sizeof(*s));
	s->reply_len = reply_len;
	s->silent = silent;
	snprintf(s->path, sizeof(s->path), "/tmp/test_ctlclient.%d",
	    (int)getpid());
	unlink(s->path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, s->path, strlen(s->path) + 1);
	assert_int_not_equal(s->fd = socket(AF_UNIX, SOCK_STREAM, 0), -1);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&sun, sizeof(sun)),
	    0);
	assert_int_equal(listen(s->fd, 4), 0);
	assert_int_equal(pipe(s->release), 0);
	assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void
server_stop(struct server *s)
{
	assert_int_equal(write(s->release[1], "x", 1), 1);
	pthread_join(s->thread, NULL);
	close(s->fd);
	close(s->release[0]);
	close(s->release[1]);
	unlink(s->path);
}

static void
test_whole_reply_with_version_word(void **state)
{
	struct server s;
	struct buf b;
	int connected = 0;

	/* Eight times what gwtop's fixed buffer held. */
	server_start(&s, 1024 * 1024, 0);
	buf_init(&b, CTL_REPLY_MAX);
	assert_int_equal(ctlclient_ask(s.path, "stats", &b, 10000,
	    &connected), 0);
	server_stop(&s);
	assert_int_equal(connected, 1);
	assert_string_equal(s.request, CTL_VERSION_WORD " stats\n");
	assert_int_equal(buf_len(&b), 1024 * 1024);
	for (size_t i = 0; i < buf_len(&b); i++)
		if (buf_ptr(&b)[i] != byte_at(i))
			fail_msg("byte %zu differs", i);
	buf_free(&b);
}

static void
test_reply_over_the_maximum_is_an_error(void **state)
{
	struct server s;
	struct buf b;
	int connected = 0;

	server_start(&s, 200 * 1024, 0);
	buf_init(&b, 128 * 1024);
	errno = 0;
	assert_int_equal(ctlclient_ask(s.path, "pools", &b, 10000,
	    &connected), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(connected, 1);
	server_stop(&s);
	buf_free(&b);
}

static void
test_silence_times_out(void **state)
{
	struct server s;
	struct buf b;
	int connected = 0;

	server_start(&s, 0, 1);
	buf_init(&b, 0);
	errno = 0;
	assert_int_equal(ctlclient_ask(s.path, "ping", &b, 200, &connected),
	    -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_int_equal(connected, 1);
	server_stop(&s);
	buf_free(&b);
}

static void
test_no_server(void **state)
{
	struct buf b;
	char path[200];
	int connected = 1;

	buf_init(&b, 0);
	errno = 0;
	assert_int_equal(ctlclient_ask("/nonexistent/gw/control", "ping", &b,
	    1000, &connected), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(connected, 0);
	memset(path, 'x', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(ctlclient_ask(path, "ping", &b, 1000, NULL), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	buf_free(&b);
}

static void
test_bad_requests(void **state)
{
	char req[CTL_REQ_MAX];

	errno = 0;
	assert_int_equal(ctlclient_open("/nonexistent", "ping\nstats", 1000),
	    -1);
	assert_int_equal(errno, EINVAL);
	/* "v1 " + req + "\n" must stay shorter than CTL_REQ_MAX. */
	memset(req, 'q', sizeof(req) - 1);
	req[CTL_REQ_MAX - 4] = '\0';
	errno = 0;
	assert_int_equal(ctlclient_open("/nonexistent", req, 1000), -1);
	assert_int_equal(errno, EINVAL);
	req[CTL_REQ_MAX - 5] = '\0';
	errno = 0;
	assert_int_equal(ctlclient_open("/nonexistent", req, 1000), -1);
	assert_int_equal(errno, ENOENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_reply_with_version_word),
		cmocka_unit_test(test_reply_over_the_maximum_is_an_error),
		cmocka_unit_test(test_silence_times_out),
		cmocka_unit_test(test_no_server),
		cmocka_unit_test(test_bad_requests),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
