// sources:
/*
 * test_archfile.c - the compliance archive's day files (common/
 * archfile.c): records round-trip byte for byte, the chain holds, and
 * every single changed byte, a removed record, two records swapped and
 * a cut end are each found and named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "archfile.h"
#include "buf.h"

#define NREC	4

struct day {
	struct buf	 b;
	size_t		 off[NREC + 1];	/* each record's, then the end */
	uint8_t		 final[ARCH_HASH_LEN];
};

#define BODY2	"From: b@example.com\r\n\r\n\xc3\xa9\x00\xff binary\r\n"
#define BODY2_LEN	(sizeof(BODY2) - 1)	/* a NUL inside: not strlen */

static const char *const bodies[NREC] = {
	"From: a@example.com\r\nSubject: one\r\n\r\nfirst\r\n",
	"",
	BODY2,
	"Subject: four\r\n\r\nfourth, the last\r\n",
};

/* A day file of NREC records chained to prev. */
static void
day_make(struct day *d, const char *dayname, const uint8_t *prev,
    uint64_t seq0)
{
	uint8_t h[ARCH_HEAD_LEN], hash[ARCH_HASH_LEN];
	struct arch_head hd;
	char err[100], qid[17], env[100];

	buf_init(&d->b, 0);
	assert_int_equal(archfile_head_encode(dayname, prev, 1765000000000000LL,
	    h), 0);
	assert_int_equal(buf_append(&d->b, h, sizeof(h)), 0);
	assert_int_equal(archfile_head_parse(h, sizeof(h), &hd, err,
	    sizeof(err)), 0);
	memcpy(hash, hd.hash, sizeof(hash));
	for (int i = 0; i < NREC; i++) {
		snprintf(qid, sizeof(qid), "%016X", 0xA0 + i);
		snprintf(env, sizeof(env), "Queue-ID: %s\r\nRecipient: <r%d@x>"
		    "\r\n", qid, i);
		d->off[i] = buf_len(&d->b);
		assert_int_equal(archfile_rec_build(&d->b, seq0 + (uint64_t)i,
		    1765000000000000LL + i, qid, env, strlen(env), bodies[i],
		    i == 2 ? BODY2_LEN : strlen(bodies[i]), hash, 1, hash), 0);
	}
	d->off[NREC] = buf_len(&d->b);
	memcpy(d->final, hash, sizeof(hash));
}

static void
test_round_trip(void **state)
{
	struct day d;
	struct arch_check c;
	struct arch_rec r;
	const uint8_t *p;
	char err[100], *body, qid[17];
	size_t len;

	day_make(&d, "20261207", NULL, 1);
	p = (const uint8_t *)buf_ptr(&d.b);
	assert_int_equal(archfile_check(p, buf_len(&d.b), 1, &c), 0);
	assert_false(c.bad);
	assert_false(c.torn);
	assert_int_equal(c.nrec, NREC);
	assert_int_equal(c.first_seq, 1);
	assert_int_equal(c.last_seq, NREC);
	assert_string_equal(c.head.day, "20261207");
	assert_memory_equal(c.final, d.final, ARCH_HASH_LEN);
	for (int i = 0; i < NREC; i++) {
		assert_int_equal(archfile_rec_parse(p + d.off[i], buf_len(&d.b) -
		    d.off[i], &r, err, sizeof(err)), 1);
		assert_int_equal(r.len, d.off[i + 1] - d.off[i]);
		assert_int_equal(r.seq, (uint64_t)i + 1);
		snprintf(qid, sizeof(qid), "%016X", 0xA0 + i);
		assert_int_equal(r.qidlen, 16);
		assert_memory_equal(r.qid, qid, 16);
		assert_true(archfile_rec_hash_ok(&r));
		assert_int_equal(archfile_rec_body(&r, &body, &len, err,
		    sizeof(err)), 0);
		assert_int_equal(len, i == 2 ? BODY2_LEN : strlen(bodies[i]));
		assert_memory_equal(body, bodies[i], len);
		free(body);
	}
	assert_int_equal(archfile_rec_parse(p + d.off[NREC], 0, &r, err,
	    sizeof(err)), 0);
	buf_free(&d.b);
}

