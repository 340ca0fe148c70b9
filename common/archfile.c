/*
 * archfile.c - the compliance archive's day-file format (archfile.h).
 * Standards: RFC 1950 (zlib), FIPS 180-4 (SHA-256).
 * Exposure: archfile_check() and archfile_rec_parse() read bytes from a
 * file someone may have changed; every length is checked against the
 * bytes left before it is used, and inflating stops at the length the
 * record claims.
 * Diagnostics: never dies; -1 with the reason in the caller's err.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>
#include <zlib.h>

#include "archfile.h"
#include "buf.h"

#define HEAD_MAGIC	"GWARCHV1"
#define REC_MAGIC	"GWAR"
#define FLAG_ZLIB	0x0001u

/*
 * One deflate stream per thread, reset for each record: compress2()
 * allocates and frees about 270 KB of state per call, which glibc maps
 * and unmaps each time; the page faults made a 5 KB record cost 40
 * times what deflating it does (3.9 ms against 90 us, measured).
 */
static __thread z_stream zs;
static __thread int	 zs_level = -1;

static int
deflate_to(uint8_t *out, size_t *outlen, const char *in, size_t inlen,
    int level)
{
	if (zs_level != level) {
		archfile_zfree();
		if (deflateInit(&zs, level) != Z_OK)
			return -1;
		zs_level = level;
	} else if (deflateReset(&zs) != Z_OK)
		return -1;
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)inlen;
	zs.next_out = out;
	zs.avail_out = (uInt)*outlen;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		return -1;
	*outlen = zs.total_out;
	return 0;
}

void
archfile_zfree(void)
{
	if (zs_level != -1)
		deflateEnd(&zs);
	memset(&zs, 0, sizeof(zs));
	zs_level = -1;
}

static void
put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t
get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

