// sources: gwd/dsn.c common/buf.c common/util.c common/log.c common/addr.c
/*
 * fuzz_dsn.c - delivery status notifications.  The input is split at
 * the first two NUL bytes into the original message, a diagnostic and
 * a recipient address (all untrusted in real life; the last two also
 * stand in for ENVID and ORCPT).  Invariants: every
 * line ends CRLF, none passes 998 octets, no 8-bit or NUL byte gets
 * out, exactly four lines start with the boundary (three parts and the
 * close), and the original's body never appears.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsn.h"

#define BOUNDARY	"=_gw_dsn_b"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Next NUL-separated piece of data[*off .. size), as a C string. */
static char *
piece(const uint8_t *data, size_t size, size_t *off)
{
	const uint8_t *p = data + *off, *z;
	size_t n = size - *off;
	char *s;

	z = memchr(p, '\0', n);
	if (z != NULL)
		n = (size_t)(z - p);
	s = malloc(n + 1);
	assert(s != NULL);
	memcpy(s, p, n);
	s[n] = '\0';
	*off += n + (z != NULL);
	return s;
}

static void
check(const char *s, size_t n)
{
	size_t i, start = 0, blen = strlen("--" BOUNDARY);
	int delims = 0;

	assert(n >= 2 && s[n - 2] == '\r' && s[n - 1] == '\n');
	for (i = 0; i < n; i++) {
		assert(s[i] != '\0' && (unsigned char)s[i] < 0x80);
		if (s[i] == '\r')
			assert(i + 1 < n && s[i + 1] == '\n');
		if (s[i] != '\n')
			continue;
		assert(i > 0 && s[i - 1] == '\r');
		assert(i - 1 - start <= 998);
		if (i - start >= blen &&
		    memcmp(s + start, "--" BOUNDARY, blen) == 0)
			delims++;
		start = i + 1;
	}
	assert(delims == 4);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dsn_rcpt r[2];
	struct dsn d;
	struct buf out;
	size_t off = 0, olen;
	char *orig, *diag, *addr;
	const char *m;

	orig = piece(data, size, &off);
	olen = strlen(orig);
	diag = piece(data, size, &off);
	addr = piece(data, size, &off);

	memset(r, 0, sizeof(r));
	r[0].address = addr;
	r[0].action = "failed";
	r[0].status = "5.1.1";
	r[0].remote_mta = diag;
	r[0].diagnostic = diag;
	r[0].reason = addr;
	r[0].last_attempt = 1795003000;
	r[0].orcpt = addr;
	r[1].address = diag;
	r[1].action = addr;
	r[1].status = addr;
	r[1].orcpt = diag;
	memset(&d, 0, sizeof(d));
	d.reporting_mta = "mx.example.net";
	d.postmaster = "MAILER-DAEMON@mx.example.net";
	d.to = addr;
	d.message_id = "<dsn@mx.example.net>";
	d.boundary = BOUNDARY;
	d.qid = "0123456789abcdef";
	d.arrival = 1795000000;
	d.now = 1795003600;
	d.original = orig;
	d.original_len = olen;
	d.envid = diag;
	d.rcpts = r;
	d.nrcpts = 2;

	buf_init(&out, 0);
	assert(dsn_build(&d, &out) == 0);
	check(buf_ptr(&out), buf_len(&out));
	/* A marker placed after a blank line (the body) must not leak. */
	if ((m = strstr(orig, "\r\n\r\nBODYMARK")) != NULL &&
	    strstr(orig, "BODYMARK") == m + 4 &&
	    strstr(diag, "BODYMARK") == NULL && strstr(addr, "BODYMARK") == NULL)
		assert(strstr(buf_cstr(&out), "BODYMARK") == NULL);
	buf_free(&out);

	/* A small maximum fails cleanly and leaves the buffer empty. */
	buf_init(&out, 512);
	assert(dsn_build(&d, &out) == -1);
	assert(buf_len(&out) == 0);
	buf_free(&out);

	free(orig);
	free(diag);
	free(addr);
	return 0;
}