/* The next day's header holds this day's final hash. */
static void
test_days_chain(void **state)
{
	struct day d1, d2;
	struct arch_check c1, c2;

	day_make(&d1, "20261207", NULL, 1);
	archfile_check((const uint8_t *)buf_ptr(&d1.b), buf_len(&d1.b), 1, &c1);
	day_make(&d2, "20261208", c1.final, NREC + 1);
	archfile_check((const uint8_t *)buf_ptr(&d2.b), buf_len(&d2.b), 1, &c2);
	assert_false(c2.bad);
	assert_memory_equal(c2.head.prev, c1.final, ARCH_HASH_LEN);
	assert_int_equal(c2.first_seq, NREC + 1);
	buf_free(&d1.b);
	buf_free(&d2.b);
}

/* Every byte of every record, changed: the check fails, naming the
 * record that byte is in. */
static void
test_every_changed_byte(void **state)
{
	struct day d;
	struct arch_check c;
	uint8_t *p;
	size_t n;
	int rec;

	day_make(&d, "20261207", NULL, 1);
	p = (uint8_t *)buf_ptr(&d.b);
	n = buf_len(&d.b);
	for (size_t i = ARCH_HEAD_LEN; i < n; i++) {
		for (rec = 0; d.off[rec + 1] <= i; rec++)
			;
		p[i] ^= 0x20;
		assert_int_equal(archfile_check(p, n, 1, &c), -1);
		assert_true(c.bad);
		assert_int_equal(c.bad_index, (uint64_t)rec + 1);
		p[i] ^= 0x20;
	}
	/* The header's bytes: the first record no longer follows it (the
	 * magic and day are refused outright). */
	for (size_t i = 0; i < ARCH_HEAD_LEN; i++) {
		p[i] ^= 0x01;
		assert_int_equal(archfile_check(p, n, 1, &c), -1);
		assert_true(c.bad_index <= 1);
		p[i] ^= 0x01;
	}
	assert_int_equal(archfile_check(p, n, 1, &c), 0);
	buf_free(&d.b);
}

static void
test_removed_and_swapped(void **state)
{
	struct day d;
	struct arch_check c;
	struct buf x;
	const char *p;

	day_make(&d, "20261207", NULL, 1);
	p = buf_ptr(&d.b);
	/* Record 2 removed: the one now second does not follow. */
	buf_init(&x, 0);
	buf_append(&x, p, d.off[1]);
	buf_append(&x, p + d.off[2], d.off[NREC] - d.off[2]);
	assert_int_equal(archfile_check((const uint8_t *)buf_ptr(&x),
	    buf_len(&x), 1, &c), -1);
	assert_int_equal(c.bad_index, 2);
	assert_int_equal(c.bad_seq, 3);
	assert_non_null(strstr(c.why, "removed"));
	/* Records 2 and 3 swapped. */
	buf_reset(&x);
	buf_append(&x, p, d.off[1]);
	buf_append(&x, p + d.off[2], d.off[3] - d.off[2]);
	buf_append(&x, p + d.off[1], d.off[2] - d.off[1]);
	buf_append(&x, p + d.off[3], d.off[NREC] - d.off[3]);
	assert_int_equal(archfile_check((const uint8_t *)buf_ptr(&x),
	    buf_len(&x), 1, &c), -1);
	assert_int_equal(c.bad_index, 2);
	assert_int_equal(c.bad_seq, 3);
	/* The first record removed: it no longer follows the header. */
	buf_reset(&x);
	buf_append(&x, p, ARCH_HEAD_LEN);
	buf_append(&x, p + d.off[1], d.off[NREC] - d.off[1]);
	assert_int_equal(archfile_check((const uint8_t *)buf_ptr(&x),
	    buf_len(&x), 1, &c), -1);
	assert_int_equal(c.bad_index, 1);
	buf_free(&x);
	buf_free(&d.b);
}

/* A cut end is torn, not bad, and says how far the whole records go
 * (gwd cuts there at start-up); so is a header alone. */
