// sources:
/*
 * test_addrlist.c - RFC 5322 address lists: every example of RFC 5322
 * Appendix A read as the RFC reads it (or refused where it shows
 * obsolete syntax gw does not take), the attacks of issue 19, and each
 * kind of input that is refused rather than guessed at.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "addrlist.h"

struct got {
	char	 all[2048];	/* the addresses, joined by " " */
	int	 n;
	int	 max;		/* stop after this many; 0: no limit */
};

static const char *
collect(void *arg, const char *addr, size_t at)
{
	struct got *g = arg;
	size_t l = strlen(g->all);

	assert_int_equal(addr[at], '@');
	if (g->max && g->n >= g->max)
		return "too many";
	snprintf(g->all + l, sizeof(g->all) - l, "%s%s", g->n ? " " : "",
	    addr);
	g->n++;
	return NULL;
}

/* in -> want (addresses joined by " "), or NULL and the reason. */
static void
check(const char *in, const char *want, const char *why)
{
	struct got g = { "", 0, 0 };
	const char *err = NULL;
	int n = addrlist_parse(in, strlen(in), collect, &g, &err);

	if (want == NULL) {
		if (n != -1)
			fail_msg("%s: parsed as \"%s\", want refused (%s)", in,
			    g.all, why);
		if (strstr(err, why) == NULL)
			fail_msg("%s: refused for \"%s\", want \"%s\"", in, err,
			    why);
		return;
	}
	if (n == -1)
		fail_msg("%s: refused: %s", in, err);
	if (strcmp(g.all, want) != 0 || n != g.n)
		fail_msg("%s: got \"%s\" (%d), want \"%s\"", in, g.all, n, want);
}

/* RFC 5322 Appendix A, each address field as it stands there. */
static void
test_rfc5322_appendix_a(void **state)
{
	/* A.1.1, A.4 */
	check("John Doe <jdoe@machine.example>", "jdoe@machine.example", NULL);
	check("Mary Smith <mary@example.net>", "mary@example.net", NULL);
	check("Michael Jones <mjones@machine.example>",
	    "mjones@machine.example", NULL);
	/* A.1.2 */
	check("\"Joe Q. Public\" <john.q.public@example.com>",
	    "john.q.public@example.com", NULL);
	check("Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
	    "mary@x.test jdoe@example.org one@y.test", NULL);
	check("<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" "
	    "<sysservices@example.net>", "boss@nil.test sysservices@example.net",
	    NULL);
	/* A.1.3: groups, one of them empty */
	check("A Group:Ed Jones <c@a.test>,joe@where.test,John "
	    "<jdoe@one.test>;", "c@a.test joe@where.test jdoe@one.test", NULL);
	check("Undisclosed recipients:;", "", NULL);
	/* A.3 */
	check("Jane Brown <j-brown@other.example>", "j-brown@other.example",
	    NULL);
	/* A.5: comments (nested, quoted-pairs) and folding everywhere */
	check("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
	    "pete@silly.test", NULL);
	check("A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)"
	    "public.example>,\r\n         joe@example.org,\r\n  John "
	    "<jdoe@one.test> (my dear friend); (the end of the group)",
	    "c@public.example joe@example.org jdoe@one.test", NULL);
	check("(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;",
	    "", NULL);
	/* A.6.1: an obs-phrase (taken: mail programs write it), a source
	 * route, empty elements and an obs-domain (refused). */
	check("Joe Q. Public <john.q.public@example.com>",
	    "john.q.public@example.com", NULL);
	check("Mary Smith <@node.test:mary@example.net>, , jdoe@test  . "
	    "example", NULL, "source route");
	check("jdoe@test  . example", NULL, "obsolete domain");
	check("Mary Smith <mary@example.net>, , jdoe@example.org",
	    "mary@example.net jdoe@example.org", NULL);
	/* A.6.3: obsolete white space and comments */
	check("John Doe <jdoe@machine(comment).  example>", NULL,
	    "obsolete domain");
	check("Mary Smith\r\n  \r\n <mary@example.net>", "mary@example.net",
	    NULL);
}

