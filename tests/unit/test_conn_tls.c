// sources: gwd/conn.c gwd/conn_tls.c gwd/loop.c gwd/tls.c
/*
 * test_conn_tls.c - conn.c over a real TLS pair on a socketpair: bytes
 * OpenSSL has read ahead are delivered even when the socket has nothing
 * more to say (the conn's input limit stopped the read with whole
 * records still in OpenSSL's buffer), and a pause that ends hands over
 * what arrived meanwhile.
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

static struct {
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
	t.got += buf_len(&c->in);
	buf_consume(&c->in, buf_len(&c->in));
	if (t.got >= TOTAL)
		loop_stop();
}

static void
on_tls(struct conn *c, int ok)
{
	t.tls_ok = ok;
	/* Hold reading until the client has written everything. */
	conn_pause_read(c, 1);
}

static void
on_close(struct conn *c)
{
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
	if (SSL_connect(ssl) == 1)
		while (off < TOTAL) {
			int n = SSL_write(ssl, data + off, 16384);

			if (n <= 0)
				break;
			off += (size_t)n;
		}
	free(data);
	loop_wakeup(&t.waker);
	/* Keep the connection open: EOF must not be what wakes gwd. */
	return ssl;
}

static void
test_read_ahead_delivered(void **state)
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_ahead_delivered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
