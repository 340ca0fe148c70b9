// sources: gwd/conn.c gwd/conn_tls.c gwd/conn_rec.c gwd/tlsrec.c gwd/loop.c gwd/tls.c
/*
 * test_conn_tls.c - conn.c over a real TLS pair on a socketpair: bytes
 * OpenSSL has read ahead are delivered even when the socket has nothing
 * more to say (the conn's input limit stopped the read with whole
 * records still in OpenSSL's buffer), and a pause that ends hands over
 * what arrived meanwhile.  Then the same with the session taken over
 * by conn_rec.c after the handshake (conn_tls_lean): 16 KB records into
 * a 1000-byte input limit, a reply of several records back to an
 * OpenSSL client, and close_notify at the close.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ssl.h>

#include "config.h"
#include "conn.h"
#include "loop.h"
#include "tls.h"

#define TOTAL	(64 * 1024)	/* four full records */
#define INMAX	1000		/* far less than a record */
#define BACK	(40 * 1000)	/* the lean server's reply: 3 records */

static struct {
	int		 lean;
	int		 switched;	/* conn_rec.c had it when data came */
	size_t		 back;		/* reply bytes the client checked */
	int		 notified;	/* the client saw close_notify */
	int		 fd;		/* the client's end */
	size_t		 got;
	int		 tls_ok;
	int		 timed_out;
	struct conn	*c;
	struct loop_waker waker;
	struct ev_timer	 deadline;
	struct ev_timer	 stop;
} t;

static void
on_read(struct conn *c)
{
	const char *p = buf_ptr(&c->in);
	size_t i;

	if (t.got == 0)
		t.switched = c->tls_rec;
	for (i = 0; i < buf_len(&c->in); i++)
		if (p[i] != (char)((t.got + i) % 251))
			fail_msg("byte %zu differs", t.got + i);
	t.got += buf_len(&c->in);
	buf_consume(&c->in, buf_len(&c->in));
	if (t.got >= TOTAL && t.lean) {
		char *back = malloc(BACK);

		for (i = 0; i < BACK; i++)
			back[i] = (char)(i % 7);
		assert_int_equal(conn_write(c, back, BACK), 0);
		free(back);
		conn_close_after_flush(c);
	} else if (t.got >= TOTAL)
		loop_stop();
}

static void
on_tls(struct conn *c, int ok)
{
	t.tls_ok = ok;
	/* Hold reading until the client has written everything; the lean
	 * server says "go" instead, and takes the session over once that
	 * is sent. */
	if (t.lean)
		conn_write(c, "g", 1);
	else
		conn_pause_read(c, 1);
}

static void
on_close(struct conn *c)
{
	t.c = NULL;		/* freed by the reap pass */
	loop_stop();
}

static const struct conn_ops ops = {
	.on_read = on_read,
	.on_tls = on_tls,
	.on_close = on_close,
};

static void
client_done(void *arg)
{
	conn_pause_read(t.c, 0);
}

static void
deadline(struct ev_timer *tm)
{
	/* A hang detector, not a measurement. */
	t.timed_out = 1;
	loop_stop();
}

static void
stop_now(struct ev_timer *tm)
{
	loop_stop();
}

static void *
client(void *arg)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = SSL_new(ctx);
	char *data = calloc(1, TOTAL);
	size_t off = 0;

	SSL_set_fd(ssl, t.fd);
	for (off = 0; off < TOTAL; off++)
		data[off] = (char)(off % 251);
	off = 0;
	if (SSL_connect(ssl) == 1 && t.lean) {
		char go;

		if (SSL_read(ssl, &go, 1) != 1)
			off = TOTAL;
	}
	if (SSL_is_init_finished(ssl))
		while (off < TOTAL) {
			int n = SSL_write(ssl, data + off, 16384);

			if (n <= 0)
				break;
			off += (size_t)n;
		}
	free(data);
	if (t.lean) {
		char b[4096];
		int n, i;

		while ((n = SSL_read(ssl, b, sizeof(b))) > 0)
			for (i = 0; i < n; i++, t.back++)
				if (b[i] != (char)(t.back % 7))
					return ssl;
		t.notified = SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN;
		return ssl;
	}
	loop_wakeup(&t.waker);
	/* Keep the connection open: EOF must not be what wakes gwd. */
	return ssl;
}

static void
run(int lean)
{
	char dir[] = "/tmp/gw-test-conn-XXXXXX", cert[64], key[64], err[256];
	struct gw_config cfg;
	SSL_CTX *ctx;
	SSL *cssl;
	pthread_t th;
	int sv[2];

	assert_non_null(mkdtemp(dir));
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	memset(&cfg, 0, sizeof(cfg));
	cfg.hostname = "gw.test";
	cfg.tls.certificate = cert;
	cfg.tls.key = key;
	cfg.tls.self_signed = 1;
	cfg.tls.ciphers = "ECDHE+AESGCM";
	cfg.tls.ciphersuites = "TLS_AES_128_GCM_SHA256";
	cfg.tls.groups = "X25519";
	cfg.tls.ticket_lifetime_ms = 0;
	ctx = tls_server_ctx(&cfg, err, sizeof(err));
	assert_non_null(ctx);
	memset(&t, 0, sizeof(t));
	t.lean = lean;
	if (lean)
		assert_int_equal(conn_tls_lean(ctx), 0);

	loop_init();
	conn_init_module();
	/* gwd's end non-blocking, the client's blocking. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	t.fd = sv[1];
	t.c = conn_new(sv[0], &ops, NULL, INMAX, 0);
	assert_non_null(t.c);
	assert_int_equal(conn_starttls(t.c, ctx, 1, NULL), 0);
	loop_waker_init(&t.waker, client_done, NULL);
	timer_init(&t.deadline, deadline, NULL);
	timer_add(&t.deadline, 20000);
	assert_int_equal(pthread_create(&th, NULL, client, NULL), 0);
	loop_run();
	assert_int_equal(t.tls_ok, 1);
	assert_int_equal(t.timed_out, 0);
	assert_int_equal(t.got, TOTAL);
	pthread_join(th, (void **)&cssl);
	if (lean) {
		assert_int_equal(t.switched, 1);
		assert_int_equal(t.back, BACK);
		assert_int_equal(t.notified, 1);
	}
	if (t.c != NULL)
		conn_close(t.c);
	timer_del(&t.deadline);
	timer_init(&t.stop, stop_now, NULL);
	timer_add(&t.stop, 0);
	loop_run();		/* one turn: the reap pass frees the conn */
	SSL_CTX_free(SSL_get_SSL_CTX(cssl));
	SSL_free(cssl);
	close(sv[1]);
	SSL_CTX_free(ctx);
	unlink(cert);
	unlink(key);
	rmdir(dir);
}

static void
test_read_ahead_delivered(void **state)
{
	run(0);
}

static void
test_lean_records_under_the_input_limit(void **state)
{
	run(1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_ahead_delivered),
		cmocka_unit_test(test_lean_records_under_the_input_limit),
	};

	signal(SIGPIPE, SIG_IGN);	/* as gwd: a failed test, not a death */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
