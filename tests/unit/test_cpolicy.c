// sources:
/*
 * test_cpolicy.c - content policies over a real gw.db: loading (an
 * action of a later version skipped, detectors shared), conditions,
 * thresholds on distinct values, the first blocking policy, and the
 * audit detail (counts, masked matches, what was not read).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cpolicy.h"
#include "db.h"

static sqlite3 *
gwdb(char *dir)
{
	char err[256];
	sqlite3 *db;

	assert_non_null(mkdtemp(dir));
	db = db_open(dir, DB_GW, 0, err, sizeof(err));
	assert_non_null(db);
	assert_int_equal(sqlite3_exec(db,
	    "INSERT INTO content_policy (name, detector, min_count, action,"
	    " subaccount, from_domain, to_domain, created) VALUES"
	    " ('pci', 'card', 2, 'block', NULL, NULL, NULL, 0),"
	    " ('pci-partner', 'card', 1, 'tag', NULL, NULL, '*.partner.test', 0),"
	    " ('hr', 'ssn', 1, 'tag', 'app', 'example.com', NULL, 0),"
	    " ('later', 'ssn', 1, 'encrypt', NULL, NULL, NULL, 0)",
	    NULL, NULL, NULL), SQLITE_OK);
	return db;
}

static void
gwdb_remove(sqlite3 *db, const char *dir)
{
	db_close(db);
	for (const char *const *f = (const char *const[]){ "gw.db",
	    "gw.db-wal", "gw.db-shm", NULL }; *f; f++) {
		char p[64];

		snprintf(p, sizeof(p), "%s/%s", dir, *f);
		unlink(p);
	}
	rmdir(dir);
}

static const char MSG[] =
    "Subject: x\r\n\r\n4111 1111 1111 1111, 4111111111111111, 123-45-6789\r\n";

static void
test_load_and_decide(void **state)
{
	char dir[] = "/tmp/gw-cpol-XXXXXX", err[300];
	const char *rcpt[] = { "a@dest.test", "b@x.partner.test" };
	struct cpol_msg m = { "app", "me@example.com", rcpt, 1 };
	struct cpol_verdict v;
	struct cpol_set *s;
	struct buf b;
	sqlite3 *db = gwdb(dir);

	assert_int_equal(cpol_load(db, &s, err, sizeof(err)), 0);
	assert_int_equal(s->n, 3);		/* "later" is not this version's */
	assert_int_equal(s->nspecs, 2);		/* card once, ssn once */
	assert_int_equal(s->p[0].det, s->p[1].det);
	assert_false(s->attach);		/* no libmagic for these */
	assert_false(s->uribl);
	assert_true(cpol_applies(&s->p[2], &m));
	assert_false(cpol_applies(&s->p[1], &m));
	m.nrcpt = 2;
	assert_true(cpol_applies(&s->p[1], &m));

	/* One card written twice: one distinct value, under pci's 2. */
	assert_int_equal(cpol_scan(s, MSG, strlen(MSG), &m, &v, err,
	    sizeof(err)), 0);
	assert_int_equal(v.res.c[s->p[0].det].count, 1);
	assert_int_equal(v.block, -1);
	assert_int_equal(v.ntag, 2);
	assert_false(v.fired[0]);
	buf_init(&b, 0);
	assert_int_equal(cpol_describe(s, &v, &b), 0);
	assert_string_equal(buf_cstr(&b), "fired=pci-partner(tag) hr(tag) "
	    "counts=card:1,ssn:1 matches=card@1:4111 **** **** 1111; "
	    "ssn@1:***-**-6789 parts=1 attachments=0");
	buf_free(&b);
	/* What the walk could not read, named in the flags' order. */
	v.walk_flags = MW_BAD_CHARSET | MW_DEEP;
	v.nparts = 12;
	v.natt = 10;
	buf_init(&b, 0);
	assert_int_equal(cpol_describe(s, &v, &b), 0);
	assert_non_null(strstr(buf_cstr(&b), "6789 parts=12 attachments=10 "
	    "unread=deep,charset"));
	buf_free(&b);
	/* A maximum it would pass: -1, as every buf append. */
	buf_init(&b, 20);
	assert_int_equal(cpol_describe(s, &v, &b), -1);
	buf_free(&b);
	cpol_verdict_free(&v);

	/* Another subaccount: hr does not apply. */
	m.subaccount = "other";
	assert_int_equal(cpol_scan(s, MSG, strlen(MSG), &m, &v, err,
	    sizeof(err)), 0);
	assert_int_equal(v.ntag, 1);
	cpol_verdict_free(&v);
	cpol_set_free(s);

	/* Two cards: pci blocks. */
	assert_int_equal(sqlite3_exec(db, "UPDATE content_policy SET "
	    "min_count = 1 WHERE name = 'pci'", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(cpol_load(db, &s, err, sizeof(err)), 0);
	assert_int_equal(cpol_scan(s, MSG, strlen(MSG), &m, &v, err,
	    sizeof(err)), 0);
	assert_int_equal(v.block, 0);
	cpol_verdict_free(&v);
	cpol_set_free(s);

	/* A detector that no longer compiles: the load fails, said. */
	assert_int_equal(sqlite3_exec(db, "UPDATE content_policy SET "
	    "detector = 'regex:(' WHERE name = 'hr'", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(cpol_load(db, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "regex:("));
	gwdb_remove(db, dir);
}

/* Block, quarantine and tag side by side: each fires; the verdict names
 * the first blocking and the first quarantining policy. */
static void
test_quarantine_verdict(void **state)
{
	char dir[] = "/tmp/gw-cpol-XXXXXX", err[300];
	const char *rcpt[] = { "a@dest.test" };
	struct cpol_msg m = { "app", "me@example.com", rcpt, 1 };
	struct cpol_verdict v;
	struct cpol_set *s;
	struct buf b;
	sqlite3 *db = gwdb(dir);

	assert_int_equal(sqlite3_exec(db, "DELETE FROM content_policy;"
	    "INSERT INTO content_policy (name, detector, min_count, action,"
	    " created) VALUES ('pci', 'card', 2, 'block', 0),"
	    " ('hold-ssn', 'ssn', 1, 'quarantine', 0),"
	    " ('hold-card', 'card', 1, 'quarantine', 0),"
	    " ('mark', 'card', 1, 'tag', 0)", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(cpol_load(db, &s, err, sizeof(err)), 0);
	assert_int_equal(s->n, 4);
	assert_int_equal(s->p[1].action, CPOL_QUARANTINE);
	assert_int_equal(cpol_scan(s, MSG, strlen(MSG), &m, &v, err,
	    sizeof(err)), 0);
	assert_int_equal(v.block, -1);
	assert_int_equal(v.quarantine, 1);
	assert_int_equal(v.ntag, 1);
	buf_init(&b, 0);
	assert_int_equal(cpol_fired_names(s, &v, &b), 0);
	assert_string_equal(buf_cstr(&b), "hold-ssn(quarantine) "
	    "hold-card(quarantine) mark(tag)");
	buf_free(&b);
	cpol_verdict_free(&v);
	cpol_set_free(s);

	/* An attachment rule and the uribl detector: known from the load. */
	assert_int_equal(sqlite3_exec(db, "INSERT INTO content_policy (name,"
	    " detector, min_count, action, created) VALUES"
	    " ('exe', 'attachment:exec', 1, 'tag', 0),"
	    " ('bl', 'uribl', 1, 'tag', 0)", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(cpol_load(db, &s, err, sizeof(err)), 0);
	assert_true(s->attach);
	assert_true(s->uribl);
	cpol_set_free(s);
	gwdb_remove(db, dir);
	assert_int_equal(cpol_action_parse("quarantine"), CPOL_QUARANTINE);
	assert_string_equal(cpol_action_name(CPOL_QUARANTINE), "quarantine");
	assert_int_equal(cpol_action_parse("redact"), CPOL_REDACT);
	assert_int_equal(cpol_action_parse("encrypt"), -1);
}

static void
test_names(void **state)
{
	assert_true(cpol_valid_name("pci-2026_v1.0"));
	assert_false(cpol_valid_name(""));
	assert_false(cpol_valid_name("a b"));
	assert_false(cpol_valid_name("a;b"));
	assert_int_equal(cpol_action_parse("block"), CPOL_BLOCK);
	assert_int_equal(cpol_action_parse("tag"), CPOL_TAG);
	assert_int_equal(cpol_action_parse("redact"), CPOL_REDACT);
	assert_int_equal(cpol_action_parse("encrypt"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_and_decide),
		cmocka_unit_test(test_quarantine_verdict),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
