// sources: gwd/window.c
/*
 * test_window.c - window_init() seeds the per-subaccount counts from a
 * real log.db made by db_open(): which events of the last day count in
 * which counter (window.h), one read of them all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db.h"
#include "util.h"
#include "window.h"

/* One event: subaccount, action, client address, sender; n of them,
 * of message qid. */
struct ev {
	const char	*sub, *action, *client, *sender;
	int		 age_min;	/* minutes ago */
	int		 n;
	const char	*qid;
};

static void
add(sqlite3 *db, const struct ev *e, int64_t now)
{
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO event (ts,"
	    " action, subaccount, client_ip, sender, qid)"
	    " VALUES (?, ?, ?, ?, ?, ?)", -1, &st, NULL), SQLITE_OK);
	for (int i = 0; i < e->n; i++) {
		sqlite3_bind_int64(st, 1, now - (int64_t)e->age_min * 60000000);
		sqlite3_bind_text(st, 2, e->action, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, e->sub, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, e->client, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, e->sender, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, e->qid, -1, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
}

static void
test_seed_counts(void **state)
{
	static const struct ev evs[] = {
		/* A client's mail counts as accepted, null sender too. */
		{ "a", "received", "192.0.2.1", "x@a.test", 5, 3, NULL },
		{ "a", "received", "192.0.2.1", "", 70, 2, "CNS1" },
		/* A DSN gwd made: no client. */
		{ "a", "received", NULL, "", 5, 4, "DSN1" },
		/* Final outcomes, not of gwd's DSNs. */
		{ "a", "delivered", NULL, "x@a.test", 5, 5, NULL },
		{ "a", "expired", NULL, "x@a.test", 5, 1, NULL },
		{ "a", "bounced", NULL, "x@a.test", 90, 2, NULL },
		{ "a", "delivered", NULL, "", 5, 7, "DSN1" },
		{ "a", "bounced", NULL, NULL, 5, 7, NULL },
		/* A client's null-sender mail counts, as outcome.c counts
		 * it, also when it was received before the day. */
		{ "a", "delivered", NULL, "", 30, 1, "CNS1" },
		{ "a", "bounced", NULL, "", 30, 1, "CNS1" },
		{ "a", "received", "192.0.2.1", "", 2 * WIN_DAY, 1, "CNS2" },
		{ "a", "bounced", NULL, "", 5, 1, "CNS2" },
		{ "a", "received", NULL, "", 2 * WIN_DAY, 1, "DSN2" },
		{ "a", "expired", NULL, "", 5, 1, "DSN2" },
		/* Not final; not counted at all. */
		{ "a", "deferred", NULL, "x@a.test", 5, 6, NULL },
		{ "a", "rejected", "192.0.2.1", "x@a.test", 5, 6, NULL },
		/* Older than a day. */
		{ "a", "received", "192.0.2.1", "x@a.test", WIN_DAY + 5, 8,
		    NULL },
		{ "a", "delivered", NULL, "x@a.test", WIN_DAY + 5, 8, NULL },
		/* Another subaccount; none. */
		{ "b", "received", "192.0.2.2", "y@b.test", 5, 1, NULL },
		{ NULL, "received", "192.0.2.3", "z@c.test", 5, 9, NULL },
	};
	int64_t now = now_us();
	char dir[] = "/tmp/test_window.XXXXXX", err[256], cmd[64];
	sqlite3 *db;

	(void)state;
	assert_non_null(mkdtemp(dir));
	db = db_open(dir, DB_LOG, DB_NOSYNC, err, sizeof(err));
	assert_non_null(db);
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		add(db, &evs[i], now);
	db_close(db);

	assert_int_equal(window_init(dir, err, sizeof(err)), 0);
	assert_int_equal(window_sum("a", WIN_ACCEPTED, now, WIN_DAY), 5);
	assert_int_equal(window_sum("a", WIN_ACCEPTED, now, WIN_HOUR), 3);
	assert_int_equal(window_sum("a", WIN_FINAL, now, WIN_DAY), 11);
	assert_int_equal(window_sum("a", WIN_FINAL, now, WIN_HOUR), 9);
	assert_int_equal(window_sum("a", WIN_BOUNCED, now, WIN_DAY), 4);
	assert_int_equal(window_sum("a", WIN_BOUNCED, now, WIN_HOUR), 2);
	assert_int_equal(window_sum("b", WIN_ACCEPTED, now, WIN_DAY), 1);
	assert_int_equal(window_sum("b", WIN_FINAL, now, WIN_DAY), 0);
	assert_int_equal(window_sum("c", WIN_ACCEPTED, now, WIN_DAY), 0);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