int
archfile_day_valid(const char *s)
{
	if (strlen(s) != 8)
		return 0;
	for (int i = 0; i < 8; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

void
archfile_day(int64_t t_us, char out[9])
{
	time_t t = (time_t)(t_us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	if (strftime(out, 9, "%Y%m%d", &tm) != 8)
		memcpy(out, "19700101", 9);
}

int
archfile_head_encode(const char *day, const uint8_t *prev, int64_t created_us,
    uint8_t out[ARCH_HEAD_LEN])
{
	if (!archfile_day_valid(day))
		return -1;
	memcpy(out, HEAD_MAGIC, 8);
	memcpy(out + 8, day, 8);
	if (prev)
		memcpy(out + 16, prev, ARCH_HASH_LEN);
	else
		memset(out + 16, 0, ARCH_HASH_LEN);
	put_be(out + 48, (uint64_t)created_us, 8);
	return 0;
}

int
archfile_head_parse(const uint8_t *p, size_t n, struct arch_head *h,
    char *err, size_t errsz)
{
	if (n < ARCH_HEAD_LEN) {
		snprintf(err, errsz, "header cut short (%zu bytes)", n);
		return -1;
	}
	if (memcmp(p, HEAD_MAGIC, 8) != 0) {
		snprintf(err, errsz, "not an archive day file (bad magic)");
		return -1;
	}
	memcpy(h->day, p + 8, 8);
	h->day[8] = '\0';
	if (!archfile_day_valid(h->day)) {
		snprintf(err, errsz, "header names no day");
		return -1;
	}
	memcpy(h->prev, p + 16, ARCH_HASH_LEN);
	h->created_us = (int64_t)get_be(p + 48, 8);
	SHA256(p, ARCH_HEAD_LEN, h->hash);
	return 0;
}

int
archfile_rec_build(struct buf *out, uint64_t seq, int64_t received_us,
    const char *qid, const char *env, size_t envlen, const char *body,
    size_t bodylen, const uint8_t *prev, int level,
    uint8_t hash_out[ARCH_HASH_LEN])
{
	size_t qidlen = strlen(qid), fixed, total;
	size_t zlen = compressBound((uLong)bodylen);
	uint8_t *p;

	if (qidlen > ARCH_QID_MAX || envlen > ARCH_REC_MAX ||
	    bodylen > ARCH_REC_MAX)
		return -1;
	fixed = ARCH_REC_FIXED + ARCH_HASH_LEN + qidlen + envlen;
	if (buf_reserve(out, fixed + zlen + ARCH_HASH_LEN) == -1)
		return -1;
	p = (uint8_t *)buf_tail(out);
	if (deflate_to(p + fixed, &zlen, body, bodylen, level) == -1)
		return -1;
	total = fixed + zlen + ARCH_HASH_LEN;
	if (total > ARCH_REC_MAX)
		return -1;
	memcpy(p, REC_MAGIC, 4);
	put_be(p + 4, total, 4);
	put_be(p + 8, seq, 8);
	put_be(p + 16, (uint64_t)received_us, 8);
	put_be(p + 24, envlen, 4);
	put_be(p + 28, zlen, 4);
	put_be(p + 32, bodylen, 4);
	put_be(p + 36, qidlen, 2);
	put_be(p + 38, FLAG_ZLIB, 2);
	memcpy(p + ARCH_REC_FIXED, prev, ARCH_HASH_LEN);
	memcpy(p + ARCH_REC_FIXED + ARCH_HASH_LEN, qid, qidlen);
	memcpy(p + ARCH_REC_FIXED + ARCH_HASH_LEN + qidlen, env, envlen);
	SHA256(p, total - ARCH_HASH_LEN, p + total - ARCH_HASH_LEN);
	memcpy(hash_out, p + total - ARCH_HASH_LEN, ARCH_HASH_LEN);
	buf_added(out, total);
	return 0;
}

int
archfile_rec_parse(const uint8_t *p, size_t n, struct arch_rec *r, char *err,
    size_t errsz)
{
	size_t len, parts;

	if (n == 0)
		return 0;
	/* The magic first, of what there is: a short tail that is not the
	 * start of a record is not a cut record. */
	if (memcmp(p, REC_MAGIC, n < 4 ? n : 4) != 0) {
		snprintf(err, errsz, "no record here (bad magic)");
		return -1;
	}
	if (n < ARCH_REC_FIXED) {
		snprintf(err, errsz, "record cut short (%zu bytes)", n);
		return -1;
	}
	len = (size_t)get_be(p + 4, 4);
	r->seq = get_be(p + 8, 8);
	r->received_us = (int64_t)get_be(p + 16, 8);
	r->envlen = (size_t)get_be(p + 24, 4);
	r->zlen = (size_t)get_be(p + 28, 4);
	r->rawlen = (size_t)get_be(p + 32, 4);
	r->qidlen = (size_t)get_be(p + 36, 2);
	r->flags = (unsigned)get_be(p + 38, 2);
	/* Each part is below 2^32, so the sum cannot wrap. */
	parts = (size_t)ARCH_REC_MIN + r->qidlen + r->envlen + r->zlen;
	if (len != parts || len > ARCH_REC_MAX || r->qidlen > ARCH_QID_MAX ||
	    r->rawlen > ARCH_REC_MAX || r->flags != FLAG_ZLIB) {
		snprintf(err, errsz, "record lengths do not add up");
		return -1;
	}
	if (len > n) {
		snprintf(err, errsz, "record cut short (%zu of %zu bytes)", n,
		    len);
		return -1;
	}
	r->start = p;
	r->len = len;
	r->prev = p + ARCH_REC_FIXED;
	r->qid = (const char *)p + ARCH_REC_FIXED + ARCH_HASH_LEN;
	r->env = r->qid + r->qidlen;
	r->z = (const uint8_t *)r->env + r->envlen;
	r->hash = p + len - ARCH_HASH_LEN;
	return 1;
}

int
archfile_rec_hash_ok(const struct arch_rec *r)
{
	uint8_t h[ARCH_HASH_LEN];

	SHA256(r->start, r->len - ARCH_HASH_LEN, h);
	return memcmp(h, r->hash, ARCH_HASH_LEN) == 0;
}

int
archfile_rec_body(const struct arch_rec *r, char **out, size_t *outlen,
    char *err, size_t errsz)
{
	uLongf n = (uLongf)r->rawlen;
	char *b = malloc(r->rawlen ? r->rawlen : 1);
	int zr;

	if (b == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	zr = uncompress((Bytef *)b, &n, r->z, (uLong)r->zlen);
	if (zr != Z_OK || n != r->rawlen) {
		snprintf(err, errsz, "the message does not inflate (%s)",
		    zr == Z_OK ? "length differs" : zError(zr));
		free(b);
		return -1;
	}
	*out = b;
	*outlen = n;
	return 0;
}

/* Note the first fault (record i at off) and stop. */
static int
check_bad(struct arch_check *c, uint64_t i, size_t off,
    const struct arch_rec *r, const char *why)
{
	c->bad = 1;
	c->bad_index = i;
	c->bad_off = off;
	c->bad_seq = r ? r->seq : 0;
	c->bad_qid[0] = '\0';
	if (r) {
		size_t n = r->qidlen;

		memcpy(c->bad_qid, r->qid, n);
		c->bad_qid[n] = '\0';
		for (size_t k = 0; k < n; k++)
			if (c->bad_qid[k] < 0x21 || c->bad_qid[k] > 0x7e)
				c->bad_qid[k] = '?';
	}
	snprintf(c->why, sizeof(c->why), "%s", why);
	return -1;
}

int
archfile_check(const uint8_t *p, size_t n, int hashes, struct arch_check *c)
{
	struct arch_rec r;
	size_t off = ARCH_HEAD_LEN;
	char err[160];
	int k;

	memset(c, 0, sizeof(*c));
	if (archfile_head_parse(p, n, &c->head, err, sizeof(err)) == -1)
		return check_bad(c, 0, 0, NULL, err);
	memcpy(c->final, c->head.hash, ARCH_HASH_LEN);
	c->good_len = off;
	while ((k = archfile_rec_parse(p + off, n - off, &r, err,
	    sizeof(err))) == 1) {
		if (hashes && !archfile_rec_hash_ok(&r))
			return check_bad(c, c->nrec + 1, off, &r, "hash "
			    "mismatch: the record was changed");
		if (hashes && memcmp(r.prev, c->final, ARCH_HASH_LEN) != 0)
			return check_bad(c, c->nrec + 1, off, &r, "does not "
			    "follow the record before it (a record was "
			    "removed, inserted or reordered here)");
		if (hashes && c->nrec > 0 && r.seq <= c->last_seq)
			return check_bad(c, c->nrec + 1, off, &r, "sequence "
			    "number does not grow");
		if (c->nrec++ == 0)
			c->first_seq = r.seq;
		c->last_seq = r.seq;
		memcpy(c->final, r.hash, ARCH_HASH_LEN);
		off += r.len;
		c->good_len = off;
	}
	if (k == -1) {
		/* A part of a record at the very end: torn.  Anything else
		 * in the middle of the file (bad magic, lengths that point
		 * past what follows yet leave a shorter tail) is bad. */
		if (strncmp(err, "record cut short", 16) == 0) {
			c->torn = 1;
			return 0;
		}
		return check_bad(c, c->nrec + 1, off, NULL, err);
	}
	return 0;
}

int
archfile_anchor_format(const char *day, const uint8_t *prev, char *out,
    size_t outsz)
{
	char hex[2 * ARCH_HASH_LEN + 1];
	int n;

	if (!archfile_day_valid(day))
		return -1;
	for (int i = 0; i < ARCH_HASH_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", prev[i]);
	n = snprintf(out, outsz, "first %s prev %s\n", day, hex);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
archfile_anchor_parse(const char *s, size_t n, char day[9],
    uint8_t prev[ARCH_HASH_LEN])
{
	/* "first " 8 " prev " 64 "\n" */
	if (n != 6 + 8 + 6 + 2 * ARCH_HASH_LEN + 1 ||
	    memcmp(s, "first ", 6) != 0 || memcmp(s + 14, " prev ", 6) != 0 ||
	    s[n - 1] != '\n')
		return -1;
	memcpy(day, s + 6, 8);
	day[8] = '\0';
	if (!archfile_day_valid(day))
		return -1;
	for (int i = 0; i < ARCH_HASH_LEN; i++) {
		int hi = hexval(s[20 + 2 * i]), lo = hexval(s[21 + 2 * i]);

		if (hi < 0 || lo < 0)
			return -1;
		prev[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
