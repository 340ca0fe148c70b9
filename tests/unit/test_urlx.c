// sources:
/*
 * test_urlx.c - hosts of URLs in text and in HTML link targets, and
 * their registered domains: schemes, "www." links, userinfo and ports,
 * case, IDNs, IP literals, what is not a URL, duplicates and the bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mime_walk.h"
#include "urlx.h"

/* The hosts found in text, comma-separated. */
static void
hosts(const char *text, char *out, size_t outsz, int *ips)
{
	struct urlx u = { 0 };
	size_t o = 0;

	urlx_text(&u, text, strlen(text));
	out[0] = '\0';
	for (int i = 0; i < u.n; i++)
		o += (size_t)snprintf(out + o, outsz - o, "%s%s", i ? "," : "",
		    u.host[i]);
	if (ips)
		*ips = u.ips;
	urlx_free(&u);
}

static void
test_text(void **state)
{
	static const struct { const char *name, *in, *out; int ips; } cases[] = {
	    { "plain", "go to http://example.com/x now", "example.com", 0 },
	    { "https, case, port", "HTTPS://WWW.Example.COM:8443/a",
		"www.example.com", 0 },
	    { "userinfo", "http://bob:pw@login.evil.example/?q=1",
		"login.evil.example", 0 },
	    { "trick userinfo", "http://good.example@evil.example/",
		"evil.example", 0 },
	    { "ftp", "ftp://files.example.org/pub", "files.example.org", 0 },
	    { "bare www", "visit www.shop.example, or www.shop.example.",
		"www.shop.example", 0 },
	    { "trailing dot", "http://a.example./", "a.example", 0 },
	    { "ends text", "http://end.example", "end.example", 0 },
	    { "in angle brackets", "<http://x.example/a>", "x.example", 0 },
	    { "two", "http://a.example https://b.example http://a.example",
		"a.example,b.example", 0 },
	    { "IPv4", "http://192.0.2.1/x", "", 1 },
	    { "IPv6", "http://[2001:db8::1]/x", "", 1 },
	    { "IDN", "http://b\xc3\xbc" "cher.example/", "xn--bcher-kva.example",
		0 },
	    { "no dot", "http://localhost/", "", 0 },
	    { "empty label", "http://a..example/", "", 0 },
	    { "not a scheme", "xhttp://no.example mailto:bob@no2.example", "",
		0 },
	    { "inside a word", "awww.no.example", "", 0 },
	    { "scheme only", "http://", "", 0 },
	    { "bad byte", "http://a%2e.example/", "", 0 },
	};
	char out[512];
	int ips;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hosts(cases[i].in, out, sizeof(out), &ips);
		if (strcmp(out, cases[i].out) != 0 || ips != cases[i].ips)
			fail_msg("%s: got \"%s\" ips=%d", cases[i].name, out,
			    ips);
	}
}

static void
test_bound(void **state)
{
	struct urlx u = { 0 };
	char one[64];

	for (int i = 0; i < URLX_MAX + 10; i++) {
		snprintf(one, sizeof(one), "http://h%d.example/ ", i);
		urlx_text(&u, one, strlen(one));
	}
	assert_int_equal(u.n, URLX_MAX);
	assert_true(u.cut);
	urlx_free(&u);
}

static void
test_registered(void **state)
{
	static const struct { const char *host, *rd; } cases[] = {
	    { "www.example.com", "example.com" },
	    { "a.b.shop.co.uk", "shop.co.uk" },
	    { "example.com", "example.com" },
	    { "login.evil.example", "evil.example" },
	    { "co.uk", NULL },
	};
	char rd[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = urlx_registered(cases[i].host, rd, sizeof(rd));

		if (cases[i].rd == NULL)
			assert_int_equal(r, -1);
		else {
			assert_int_equal(r, 0);
			assert_string_equal(rd, cases[i].rd);
		}
	}
	assert_true(urlx_in_domain("a.b.example", "b.example"));
	assert_true(urlx_in_domain("b.example", "b.example"));
	assert_false(urlx_in_domain("ab.example", "b.example"));
	assert_false(urlx_in_domain("example", "b.example"));
}

static void
test_html_links(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
	    { "<a href=\"http://a.example/x\">t</a>", "http://a.example/x\n" },
	    { "<A HREF='//b.example'>", "//b.example\n" },
	    { "<img src=http://c.example/i.png alt=x>",
		"http://c.example/i.png\n" },
	    { "<form action = \"http://d&#46;example/\">",
		"http://d.example/\n" },
	    { "<a data-href=\"http://no.example\">", "" },
	    { "text href=\"http://no.example\" outside", "" },
	    { "<a href=\"http://cut.example", "http://cut.example\n" },
	};
	char out[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = mime_html_links(cases[i].in, strlen(cases[i].in),
		    out);

		assert_true(n <= strlen(cases[i].in));
		assert_string_equal(out, cases[i].out);
	}
}

/* An HTML-only message: the link target reaches the walk's links. */
static void
test_walk_links(void **state)
{
	static const char msg[] = "From: a@example.com\r\n"
	    "Content-Type: text/html\r\n\r\n"
	    "<p>Click <a href=\"https://login.evil.example/\">here</a></p>\r\n";
	struct mime_walk w;
	struct urlx u = { 0 };

	mime_walk(msg, sizeof(msg) - 1, NULL, &w);
	for (int i = 0; i < w.ntexts; i++) {
		urlx_text(&u, w.texts[i].text, w.texts[i].len);
		if (w.texts[i].links)
			urlx_text(&u, w.texts[i].links, w.texts[i].linkslen);
	}
	assert_int_equal(u.n, 1);
	assert_string_equal(u.host[0], "login.evil.example");
	urlx_free(&u);
	mime_walk_free(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_registered),
		cmocka_unit_test(test_html_links),
		cmocka_unit_test(test_walk_links),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
