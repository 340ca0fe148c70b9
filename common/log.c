/*
 * log.c - diagnostics to stderr (journald) or syslog (LOG_MAIL).
 * Diagnostics: fatal() and fatalx() print and exit 1; nothing else fails
 * (a failed write to stderr or syslog is not retried).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static const char *progname = "gw";
static enum log_dest dest = LOG_DEST_STDERR;
static int verbose;

void
log_init(const char *name, enum log_dest d, int v)
{
	progname = name;
	dest = d;
	verbose = v;
	if (dest == LOG_DEST_SYSLOG)
		openlog(name, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

const char *
log_progname(void)
{
	return progname;
}

static void
vlog(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (dest == LOG_DEST_SYSLOG) {
		syslog(pri, "%s%s%s", msg, suffix ? ": " : "",
		    suffix ? suffix : "");
		return;
	}
	/* One fprintf per line keeps lines from threads whole. */
	fprintf(stderr, "%s: %s%s%s\n", progname, msg, suffix ? ": " : "",
	    suffix ? suffix : "");
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, strerror(e));
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, strerror(e));
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

char *
log_escape(const char *in, size_t len, char *out, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	size_t o = 0;

	if (n == 0)
		return out;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		int esc = c < 0x20 || c >= 0x7f || c == '\\' || c == '"';

		if (o + (esc ? 4 : 1) + 4 > n) {
			if (o + 4 <= n)
				memcpy(out + o, "...", 3), o += 3;
			break;
		}
		if (esc) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hx[c >> 4];
			out[o++] = hx[c & 15];
		} else
			out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}