/* Issue 19: what made gwd sign mail From: a domain it does not own. */
static void
test_attacks(void **state)
{
	/* (b) The comment ends at the first unescaped ')': what follows is
	 * an address, then a stray ')'.  Refused, not read as a@example.com
	 * (the old reading) nor as ceo@other.org alone. */
	check("(x\\() <ceo@other.org> ) <a@example.com>", NULL,
	    "')' without its '('");
	check("(x\\() <ceo@other.org>", "ceo@other.org", NULL);
	check("(x\\)) <a@example.com>", "a@example.com", NULL);
	/* (a) Nine addresses: all nine are given; none is dropped. */
	check("a1@example.com, a2@example.com, a3@example.com, "
	    "a4@example.com, a5@example.com, a6@example.com, a7@example.com, "
	    "a8@example.com, ceo@other.org", "a1@example.com a2@example.com "
	    "a3@example.com a4@example.com a5@example.com a6@example.com "
	    "a7@example.com a8@example.com ceo@other.org", NULL);
	/* More than the caller takes: the parse fails with its reason. */
	{
		struct got g = { "", 0, 2 };
		const char *err = NULL;
		const char *in = "a@x.test, b@x.test, c@x.test";

		assert_int_equal(addrlist_parse(in, strlen(in), collect, &g,
		    &err), -1);
		assert_string_equal(err, "too many");
	}
	/* Display names that look like addresses are names. */
	check("\"ceo@other.org\" <a@example.com>", "a@example.com", NULL);
	check("ceo@other.org <a@example.com>", NULL, "text after an address");
	/* An encoded word may not hold '@' in a phrase (RFC 2047 5(3)). */
	check("=?utf-8?q?ceo@other.org?= <a@example.com>", NULL,
	    "text after an address");
	check("=?utf-8?q?ceo=40other.org?= <a@example.com>", "a@example.com",
	    NULL);
}

static void
test_forms(void **state)
{
	check("", "", NULL);
	check("  (just a comment) ", "", NULL);
	check("a@Example.COM", "a@example.com", NULL);
	check("Jane.Doe@x.test", "Jane.Doe@x.test", NULL);
	check("\"a\"@x.test", "a@x.test", NULL);
	check("\"a\\b\"@x.test", "ab@x.test", NULL);
	check("\"a b\"@x.test", "\"a b\"@x.test", NULL);
	check("\"a\\\"b\"@x.test", "\"a\\\"b\"@x.test", NULL);
	check("\"a..b\"@x.test", "\"a..b\"@x.test", NULL);
	check("\"\"@x.test", "\"\"@x.test", NULL);
	check("\"a\r\n b\"@x.test", "\"a b\"@x.test", NULL);
	check("a (c) @ (d) x.test", "a@x.test", NULL);
	check("a@[192.0.2.1]", "a@[192.0.2.1]", NULL);
	check("a@[IPv6:2001:DB8::1]", "a@[ipv6:2001:db8::1]", NULL);
	check("a@x.test, (c) ,", "a@x.test", NULL);
	check(", a@x.test", "a@x.test", NULL);
	check("G: , a@x.test, ,;", "a@x.test", NULL);
	check("G:;, a@x.test", "a@x.test", NULL);
	check("\"J\xc3\xb6rg\" <j@x.test>", "j@x.test", NULL);
	check("J\xc3\xb6rg (\xc3\xa9) <j@x.test>", "j@x.test", NULL);
	check("\"\" <a@x.test>", "a@x.test", NULL);
	/* RFC 6532: internationalized addresses, spelt as SMTPUTF8 paths. */
	check("j\xc3\xb6rg@x.test", "j\xc3\xb6rg@x.test", NULL);
	check("\"j\xc3\xb6rg\"@x.test", "j\xc3\xb6rg@x.test", NULL);
	check("J\xc3\xb6rg <J\xc3\xb6rg@B\xc3\x9c" "CHER.test>",
	    "J\xc3\xb6rg@b\xc3\xbc" "cher.test", NULL);
	check("\"a b\xc3\xa9\"@x.test", "\"a b\xc3\xa9\"@x.test", NULL);
	check("a@x.test\t", "a@x.test", NULL);
}

