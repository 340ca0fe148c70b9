// sources: gwd/mxguard.c
/*
 * test_mxguard.c - which MX addresses gwd refuses to connect to: the
 * kinds of address a hostile DNS answer can hold, and gwd's own
 * listeners with and without relay.allow_loopback_mx.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gwd.h"
#include "mxguard.h"

struct gw_config *_Atomic gcfg;

static struct sockaddr_storage
sa_of(const char *ip, int port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
	}
	return ss;
}

static void
test_kinds(void **state)
{
	static const struct {
		const char		*ip;
		enum mxguard_kind	 want;
	} cases[] = {
		{ "192.0.2.25", MXG_OK },
		{ "2001:db8::25", MXG_OK },
		{ "0.0.0.0", MXG_UNSPECIFIED },
		{ "0.1.2.3", MXG_UNSPECIFIED },		/* 0/8 */
		{ "::", MXG_UNSPECIFIED },
		{ "::ffff:0.0.0.0", MXG_UNSPECIFIED },
		{ "127.0.0.1", MXG_LOOPBACK },
		{ "127.255.0.9", MXG_LOOPBACK },
		{ "::1", MXG_LOOPBACK },
		{ "::ffff:127.0.0.1", MXG_LOOPBACK },
		{ "255.255.255.255", MXG_BROADCAST },
		{ "::ffff:255.255.255.255", MXG_BROADCAST },
		{ "224.0.0.1", MXG_MULTICAST },
		{ "239.255.255.250", MXG_MULTICAST },
		{ "ff02::1", MXG_MULTICAST },
		{ "::ffff:224.0.0.1", MXG_MULTICAST },
		{ "223.255.255.255", MXG_OK },
		{ "240.0.0.1", MXG_OK },
		{ "128.0.0.1", MXG_OK },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss = sa_of(cases[i].ip, 25);

		if (mxguard_kind((struct sockaddr *)&ss) != cases[i].want)
			fail_msg("%s: kind %d, want %d", cases[i].ip,
			    mxguard_kind((struct sockaddr *)&ss),
			    cases[i].want);
	}
}

/* gwd listens on 127.0.0.1:587 and 198.51.100.7:2525 here. */
static void
test_refuse(void **state)
{
	static struct gw_config cfg;
	static const struct {
		const char	*ip;
		int		 port, allow;
		int		 refused;
	} cases[] = {
		{ "192.0.2.25", 25, 0, 0 },
		{ "0.0.0.0", 25, 1, 1 },	/* never, whatever is set */
		{ "::", 25, 1, 1 },
		{ "255.255.255.255", 25, 1, 1 },
		{ "224.0.0.1", 25, 1, 1 },
		{ "ff02::1", 25, 1, 1 },
		{ "127.0.0.1", 25, 0, 1 },	/* loopback: if allowed */
		{ "127.0.0.1", 25, 1, 0 },
		{ "::1", 25, 0, 1 },
		{ "::1", 25, 1, 0 },
		{ "198.51.100.7", 25, 0, 1 },	/* a listener's address */
		{ "::ffff:198.51.100.7", 25, 0, 1 },
		{ "198.51.100.7", 25, 1, 0 },	/* allowed: another port */
		{ "198.51.100.7", 2525, 1, 1 },	/* gwd itself, always */
		{ "127.0.0.1", 587, 1, 1 },
		{ "198.51.100.8", 2525, 0, 0 },
	};
	char a1[] = "127.0.0.1", a2[] = "198.51.100.7";

	cfg.nlisten = 2;
	cfg.listen[0].address = a1;
	cfg.listen[0].port = 587;
	cfg.listen[1].address = a2;
	cfg.listen[1].port = 2525;
	gcfg = &cfg;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss = sa_of(cases[i].ip, cases[i].port);
		const char *why = mxguard_refuse((struct sockaddr *)&ss,
		    cases[i].allow);

		if ((why != NULL) != cases[i].refused)
			fail_msg("%s port %d allow %d: %s", cases[i].ip,
			    cases[i].port, cases[i].allow, why ? why : "ok");
	}
}

/* A wildcard listener makes every address of this host its own. */
static void
test_wildcard(void **state)
{
	static struct gw_config cfg;
	char any[] = "0.0.0.0";
	struct sockaddr_storage lo = sa_of("127.0.0.1", 2525),
	    lo_other = sa_of("127.0.0.1", 25), far = sa_of("192.0.2.25", 2525);

	cfg.nlisten = 1;
	cfg.listen[0].address = any;
	cfg.listen[0].port = 2525;
	gcfg = &cfg;
	assert_non_null(mxguard_refuse((struct sockaddr *)&lo, 1));
	assert_null(mxguard_refuse((struct sockaddr *)&lo_other, 1));
	assert_null(mxguard_refuse((struct sockaddr *)&far, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_refuse),
		cmocka_unit_test(test_wildcard),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
