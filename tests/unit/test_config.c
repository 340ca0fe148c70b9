// sources:
/*
 * test_config.c - the scanner that names the setting libconfig found
 * twice, and the option table's reload column.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

static const struct {
	const char	*what, *text, *name;	/* name NULL: none */
	int		 line, first;
} dups[] = {
	{ "top level", "a = 1;\nrelay = { };\nrelay = { };\n", "relay", 3,
	    2 },
	{ "in a group", "limits = { recipients = 1;\n recipients = 2; };\n",
	    "limits.recipients", 2, 1 },
	{ "same name, other groups", "a = { x = 1; };\nb = { x = 1; };\n",
	    NULL, 0, 0 },
	{ "list entries", "listen = ( { port = 1; }, { port = 2;\n"
	    "port = 3; } );\n", "listen.port", 2, 1 },
	{ "names in strings and comments",
	    "s = \"x = 1; x = 2;\"; # x = 3\n// s = 1\n/* s =\n 2 */ t = 1;\n"
	    "t = 2;\n", "t", 5, 4 },
	{ "colon", "a : 1;\na : 2;\n", "a", 2, 1 },
	{ "nested", "r = { t = { u = 1; u = 2; }; };\n", "r.t.u", 1, 1 },
	{ "values are not names", "a = true; b = a1;\n", NULL, 0, 0 },
	{ "include", "@include \"x.conf\"\nq = 1;\nq = 1;\n", "q", 3, 2 },
	{ "unterminated", "a = \"x\n= 1;", NULL, 0, 0 },
	{ "closers beyond the top", "}}}) a = 1; a = 2;", "a", 1, 1 },
};

static void
test_find_duplicate(void **state)
{
	for (size_t i = 0; i < sizeof(dups) / sizeof(dups[0]); i++) {
		char name[64] = "";
		int line = 0, first = 0, r;

		r = config_find_duplicate(dups[i].text, strlen(dups[i].text),
		    name, sizeof(name), &line, &first);
		if (dups[i].name == NULL) {
			if (r != 0)
				fail_msg("%s: found %s", dups[i].what, name);
			continue;
		}
		if (r != 1 || strcmp(name, dups[i].name) != 0 ||
		    line != dups[i].line || first != dups[i].first)
			fail_msg("%s: got %d \"%s\" line %d first %d",
			    dups[i].what, r, name, line, first);
	}
}

static void
test_reloadable(void **state)
{
	assert_int_equal(config_reloadable("limits.message_size"),
	    CONFIG_LIVE);
	assert_int_equal(config_reloadable("state_dir"), CONFIG_RESTART);
	assert_int_equal(config_reloadable("user"), CONFIG_RESTART);
	assert_int_equal(config_reloadable("listen"), CONFIG_RESTART);
	assert_int_equal(config_reloadable("no.such"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_duplicate),
		cmocka_unit_test(test_reloadable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
