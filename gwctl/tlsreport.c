/*
 * tlsreport.c - gwctl tls-report send: asks gwd, over the control
 * socket, to send the day's TLS-RPT reports (RFC 8460) now (gwd's
 * tls_report.c); prints a line per policy domain.
 * Exposure: none beyond gwd's answer, printed as given.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "gwctl.h"
#include "log.h"

/* "YYYY-MM-DD": digits where they belong, nothing more. */
static int
valid_day(const char *s)
{
	static const char shape[] = "dddd-dd-dd";

	for (size_t i = 0; i < sizeof(shape) - 1; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) :
		    s[i] != shape[i])
			return 0;
	return s[sizeof(shape) - 1] == '\0';
}

static void
print_line(const char *p, int n)
{
	printf("%.*s\n", n, p);
}

int
tls_report_send(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	const char *day = args_get(a, "--day");
	char line[64];

	if (day != NULL && !valid_day(day)) {
		log_warnx("--day: \"%s\" is not a date (YYYY-MM-DD)", day);
		return EX_USAGE;
	}
	snprintf(line, sizeof(line), "tls-report send%s%s", day ? " " : "",
	    day ? day : "");
	return control_tally(ctx, line, 120000, NULL, print_line);
}
