/*
 * log.h - diagnostics to stderr (journald) or syslog (LOG_MAIL).
 *
 * Lines are "key=value" where they describe events; bytes that came from
 * the network must pass through log_escape() first.
 */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stddef.h>

enum log_dest { LOG_DEST_STDERR, LOG_DEST_SYSLOG };

void	log_init(const char *progname, enum log_dest, int verbose);
const char *log_progname(void);
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2),
	    noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2),
	    noreturn));

/*
 * Copy untrusted bytes into `out` (size n) with control characters,
 * backslash, quote and non-ASCII escaped as \xNN; truncated with "..."
 * when too long.  Returns out.
 */
char	*log_escape(const char *in, size_t len, char *out, size_t n);

#endif
