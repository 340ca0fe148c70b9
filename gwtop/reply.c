/*
 * reply.c - a remote server's reply as gwtop's columns show it: from the
 * code on, without the "mx.example.net said:" gwd puts before the
 * server's own words, so a narrow column shows the reason.  The
 * message screen still shows the whole reply.
 * Diagnostics: never dies; text it does not recognise is kept as it is.
 */
#include <stdio.h>
#include <string.h>

#include "gwtop.h"

/* A host name or address as gwd writes it before "said:". */
static int
reply_is_host(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789.-_:[]", s[i]) == NULL)
			return 0;
	return 1;
}

void
reply_brief(const char *in, char *out, size_t n)
{
	const char *said = strstr(in, " said: "), *host;
	size_t lead;

	if (said == NULL) {
		snprintf(out, n, "%s", in);
		return;
	}
	for (host = said; host > in && host[-1] != ' '; host--)
		;
	lead = (size_t)(host - in);
	/* Only the code and the enhanced status may come before the host
	 * ("451 4.2.1 "); "said:" anywhere else is the server's text. */
	if (strspn(in, "0123456789. ") < lead ||
	    !reply_is_host(host, (size_t)(said - host))) {
		snprintf(out, n, "%s", in);
		return;
	}
	snprintf(out, n, "%.*s%s", (int)lead, in, said + 7);
}