static void
test_refused(void **state)
{
	check("undisclosed", NULL, "name without an address");
	check("<a@x.test", NULL, "'<' without its '>'");
	check("a@x.test>", NULL, "text after an address");
	check("<a@x.test> Name", NULL, "text after an address");
	check("(open", NULL, "unterminated comment");
	check("((nested) <a@x.test>", NULL, "unterminated comment");
	check("\"open <a@x.test>", NULL, "unterminated quoted string");
	check("a@[1.2.3.4", NULL, "unterminated domain literal");
	check("a@[1.2 .3.4]", NULL, "domain literal with");
	check("a@[1\\.2]", NULL, "backslash in a domain literal");
	check("a@[x@1.2.3.4]", NULL, "domain literal with '@'");
	check("<>", NULL, "empty address");
	check("<postmaster>", NULL, "without '@'");
	check("@x.test", NULL, "without a local part");
	check("a@", NULL, "no domain");
	check("a@x.", NULL, "ends with '.'");
	check("a@x..y", NULL, "ends with '.'");
	check(".a@x.test", NULL, "'.' at an end or two together");
	check("a.@x.test", NULL, "'.' at an end or two together");
	check("a..b@x.test", NULL, "'.' at an end or two together");
	check("a . b@x.test", NULL, "obsolete local part");
	check("\"a\".b@x.test", NULL, "obsolete local part");
	check("a b@x.test", NULL, "obsolete local part");
	check("a@x .test", NULL, "obsolete domain");
	check("a@b@x.test", NULL, "text after an address");
	check("G: a@x.test", NULL, "without its ';'");
	check("G: H: a@x.test;;", NULL, "group inside a group");
	check(": a@x.test;", NULL, "group without a name");
	check(". <a@x.test>", NULL, "starts with '.'");
	check("a@x.test; b@x.test", NULL, "text after an address");
	check("a\\@x.test", NULL, "backslash outside quotes");
	check("a@x.test)", NULL, "')' without its '('");
	check("a@x.test]", NULL, "stray special");
	check("a@x.test\r\nb@y.test", NULL, "line break");
	check("a@x.test\n b@y.test", NULL, "line break");
	check("a@x.test\r\n", NULL, "line break");
	check("a\x01@x.test", NULL, "control character");
	check("(\x7f) a@x.test", NULL, "control character");
	check("\"a\\\x01\"@x.test", NULL, "quoted control");
	check("\"a\x1b\" <a@x.test>", NULL, "control character");
	check("\"a\\", NULL, "backslash at the end");
	check("j\xc3rg@x.test", NULL, "not valid UTF-8");
	check("\"j\xff\"@x.test", NULL, "not valid UTF-8");
	check("a@x\xc3\xb6\xff.test", NULL, "not valid UTF-8");
	check("a@\xe2\x98\x83.test", NULL, "internationalized domain");
	check("\"a\tb\"@x.test", NULL, "SMTP cannot carry");
}

static void
test_lengths(void **state)
{
	char in[700], want[700];

	/* Local parts up to 64, a quoted one measured in its canonical
	 * form. */
	memset(in, 'a', 64);
	snprintf(in + 64, sizeof(in) - 64, "@x.test");
	check(in, in, NULL);
	memset(in, 'a', 65);
	snprintf(in + 65, sizeof(in) - 65, "@x.test");
	check(in, NULL, "over 64");
	memset(want, 'b', 64);
	snprintf(in, sizeof(in), "\"%.64s\"@x.test", want);
	snprintf(want + 64, sizeof(want) - 64, "@x.test");
	check(in, want, NULL);
	snprintf(in, sizeof(in), "\"\\a%.64s\"@x.test", want);
	check(in, NULL, "over 64");
	/* Domains up to 255, addresses up to 256. */
	memset(in, 'd', 300);
	in[0] = 'a';
	in[1] = '@';
	in[2 + 254] = '\0';
	check(in, in, NULL);
	in[2 + 254] = 'd';
	in[2 + 255] = '\0';
	check(in, NULL, "over 256");
	in[2 + 255] = 'd';
	in[2 + 256] = '\0';
	check(in, NULL, "over 255");
}

static const char *
named(void *arg, const char *addr, size_t at, const char *name, size_t n)
{
	struct got *g = arg;
	size_t l = strlen(g->all);

	snprintf(g->all + l, sizeof(g->all) - l, "%s[%.*s]%s", g->n ? " " :
	    "", name ? (int)n : 4, name ? name : "NULL", addr);
	g->n++;
	return NULL;
}

/* addrlist_parse_named(): each mailbox's display name as written. */
static void
test_named(void **state)
{
	struct got g;
	const char *err;
	static const char in[] = "\"Doe, J\" (x) Q <a@x.test>, b@x.test, "
	    "g: <c@x.test>, D <d@x.test>;, (only) <e@x.test>";

	memset(&g, 0, sizeof(g));
	assert_int_equal(addrlist_parse_named(in, strlen(in), named, &g,
	    &err), 5);
	assert_string_equal(g.all, "[\"Doe, J\" (x) Q]a@x.test "
	    "[NULL]b@x.test [NULL]c@x.test [D]d@x.test [NULL]e@x.test");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5322_appendix_a),
		cmocka_unit_test(test_attacks),
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_named),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
