// sources:
/*
 * test_tally.c - common/tally.c against a real log.db made by db_open():
 * a batch adds up per minute and per hour, action and subaccount (NULL
 * is ''), with the hard bounces; many keys (the table grows); a second
 * batch adds to the rows; subtracting every event empties the table;
 * a cleared batch writes nothing.  Latencies: the log buckets (exact
 * below 16 ms, then 1/16 of a doubling), a percentile read from them
 * within 3.2% of the value and by nearest rank, their rows in
 * event_latency per minute and hour, gone when subtracted.
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
#include "tally.h"

#define MIN_US	60000000LL
#define HOUR_US	3600000000LL
#define T0	(480000LL * HOUR_US)	/* on an hour */
#define SUBS	300			/* well past the table's first size */

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

/* A fresh log.db in a new directory dir (a mkdtemp template), and a
 * tally on it. */
static sqlite3 *
tally_tmp(char *dir, struct tally *t)
{
	char err[512];
	sqlite3 *db;

	assert_non_null(mkdtemp(dir));
	db = db_open(dir, DB_LOG, DB_NOSYNC, err, sizeof(err));
	assert_non_null(db);
	assert_int_equal(tally_open(t, db), 0);
	return db;
}

static void
tally_tmp_done(const char *dir, struct tally *t, sqlite3 *db)
{
	char cmd[600];

	tally_close(t);
	db_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_tally(void **state)
{
	char dir[] = "/tmp/gw-tally-XXXXXX";
	struct tally t;
	sqlite3 *db;

	db = tally_tmp(dir, &t);

	batch(&t, 1);
	assert_int_equal(tally_flush(&t), 0);
	/* Per minute: a row per subaccount in minutes 0 and 61, one for
	 * auth; per hour: hours 0 and 1, auth in hour 0. */
	assert_int_equal(db_int(db, "SELECT count(*) FROM event_tally WHERE "
	    "span = 60"), 2 * SUBS + 1);
	assert_int_equal(db_int(db, "SELECT count(*) FROM event_tally WHERE "
	    "span = 3600"), 2 * SUBS + 1);
	assert_int_equal(db_int(db, "SELECT n FROM event_tally WHERE span = 60 "
	    "AND action = 'received' AND subaccount = 's7'"), 3);
	assert_int_equal(db_int(db, "SELECT hard FROM event_tally WHERE span = "
	    "3600 AND action = 'bounced' AND subaccount = 's299' AND bucket = "
	    "480001"), 1);
	assert_int_equal(db_int(db, "SELECT n FROM event_tally WHERE span = "
	    "3600 AND action = 'auth' AND subaccount = '' AND bucket = "
	    "480000"), 4);
	assert_int_equal(db_int(db, "SELECT sum(n) FROM event_tally WHERE "
	    "span = 60"), 5 * SUBS + 4);

	/* The same again adds to the rows; a cleared batch writes nothing. */
	batch(&t, 1);
	assert_int_equal(tally_flush(&t), 0);
	batch(&t, 1);
	tally_clear(&t);
	assert_int_equal(tally_flush(&t), 0);
	assert_int_equal(db_int(db, "SELECT sum(n) FROM event_tally WHERE "
	    "span = 3600"), 2 * (5 * SUBS + 4));
	assert_int_equal(db_int(db, "SELECT sum(hard) FROM event_tally WHERE "
	    "span = 60"), 2 * SUBS);

	/* Taking every event out leaves no row, not rows of 0. */
	batch(&t, -1);
	batch(&t, -1);
	assert_int_equal(tally_flush(&t), 0);
	assert_int_equal(db_int(db, "SELECT count(*) FROM event_tally"), 0);

	tally_tmp_done(dir, &t, db);
}

static void
test_lat_bucket(void **state)
{
	static const struct { int64_t ms; int lb; } cases[] = {
		{ -5, 0 }, { 0, 0 }, { 1, 1 }, { 15, 15 }, { 16, 16 },
		{ 31, 31 }, { 32, 32 }, { 33, 32 }, { 34, 33 },
		{ 1000, 111 },		/* 992 .. 1023 */
		{ 300000, 242 },	/* 294912 .. 311295 */
		{ INT64_MAX, TALLY_LAT_NB - 1 },
	};
	int64_t hist[TALLY_LAT_NB], m;
	int prev = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(tally_lat_bucket(cases[i].ms), cases[i].lb);
	/* Every value from 0 to a day, in steps of 1/1000: the buckets
	 * never go down, and one value alone reads back within 3.2%. */
	for (int64_t v = 0; v < 86400000; v += v / 1000 + 1) {
		int lb = tally_lat_bucket(v);

		assert_true(lb >= prev && lb < TALLY_LAT_NB);
		prev = lb;
		memset(hist, 0, sizeof(hist));
		hist[lb] = 3;
		m = tally_lat_pct(hist, 50);
		assert_true((m * 1000 >= v * 969 && m * 1000 <= v * 1032) ||
		    (v < 16 && m == v));
	}
}

static void
test_lat_pct(void **state)
{
	int64_t hist[TALLY_LAT_NB];

	memset(hist, 0, sizeof(hist));
	assert_int_equal(tally_lat_pct(hist, 50), -1);
	/* 1 .. 10 ms once each: nearest rank, exact below 16 ms. */
	for (int v = 1; v <= 10; v++)
		hist[tally_lat_bucket(v)]++;
	assert_int_equal(tally_lat_pct(hist, 50), 5);
	assert_int_equal(tally_lat_pct(hist, 51), 6);
	assert_int_equal(tally_lat_pct(hist, 95), 10);
	assert_int_equal(tally_lat_pct(hist, 0), 1);
	/* 99 of 1 s and one of 300 s: p95 is 1 s (its bucket's middle,
	 * 1007), p100 300 s's (303103). */
	memset(hist, 0, sizeof(hist));
	hist[tally_lat_bucket(1000)] = 99;
	hist[tally_lat_bucket(300000)] = 1;
	assert_int_equal(tally_lat_pct(hist, 95), 1007);
	assert_int_equal(tally_lat_pct(hist, 99), 1007);
	assert_int_equal(tally_lat_pct(hist, 100), 303103);
}

/* Latencies in event_latency per minute and hour, read back through
 * db_latency (whole hours, whole minutes and the partial minute's
 * events, of which there are none here); subtracted, no row is left. */
static void
test_latency_rows(void **state)
{
	char dir[] = "/tmp/gw-tally-XXXXXX";
	int64_t hist[TALLY_LAT_NB];
	struct tally t;
	sqlite3 *db;

	db = tally_tmp(dir, &t);
	for (int sign = 1; sign >= -1; sign -= 2) {
		for (int i = 0; i < 3; i++)
			assert_int_equal(tally_add_latency(&t, T0 + i, 40,
			    sign), 0);
		assert_int_equal(tally_add_latency(&t, T0 + 61 * MIN_US, 41,
		    sign), 0);	/* the bucket of 40 too */
		assert_int_equal(tally_add_latency(&t, T0 + 61 * MIN_US,
		    5000, sign), 0);
		assert_int_equal(tally_flush(&t), 0);
		if (sign == -1)
			break;
		assert_int_equal(db_int(db, "SELECT n FROM event_latency WHERE "
		    "span = 60 AND bucket = 28800000 AND lb = 36"), 3);
		assert_int_equal(db_int(db, "SELECT n FROM event_latency WHERE "
		    "span = 3600 AND bucket = 480001 AND lb = 36"), 1);
		assert_int_equal(db_int(db, "SELECT count(*) FROM "
		    "event_latency"), 6);
		/* From minute 1: hour 1's rows only (minute 61). */
		assert_int_equal(db_latency(db, T0 + MIN_US, hist), 0);
		assert_int_equal(hist[36], 1);
		assert_int_equal(hist[tally_lat_bucket(5000)], 1);
		/* 40 and 41 share the bucket 40 .. 41: its middle, 40. */
		assert_int_equal(tally_lat_pct(hist, 50), 40);
		/* From the start: all five. */
		assert_int_equal(db_latency(db, T0, hist), 0);
		assert_int_equal(hist[36], 4);
		assert_int_equal(tally_lat_pct(hist, 95), 4991);	/* 4864 .. 5119 */
	}
	assert_int_equal(db_int(db, "SELECT count(*) FROM event_latency"), 0);
	tally_tmp_done(dir, &t, db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tally),
		cmocka_unit_test(test_lat_bucket),
		cmocka_unit_test(test_lat_pct),
		cmocka_unit_test(test_latency_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