static void
test_cut_end(void **state)
{
	struct day d;
	struct arch_check c;
	const uint8_t *p;

	day_make(&d, "20261207", NULL, 1);
	p = (const uint8_t *)buf_ptr(&d.b);
	for (size_t cut = d.off[NREC - 1] + 1; cut < d.off[NREC]; cut += 7) {
		assert_int_equal(archfile_check(p, cut, 0, &c), 0);
		assert_true(c.torn);
		assert_int_equal(c.nrec, NREC - 1);
		assert_int_equal(c.good_len, d.off[NREC - 1]);
		assert_int_equal(c.last_seq, NREC - 1);
	}
	/* A short tail that does not begin as a record does is no cut
	 * record: gwd must not cut it off. */
	buf_append(&d.b, "GWxy", 4);
	p = (const uint8_t *)buf_ptr(&d.b);
	assert_int_equal(archfile_check(p, buf_len(&d.b), 0, &c), -1);
	assert_int_equal(c.bad_index, NREC + 1);
	assert_int_equal(archfile_check(p, buf_len(&d.b) - 2, 0, &c), 0);
	assert_true(c.torn);
	assert_int_equal(archfile_check(p, ARCH_HEAD_LEN, 1, &c), 0);
	assert_int_equal(c.nrec, 0);
	assert_memory_equal(c.final, c.head.hash, ARCH_HASH_LEN);
	assert_int_equal(archfile_check(p, ARCH_HEAD_LEN - 1, 1, &c), -1);
	assert_int_equal(c.bad_index, 0);
	buf_free(&d.b);
}

/* Lengths that claim more than a record may hold are refused before
 * anything is read through them. */
static void
test_hostile_lengths(void **state)
{
	struct day d;
	struct arch_rec r;
	uint8_t *p;
	char err[100], *body;
	size_t len;

	day_make(&d, "20261207", NULL, 1);
	p = (uint8_t *)buf_ptr(&d.b) + d.off[0];
	/* rawlen says more than the data inflates to. */
	p[32] ^= 0x01;
	assert_int_equal(archfile_rec_parse(p, buf_len(&d.b) - d.off[0], &r,
	    err, sizeof(err)), 1);
	assert_int_equal(archfile_rec_body(&r, &body, &len, err, sizeof(err)),
	    -1);
	p[32] ^= 0x01;
	/* envlen beyond the record. */
	p[24] = 0x7f;
	assert_int_equal(archfile_rec_parse(p, buf_len(&d.b) - d.off[0], &r,
	    err, sizeof(err)), -1);
	buf_free(&d.b);
}

static void
test_anchor(void **state)
{
	uint8_t h[ARCH_HASH_LEN], back[ARCH_HASH_LEN];
	char s[ARCH_ANCHOR_MAX], day[9];

	for (int i = 0; i < ARCH_HASH_LEN; i++)
		h[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(archfile_anchor_format("20261130", h, s, sizeof(s)),
	    0);
	assert_int_equal(archfile_anchor_parse(s, strlen(s), day, back), 0);
	assert_string_equal(day, "20261130");
	assert_memory_equal(back, h, ARCH_HASH_LEN);
	s[30] = 'G';
	assert_int_equal(archfile_anchor_parse(s, strlen(s), day, back), -1);
	assert_int_equal(archfile_anchor_parse("first 2026113x prev ", 20, day,
	    back), -1);
	assert_int_equal(archfile_anchor_format("2026113", h, s, sizeof(s)),
	    -1);
}

static void
test_days(void **state)
{
	char d[9];

	archfile_day(0, d);
	assert_string_equal(d, "19700101");
	archfile_day(1796601600LL * 1000000 - 1, d);	/* 2026-12-06 23:59:59 */
	assert_string_equal(d, "20261206");
	archfile_day(1796601600LL * 1000000, d);
	assert_string_equal(d, "20261207");
	assert_true(archfile_day_valid("20261207"));
	assert_false(archfile_day_valid("2026120"));
	assert_false(archfile_day_valid("2026120a"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_days_chain),
		cmocka_unit_test(test_every_changed_byte),
		cmocka_unit_test(test_removed_and_swapped),
		cmocka_unit_test(test_cut_end),
		cmocka_unit_test(test_hostile_lengths),
		cmocka_unit_test(test_anchor),
		cmocka_unit_test(test_days),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
