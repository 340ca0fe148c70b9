/*
 * util.h - small helpers shared by every gw program: time, strings,
 * durations and sizes in config syntax, random ids, privileges.
 * Knows nothing of gwd.
 */
#ifndef GW_UTIL_H
#define GW_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sysexits.h>

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

int64_t	 now_us(void);		/* CLOCK_REALTIME, microseconds */
int64_t	 mono_ms(void);		/* CLOCK_MONOTONIC, milliseconds */
int64_t	 mono_us(void);

size_t	 gw_strlcpy(char *, const char *, size_t);
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
/* realloc(p, n * size), dying if n * size overflows or memory runs out. */
void	*xreallocarray(void *, size_t n, size_t size);
/* asprintf(), dying if memory runs out. */
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Print an error message into err[errsz] (cut to fit, always ended
 * with a NUL when errsz > 0) and return -1, for `return errf(...)`. */
int	 errf(char *err, size_t errsz, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
void	 str_lower(char *);
int	 str_has_ctl(const char *, size_t);

/* "90", "90s", "15m", "2h", "5d", "1w", "250ms" -> milliseconds. */
int	 parse_duration_ms(const char *, int64_t *);
/* A whole decimal number from lo to hi: 0, or -1 (NULL, empty,
 * trailing bytes, out of range). */
int	 parse_int(const char *, int64_t lo, int64_t hi, int64_t *);
/* "1000", "512k", "25M", "25MB", "1G" -> bytes. */
int	 parse_size(const char *, uint64_t *);

void	 random_bytes(void *, size_t);
void	 hex_encode(const unsigned char *, size_t, char *);	/* 2n+1 */

/* RFC 3339 / RFC 5322 dates from unix time. */
void	 fmt_rfc3339(int64_t usec, char *, size_t);
void	 fmt_rfc5322(time_t, char *, size_t);

/*
 * Become `user` (name) when running as root and a user is named.
 * Returns 0 on success (or nothing to do), -1 with *errstr set.
 */
int	 drop_privileges(const char *user, const char **errstr);
int	 lookup_user(const char *user, uid_t *, gid_t *);

/*
 * Who should own what a daemon started as root makes for `user`: 1 and
 * user's ids when running as root and `user` names someone else than
 * root; 0 and (uid_t)-1, (gid_t)-1 (chown's "leave it") otherwise.
 */
int	 owner_ids(const char *user, uid_t *, gid_t *);

/* Make every directory along `path` with `mode`.  -1/errno on failure. */
int	 mkdir_p(const char *path, mode_t);
/* The same, and each directory it makes (not one that was there) gets
 * owner uid:gid, unless uid is (uid_t)-1. */
int	 mkdir_p_owned(const char *path, mode_t, uid_t, gid_t);

/* The length of the well-formed UTF-8 sequence of a non-ASCII character
 * at s[0..n) (RFC 3629 4: no overlong forms, no surrogates, nothing past
 * U+10FFFF), or 0. */
size_t	 utf8_char_len(const char *s, size_t n);

/* Name the calling thread (up to 15 bytes) for ps -L, top -H and
 * /proc/PID/task/TID/comm, where the thread's CPU time can be read. */
void	 thread_name(const char *name);

#endif
