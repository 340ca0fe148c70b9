// sources:
/*
 * test_ctlproto.c - the control socket's queue commands: every verb with
 * what it may and may not be given, queue ids, ALL, options, and the
 * reasons given for bad requests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctlproto.h"
#include "event.h"

#define ID1	"0123456789ABCDEF"
#define ID2	"00000000000000FF"

struct tcase {
	const char	*name;
	const char	*line;
	int		 ok;
	const char	*want;		/* ok: verb name; else: in the error */
	int		 all, nids;
	const char	*domain;
};

static const struct tcase cases[] = {
	{ "list", "queue list", 1, "list", 0, 0, "" },
	{ "list filters", "queue list --domain Dest.TEST --subaccount app", 1,
	    "list", 0, 0, "dest.test" },
	{ "list with id", "queue list " ID1, 0, "takes no queue ids", 0, 0,
	    NULL },
	{ "show", "queue show " ID1, 1, "show", 0, 1, "" },
	{ "show two", "queue show " ID1 " " ID2, 0, "takes one queue id", 0,
	    0, NULL },
	{ "show ALL", "queue show ALL", 0, "takes one queue id", 0, 0, NULL },
	{ "flush nothing is all", "queue flush", 1, "flush", 1, 0, "" },
	{ "flush ids", "queue  flush\t" ID1 " " ID2, 1, "flush", 0, 2, "" },
	{ "flush domain", "queue flush --domain dest.test", 1, "flush", 0, 0,
	    "dest.test" },
	{ "flush domain and id", "queue flush --domain d.test " ID1, 0,
	    "not several", 0, 0, NULL },
	{ "hold ids", "queue hold " ID1 " " ID2, 1, "hold", 0, 2, "" },
	{ "hold repeated id", "queue hold " ID1 " " ID1, 1, "hold", 0, 1, "" },
	{ "release ALL", "queue release ALL", 1, "release", 1, 0, "" },
	{ "delete lower all", "queue delete all", 0, "upper case", 0, 0,
	    NULL },
	{ "bounce ALL and id", "queue bounce ALL " ID1, 0, "ALL stands alone",
	    0, 0, NULL },
	{ "hold nothing", "queue hold", 0, "which messages", 0, 0, NULL },
	{ "lower-case id", "queue hold 0123456789abcdef", 0,
	    "\"0123456789abcdef\" is not a queue id", 0, 0, NULL },
	{ "short id", "queue delete 0123", 0, "not a queue id", 0, 0, NULL },
	{ "long id", "queue delete " ID1 "0", 0, "not a queue id", 0, 0,
	    NULL },
	{ "hold --domain", "queue hold --domain d.test", 0,
	    "unknown option --domain", 0, 0, NULL },
	{ "option without value", "queue list --domain", 0, "needs a value", 0,
	    0, NULL },
	{ "option twice", "queue list --domain a --domain b", 0, "given twice",
	    0, 0, NULL },
	{ "unknown verb", "queue purge", 0, "unknown verb \"purge\"", 0, 0,
	    NULL },
	{ "no verb", "queue", 0, "missing verb", 0, 0, NULL },
	{ "list quarantined", "queue list --quarantined", 1, "list", 0, 0,
	    "" },
	{ "release quarantined", "queue release --quarantined " ID1, 1,
	    "release", 0, 1, "" },
	{ "quarantined ALL", "queue delete --quarantined ALL", 0,
	    "name the messages", 0, 0, NULL },
	{ "hold quarantined", "queue hold --quarantined " ID1, 0,
	    "unknown option --quarantined", 0, 0, NULL },
	{ "reason on hold", "queue hold " ID1 " --reason x", 0,
	    "takes no --reason", 0, 0, NULL },
	{ "empty reason", "queue delete " ID1 " --reason  ", 0,
	    "--reason needs a value", 0, 0, NULL },
	{ "not queue", "stats", 0, "not a queue command", 0, 0, NULL },
	{ "control bytes escaped", "queue hold \x1b[2J", 0, "\\x1b[2J", 0, 0,
	    NULL },
};

static void
test_cases(void **state)
{
	struct ctl_queue_cmd c;
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *t = &cases[i];
		int r;

		err[0] = '\0';
		r = ctl_queue_parse(t->line, &c, err, sizeof(err));
		if (t->ok) {
			if (r != 0)
				fail_msg("%s: refused: %s", t->name, err);
			assert_string_equal(ctl_verb_name(c.verb), t->want);
			assert_int_equal(c.all, t->all);
			assert_int_equal(c.nids, t->nids);
			assert_string_equal(c.domain, t->domain);
		} else {
			if (r != -1)
				fail_msg("%s: accepted", t->name);
			if (strstr(err, t->want) == NULL)
				fail_msg("%s: error \"%s\" lacks \"%s\"",
				    t->name, err, t->want);
		}
	}
}

