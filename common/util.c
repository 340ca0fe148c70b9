/*
 * util.c - small helpers shared by every gw program.
 * Diagnostics: the x* allocators die (exit 1) when memory runs out or a
 * size overflows, random_bytes() when the system has no randomness; the
 * parsers return -1 on bad input, drop_privileges() -1 with *errstr.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "log.h"
#include "util.h"

int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
mono_ms(void)
{
	return mono_us() / 1000;
}

size_t
gw_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fatal("out of memory (%zu bytes)", n);
	return p;
}

void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);

	if (p == NULL)
		fatal("out of memory (%zu x %zu bytes)", n, sz);
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	void *q;

	if (size != 0 && n > SIZE_MAX / size)
		fatalx("out of memory (%zu x %zu bytes overflows)", n, size);
	if ((q = realloc(p, n && size ? n * size : 1)) == NULL)
		fatal("out of memory (%zu x %zu bytes)", n, size);
	return q;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r == -1)
		fatal("out of memory (asprintf)");
	return s;
}

int
errf(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return -1;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void
str_lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* True when s[0..n) holds a control character (CR, LF, NUL, ESC ...). */
int
str_has_ctl(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 1;
	return 0;
}

static int
parse_scaled(const char *s, const char *const *units, const int64_t *scale,
    int64_t dflt, uint64_t *out)
{
	char *end;
	unsigned long long v;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	if (*end == '\0') {
		if (v > UINT64_MAX / (uint64_t)dflt)
			return -1;
		*out = v * (uint64_t)dflt;
		return 0;
	}
	for (int i = 0; units[i] != NULL; i++) {
		if (strcasecmp(end, units[i]) == 0) {
			if (v > UINT64_MAX / (uint64_t)scale[i])
				return -1;
			*out = v * (uint64_t)scale[i];
			return 0;
		}
	}
	return -1;
}

int
parse_duration_ms(const char *s, int64_t *out)
{
	static const char *const units[] = { "ms", "s", "m", "h", "d", "w",
	    NULL };
	static const int64_t scale[] = { 1, 1000, 60000, 3600000, 86400000,
	    604800000 };
	uint64_t v;

	if (parse_scaled(s, units, scale, 1000, &v) == -1 ||
	    v > (uint64_t)INT64_MAX)
		return -1;
	*out = (int64_t)v;
	return 0;
}

int
parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int
parse_size(const char *s, uint64_t *out)
{
	static const char *const units[] = { "b", "k", "kb", "m", "mb", "g",
	    "gb", NULL };
	static const int64_t scale[] = { 1, 1024, 1024, 1048576, 1048576,
	    1073741824, 1073741824 };

	return parse_scaled(s, units, scale, 1, out);
}

void
random_bytes(void *p, size_t n)
{
	if (RAND_bytes(p, (int)n) != 1)
		fatal("RAND_bytes failed");
}

void
hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void
fmt_rfc3339(int64_t usec, char *out, size_t n)
{
	time_t t = (time_t)(usec / 1000000);
	struct tm tm;
	char tmp[32];

	gmtime_r(&t, &tm);
	strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, n, "%s.%06dZ", tmp, (int)(usec % 1000000));
}

void
fmt_rfc5322(time_t t, char *out, size_t n)
{
	struct tm tm;
	long off;
	char sign = '+';

	localtime_r(&t, &tm);
	off = tm.tm_gmtoff / 60;
	if (off < 0) {
		sign = '-';
		off = -off;
	}
	/* Day and month names must be English whatever the locale. */
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *const mons[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	snprintf(out, n, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld",
	    days[tm.tm_wday], tm.tm_mday, mons[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 60, off % 60);
}

int
lookup_user(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd *pw;

	if ((pw = getpwnam(user)) == NULL)
		return -1;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

int
drop_privileges(const char *user, const char **errstr)
{
	uid_t uid;
	gid_t gid;

	if (user == NULL || *user == '\0' || geteuid() != 0)
		return 0;
	if (lookup_user(user, &uid, &gid) == -1) {
		*errstr = "unknown user";
		return -1;
	}
	if (uid == 0)
		return 0;
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1) {
		*errstr = strerror(errno);
		return -1;
	}
	return 0;
}

int
owner_ids(const char *user, uid_t *uid, gid_t *gid)
{
	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (geteuid() != 0 || user == NULL || *user == '\0' ||
	    lookup_user(user, uid, gid) == -1 || *uid == 0) {
		*uid = (uid_t)-1;
		*gid = (gid_t)-1;
		return 0;
	}
	return 1;
}

/* One directory of mkdir_p_owned(): made, and given away if asked. */
static int
mkdir_owned(const char *dir, mode_t mode, uid_t uid, gid_t gid)
{
	if (mkdir(dir, mode) == -1)
		return errno == EEXIST ? 0 : -1;
	if (uid != (uid_t)-1 && chown(dir, uid, gid) == -1)
		return -1;
	return 0;
}

int
mkdir_p_owned(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	char tmp[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir_owned(tmp, mode, uid, gid) == -1)
			return -1;
		*p = '/';
	}
	return mkdir_owned(tmp, mode, uid, gid);
}

int
mkdir_p(const char *path, mode_t mode)
{
	return mkdir_p_owned(path, mode, (uid_t)-1, (gid_t)-1);
}

/*
 * The length of the well-formed UTF-8 sequence of a non-ASCII character
 * at s[0..n) (RFC 3629 4: no overlong forms, no surrogates, nothing past
 * U+10FFFF), or 0.
 */
size_t
utf8_char_len(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t k;

	if (n == 0 || u[0] < 0xc2 || u[0] > 0xf4)
		return 0;
	k = u[0] < 0xe0 ? 2 : u[0] < 0xf0 ? 3 : 4;
	if (u[0] == 0xe0)
		lo = 0xa0;
	else if (u[0] == 0xed)
		hi = 0x9f;
	else if (u[0] == 0xf0)
		lo = 0x90;
	else if (u[0] == 0xf4)
		hi = 0x8f;
	if (n < k || u[1] < lo || u[1] > hi)
		return 0;
	for (size_t i = 2; i < k; i++)
		if (u[i] < 0x80 || u[i] > 0xbf)
			return 0;
	return k;
}

void
thread_name(const char *name)
{
	/* prctl, not pthread_setname_np: no file to open under the sandbox. */
	(void)prctl(PR_SET_NAME, name, 0, 0, 0);
}
