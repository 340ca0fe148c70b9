// sources:
/*
 * test_policy.c - the delivery policy read from a real gw.db made by
 * db_open(): a reload that reads the same rules, pools and throttles is
 * the same policy, whatever else changed in gw.db (gwd then leaves its
 * queue alone: issue 21 applies a change to a whole backlog at once),
 * and a change says which part changed.
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
#include "policy.h"

static void
sql(sqlite3 *db, const char *s)
{
	char err[256];

	if (db_exec(db, s, err, sizeof(err)) == -1)
		fail_msg("%s: %s", s, err);
}

/* Load again; which parts differ from *p, which becomes the new one. */
static unsigned
reload(sqlite3 *db, struct policy *p)
{
	struct policy np;
	unsigned what;

	assert_int_equal(policy_load(db, &np), 0);
	what = policy_diff(p, &np);
	policy_free(p);
	*p = np;
	return what;
}

static void
test_diff(void **state)
{
	char dir[] = "/tmp/gw-policy-XXXXXX", err[256], cmd[64];
	struct policy p;
	sqlite3 *db;

	assert_non_null(mkdtemp(dir));
	assert_non_null(db = db_open(dir, DB_GW, 0, err, sizeof(err)));
	memset(&p, 0, sizeof(p));
	/* The first load differs from nothing, an empty one too. */
	assert_int_equal(reload(db, &p), POLICY_RULES | POLICY_POOLS |
	    POLICY_THROTTLES);
	assert_int_equal(reload(db, &p), 0);
	/* gwctl subaccount add, suppression add: not the policy. */
	sql(db, "INSERT INTO subaccount (name, created, updated) VALUES "
	    "('app', 1, 1)");
	sql(db, "INSERT INTO suppression (address, source, created) VALUES "
	    "('a@x.test', 'admin', 1)");
	assert_int_equal(reload(db, &p), 0);

	sql(db, "INSERT INTO throttle (domain, connections, created) VALUES "
	    "('x.test', 3, 1)");
	assert_int_equal(reload(db, &p), POLICY_THROTTLES);
	assert_int_equal(p.nthrottles, 1);
	/* A value back to the default (NULL) is a change too. */
	sql(db, "UPDATE throttle SET connections = NULL");
	assert_int_equal(reload(db, &p), POLICY_THROTTLES);
	assert_int_equal(p.throttles[0].connections, -1);
	sql(db, "INSERT INTO pool (name, created) VALUES ('out', 1)");
	assert_int_equal(reload(db, &p), POLICY_POOLS);
	sql(db, "INSERT INTO pool_address (pool, address) VALUES "
	    "('out', '127.0.0.2')");
	assert_int_equal(reload(db, &p), POLICY_POOLS);
	sql(db, "INSERT INTO route_rule (position, to_domain, pool, created) "
	    "VALUES (1, 'x.test', 'out', 1)");
	assert_int_equal(reload(db, &p), POLICY_RULES);
	sql(db, "UPDATE route_rule SET action = 'hold'");
	assert_int_equal(reload(db, &p), POLICY_RULES);
	assert_int_equal(p.rules[0].action, RULE_HOLD);
	/* The same rows written again: the same policy. */
	sql(db, "UPDATE throttle SET per_minute = NULL");
	assert_int_equal(reload(db, &p), 0);
	sql(db, "DELETE FROM route_rule; DELETE FROM throttle");
	assert_int_equal(reload(db, &p), POLICY_RULES | POLICY_THROTTLES);

	policy_free(&p);
	db_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