static void
test_ids_and_limits(void **state)
{
	struct ctl_queue_cmd c;
	char line[4096], err[256];
	size_t n;

	assert_int_equal(ctl_queue_parse("queue hold " ID1 " " ID2, &c, err,
	    sizeof(err)), 0);
	assert_string_equal(c.ids[0], ID1);
	assert_string_equal(c.ids[1], ID2);
	assert_int_equal(ctl_queue_parse("queue list --subaccount app", &c,
	    err, sizeof(err)), 0);
	assert_string_equal(c.subaccount, "app");
	/* --reason takes the rest of the line, spaces and all. */
	assert_int_equal(ctl_queue_parse("queue delete --quarantined " ID1
	    " --reason  phishing, per ticket 42 ", &c, err, sizeof(err)), 0);
	assert_int_equal(c.quarantined, 1);
	assert_int_equal(c.nids, 1);
	assert_string_equal(c.reason, "phishing, per ticket 42 ");

	/* 100 ids fit one request; the 101st does not. */
	n = (size_t)snprintf(line, sizeof(line), "queue delete");
	for (int i = 0; i < CTL_MAX_IDS; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " %016X", i);
	assert_int_equal(ctl_queue_parse(line, &c, err, sizeof(err)), 0);
	assert_int_equal(c.nids, CTL_MAX_IDS);
	snprintf(line + n, sizeof(line) - n, " %016X", 4096);
	assert_int_equal(ctl_queue_parse(line, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 100"));

	assert_true(ctl_qid_valid(ID1));
	assert_false(ctl_qid_valid(""));
	assert_false(ctl_qid_valid("0123456789ABCDEG"));
	assert_null(ctl_verb_name((enum ctl_verb)99));
}

/* An action's result word is its audit event's name: one vocabulary. */
static void
test_verb_events(void **state)
{
	static const char *const want[][2] = {
		{ "list", NULL }, { "show", NULL }, { "flush", "flushed" },
		{ "hold", "held" }, { "release", "released" },
		{ "delete", "deleted" }, { "bounce", "bounced" },
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int ev = ctl_verb_event((enum ctl_verb)i);

		assert_string_equal(ctl_verb_name((enum ctl_verb)i),
		    want[i][0]);
		if (want[i][1] == NULL)
			assert_int_equal(ev, -1);
		else
			assert_string_equal(event_name((enum event_action)ev),
			    want[i][1]);
	}
	assert_int_equal(ctl_verb_event((enum ctl_verb)99), -1);
}

/* The protocol version word: skipped when it is ours, refused when it
 * is not, and a line without one is left alone (clients before it). */
static void
test_version_word(void **state)
{
	static const struct {
		const char	*line;
		int		 ok;
		const char	*rest;	/* ok: what is left; else: in err */
	} vcases[] = {
		{ "v1 stats", 1, "stats" },
		{ "v1   queue list", 1, "queue list" },
		{ "v1", 1, "" },
		{ "stats", 1, "stats" },
		{ "", 1, "" },
		{ "v", 1, "v" },
		{ "vx stats", 1, "vx stats" },
		{ "v1x stats", 1, "v1x stats" },
		{ "v2 stats", 0, "protocol version 2: this gwd speaks 1" },
		{ "v0", 0, "protocol version 0" },
		{ "v000000001 stats", 1, "stats" },
		{ "v1234567890 stats", 1, "v1234567890 stats" },
	};
	char err[128];

	for (size_t i = 0; i < sizeof(vcases) / sizeof(vcases[0]); i++) {
		const char *p = vcases[i].line;

		err[0] = '\0';
		assert_int_equal(ctl_version(&p, err, sizeof(err)),
		    vcases[i].ok ? 0 : -1);
		if (vcases[i].ok)
			assert_string_equal(p, vcases[i].rest);
		else {
			assert_ptr_equal(p, vcases[i].line);
			assert_non_null(strstr(err, vcases[i].rest));
		}
	}
	assert_string_equal(CTL_VERSION_WORD, "v1");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_ids_and_limits),
		cmocka_unit_test(test_version_word),
		cmocka_unit_test(test_verb_events),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
