// sources:
/*
 * test_cshare.c - the pure parts of cluster mode (common/cshare.c): a
 * node's share of a budget while Redis is away, the batch of tokens it
 * asks for, the local token cache the scheduler asks synchronously, and
 * that the scripts' SHA1 is what Redis's SCRIPT LOAD names them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cshare.h"
#include "util.h"

static void
test_share(void **state)
{
	static const struct {
		int64_t	 budget;
		int	 live, want;
	} t[] = {
		{ 60, 1, 60 }, { 60, 2, 30 }, { 60, 3, 20 },
		{ 10, 3, 3 },		/* rounded down */
		{ 1, 2, 1 },		/* never 0: the node keeps going */
		{ 60, 0, 60 },		/* none seen: alone */
		{ 0, 2, 0 },		/* no limit stays none */
		{ -1, 2, -1 },
	};

	for (size_t i = 0; i < nitems(t); i++)
		assert_int_equal(cshare_share(t[i].budget, t[i].live),
		    t[i].want);
}

static void
test_batch(void **state)
{
	assert_int_equal(cshare_batch(1), 1);
	assert_int_equal(cshare_batch(60), 1);
	assert_int_equal(cshare_batch(600), 10);
	assert_int_equal(cshare_batch(1000000), TCACHE_BATCH_MAX);
}

static void
test_tcache_cycle(void **state)
{
	struct tcache t = { 0 };
	int ask;

	/* Empty: ask Redis, once. */
	assert_int_equal(tcache_wait(&t, 1000, &ask), TCACHE_POLL_MS);
	assert_int_equal(ask, 1);
	tcache_asked(&t);
	assert_int_equal(tcache_wait(&t, 1001, &ask), TCACHE_POLL_MS);
	assert_int_equal(ask, 0);
	/* Two granted: two go, then ask again. */
	tcache_granted(&t, 2, 0, 1005);
	assert_int_equal(tcache_wait(&t, 1006, &ask), 0);
	tcache_use(&t);
	assert_int_equal(tcache_wait(&t, 1007, &ask), 0);
	tcache_use(&t);
	tcache_use(&t);			/* never below 0 */
	assert_int_equal(t.tokens, 0);
	tcache_wait(&t, 1008, &ask);
	assert_int_equal(ask, 1);
}

/* Down to half the last grant: the next is asked for while tokens are
 * still held, once, and adds to them. */
static void
test_tcache_asks_before_running_out(void **state)
{
	struct tcache t = { 0 };
	int ask;

	tcache_wait(&t, 0, &ask);
	tcache_asked(&t);
	tcache_granted(&t, 10, 0, 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(tcache_wait(&t, 1, &ask), 0);
		assert_int_equal(ask, 0);
		tcache_use(&t);
	}
	assert_int_equal(tcache_wait(&t, 2, &ask), 0);	/* 5 left */
	assert_int_equal(ask, 1);
	tcache_asked(&t);
	tcache_use(&t);
	assert_int_equal(tcache_wait(&t, 3, &ask), 0);	/* asked already */
	assert_int_equal(ask, 0);
	tcache_granted(&t, 10, 0, 4);
	assert_int_equal(t.tokens, 14);
	assert_int_equal(tcache_wait(&t, 5, &ask), 0);
	assert_int_equal(ask, 0);
	/* A refusal (none for 700 ms) is not asked again before then. */
	for (int i = 0; i < 9; i++)
		tcache_use(&t);
	tcache_wait(&t, 6, &ask);
	assert_int_equal(ask, 1);
	tcache_asked(&t);
	tcache_granted(&t, 0, 700, 7);
	assert_int_equal(tcache_wait(&t, 8, &ask), 0);
	assert_int_equal(ask, 0);
	assert_int_equal(tcache_wait(&t, 707, &ask), 0);
	assert_int_equal(ask, 1);
}

static void
test_tcache_refused_waits_for_redis(void **state)
{
	struct tcache t = { 0 };
	int ask;

	tcache_wait(&t, 0, &ask);
	tcache_asked(&t);
	tcache_granted(&t, 0, 700, 100);	/* none for 700 ms */
	assert_int_equal(tcache_wait(&t, 300, &ask), 500);
	assert_int_equal(ask, 0);
	tcache_wait(&t, 800, &ask);
	assert_int_equal(ask, 1);
}

static void
test_tcache_tokens_lapse(void **state)
{
	struct tcache t = { 0 };
	int ask;

	tcache_asked(&t);
	tcache_granted(&t, 5, 0, 0);
	assert_int_equal(tcache_wait(&t, TCACHE_HOLD_MS - 1, &ask), 0);
	/* Held too long: void, so they cannot bunch up with newer ones. */
	assert_int_not_equal(tcache_wait(&t, TCACHE_HOLD_MS, &ask), 0);
	assert_int_equal(t.tokens, 0);
	assert_int_equal(ask, 1);
}

static void
test_tcache_failed_asks_again(void **state)
{
	struct tcache t = { 0 };
	int ask;

	tcache_asked(&t);
	tcache_failed(&t);
	tcache_wait(&t, 10, &ask);
	assert_int_equal(ask, 1);
}

static void
test_script_sha(void **state)
{
	const char *sha = cshare_script_sha(CS_GCRA);

	assert_int_equal(strlen(sha), 40);
	assert_string_equal(sha, cshare_script_sha(CS_GCRA));
	assert_string_not_equal(sha, cshare_script_sha(CS_SUPPRESS));
	assert_non_null(strstr(cshare_script(CS_SUPPRESS), "XADD"));
}

static void
test_redis_addr(void **state)
{
	char ip[64];
	int port;

	assert_int_equal(cshare_redis_addr("127.0.0.1:6380", ip, sizeof(ip),
	    &port), 0);
	assert_string_equal(ip, "127.0.0.1");
	assert_int_equal(port, 6380);
	assert_int_equal(cshare_redis_addr("[::1]:7000", ip, sizeof(ip),
	    &port), 0);
	assert_string_equal(ip, "::1");
	assert_int_equal(port, 7000);
	assert_int_equal(cshare_redis_addr("10.0.0.5", ip, sizeof(ip), &port),
	    0);
	assert_int_equal(port, 6379);
	assert_int_equal(cshare_redis_addr("redis.example:6379", ip,
	    sizeof(ip), &port), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_share),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_tcache_cycle),
		cmocka_unit_test(test_tcache_asks_before_running_out),
		cmocka_unit_test(test_tcache_refused_waits_for_redis),
		cmocka_unit_test(test_tcache_tokens_lapse),
		cmocka_unit_test(test_tcache_failed_asks_again),
		cmocka_unit_test(test_script_sha),
		cmocka_unit_test(test_redis_addr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
