// sources:
/*
 * test_tally.c - common/tally.c against a real log.db made by db_open():
 * a batch adds up per minute and per hour, action and subaccount (NULL
 * is ''), with the hard bounces; many keys (the table grows); a second
 * batch adds to the rows; subtracting every event empties the table;
 * a cleared batch writes nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "db.h"
#include "tally.h"

#define MIN_US	60000000LL
#define HOUR_US	3600000000LL
#define T0	(480000LL * HOUR_US)	/* on an hour */
#define SUBS	300			/* well past the table's first size */

static int64_t
count(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t n = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Events: for each subaccount s, 3 received in minute 0 and 2 bounced
 * (one hard) in minute 61 (the next hour), plus 4 with no subaccount. */
static void
batch(struct tally *t, int sign)
{
	char sub[16];

	for (int s = 0; s < SUBS; s++) {
		snprintf(sub, sizeof(sub), "s%d", s);
		for (int i = 0; i < 3; i++)
			assert_int_equal(tally_add(t, T0 + i, "received", sub,
			    0, sign), 0);
		assert_int_equal(tally_add(t, T0 + 61 * MIN_US, "bounced", sub,
		    1, sign), 0);
		assert_int_equal(tally_add(t, T0 + 61 * MIN_US + 5, "bounced",
		    sub, 0, sign), 0);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(tally_add(t, T0 + 59 * MIN_US, "auth", NULL,
		    0, sign), 0);
}

static void
test_tally(void **state)
{
	char dir[] = "/tmp/gw-tally-XXXXXX", err[512], cmd[600];
	struct tally t;
	sqlite3 *db;

	assert_non_null(mkdtemp(dir));
	db = db_open(dir, DB_LOG, DB_NOSYNC, err, sizeof(err));
	assert_non_null(db);
	assert_int_equal(tally_open(&t, db), 0);

	batch(&t, 1);
	assert_int_equal(tally_flush(&t), 0);
	/* Per minute: a row per subaccount in minutes 0 and 61, one for
	 * auth; per hour: hours 0 and 1, auth in hour 0. */
	assert_int_equal(count(db, "SELECT count(*) FROM event_tally WHERE "
	    "span = 60"), 2 * SUBS + 1);
	assert_int_equal(count(db, "SELECT count(*) FROM event_tally WHERE "
	    "span = 3600"), 2 * SUBS + 1);
	assert_int_equal(count(db, "SELECT n FROM event_tally WHERE span = 60 "
	    "AND action = 'received' AND subaccount = 's7'"), 3);
	assert_int_equal(count(db, "SELECT hard FROM event_tally WHERE span = "
	    "3600 AND action = 'bounced' AND subaccount = 's299' AND bucket = "
	    "480001"), 1);
	assert_int_equal(count(db, "SELECT n FROM event_tally WHERE span = "
	    "3600 AND action = 'auth' AND subaccount = '' AND bucket = "
	    "480000"), 4);
	assert_int_equal(count(db, "SELECT sum(n) FROM event_tally WHERE "
	    "span = 60"), 5 * SUBS + 4);

	/* The same again adds to the rows; a cleared batch writes nothing. */
	batch(&t, 1);
	assert_int_equal(tally_flush(&t), 0);
	batch(&t, 1);
	tally_clear(&t);
	assert_int_equal(tally_flush(&t), 0);
	assert_int_equal(count(db, "SELECT sum(n) FROM event_tally WHERE "
	    "span = 3600"), 2 * (5 * SUBS + 4));
	assert_int_equal(count(db, "SELECT sum(hard) FROM event_tally WHERE "
	    "span = 60"), 2 * SUBS);

	/* Taking every event out leaves no row, not rows of 0. */
	batch(&t, -1);
	batch(&t, -1);
	assert_int_equal(tally_flush(&t), 0);
	assert_int_equal(count(db, "SELECT count(*) FROM event_tally"), 0);

	tally_close(&t);
	db_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tally),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
