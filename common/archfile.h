/*
 * archfile.h - the compliance archive's day files: one per UTC day of
 * zlib-compressed messages, each record chained to the one before by
 * SHA-256, each day file chained to the day before.  Pure: bytes in,
 * bytes out, no I/O, so gwd (which writes), gwctl (which verifies and
 * reads), the unit tests and a fuzzer share it.
 *
 * A day file (state_dir/archive/YYYYMMDD.gwa) is a header, then records:
 *
 *   header (56 bytes)  "GWARCHV1"  8 bytes
 *                      day         8 ASCII digits, YYYYMMDD (UTC)
 *                      prev        32: the final hash of the day file
 *                                  before (all zero for the first one)
 *                      created     int64, unix microseconds
 *   record             "GWAR"      4
 *                      length      uint32: the whole record, magic to hash
 *                      seq         uint64: strictly increasing, archive-wide
 *                      received    int64: unix microseconds
 *                      envlen      uint32  the envelope's length
 *                      zlen        uint32  the compressed message's length
 *                      rawlen      uint32  the message's length
 *                      qidlen      uint16
 *                      flags       uint16  (0; bit 0 set: zlib)
 *                      prev        32: the hash of the record before, or
 *                                  of the header for the first record
 *                      qid, envelope (text, "Name: value" CRLF lines),
 *                      the message, compressed (zlib)
 *                      hash        32: SHA-256 of the record up to here
 *
 * Integers are big-endian.  A record's hash covers its prev, so a
 * changed byte breaks that record's hash, and a record removed or moved
 * breaks the next one's prev.  A day file's final hash is its last
 * record's hash (the header's hash when it has none).
 *
 * Exposure: archfile_check() and archfile_rec_parse() read files anyone
 * with write access to the archive may have changed: every length is
 * checked against what is there before it is used.
 */
#ifndef GW_ARCHFILE_H
#define GW_ARCHFILE_H

#include <stddef.h>
#include <stdint.h>

struct buf;

#define ARCH_HASH_LEN	32
#define ARCH_HEAD_LEN	56
#define ARCH_REC_FIXED	40	/* magic .. flags */
#define ARCH_REC_MIN	(ARCH_REC_FIXED + 2 * ARCH_HASH_LEN)
#define ARCH_REC_MAX	(1u << 30)	/* a record's length, at most */
#define ARCH_QID_MAX	64

struct arch_head {
	char		 day[9];	/* YYYYMMDD */
	uint8_t		 prev[ARCH_HASH_LEN];
	int64_t		 created_us;
	uint8_t		 hash[ARCH_HASH_LEN];	/* SHA-256 of the header */
};

/* A record as parsed: pointers into the bytes it was parsed from. */
struct arch_rec {
	uint64_t	 seq;
	int64_t		 received_us;
	const char	*qid;
	size_t		 qidlen;
	const char	*env;
	size_t		 envlen;
	const uint8_t	*z;
	size_t		 zlen;
	size_t		 rawlen;
	unsigned	 flags;
	const uint8_t	*prev;
	const uint8_t	*hash;		/* as stored */
	const uint8_t	*start;		/* the record's first byte */
	size_t		 len;		/* its whole length */
};

/* The header of a new day file into out.  0, or -1 (day not 8 digits). */
int	 archfile_head_encode(const char *day, const uint8_t *prev,
	    int64_t created_us, uint8_t out[ARCH_HEAD_LEN]);
/* 0, or -1 with why in err. */
int	 archfile_head_parse(const uint8_t *p, size_t n, struct arch_head *,
	    char *err, size_t errsz);

/*
 * Append one record to out: body compressed at zlib `level`, chained to
 * prev; its hash goes to hash_out.  0, or -1 (no memory, too long, zlib
 * failed) with out as it was.  Keeps a deflate stream per thread
 * (archfile_zfree()).
 */
int	 archfile_rec_build(struct buf *out, uint64_t seq, int64_t received_us,
	    const char *qid, const char *env, size_t envlen, const char *body,
	    size_t bodylen, const uint8_t *prev, int level,
	    uint8_t hash_out[ARCH_HASH_LEN]);

/* The calling thread's compression state, freed (before it ends). */
void	 archfile_zfree(void);

/*
 * The record at p (n bytes left): 1 parsed into *r (r->len bytes), 0
 * when n is 0, -1 when the bytes are not a whole record (err says why:
 * cut short, bad magic, lengths that do not add up).
 */
int	 archfile_rec_parse(const uint8_t *p, size_t n, struct arch_rec *r,
	    char *err, size_t errsz);
/* Does the record's stored hash match its bytes?  1 or 0. */
int	 archfile_rec_hash_ok(const struct arch_rec *);
/* The message, uncompressed, into out (malloc'd).  0, or -1 with err. */
int	 archfile_rec_body(const struct arch_rec *, char **out, size_t *outlen,
	    char *err, size_t errsz);

/* What archfile_check() found in a day file. */
struct arch_check {
	struct arch_head head;
	uint64_t	 nrec;		/* whole records read */
	uint64_t	 first_seq;	/* 0: none */
	uint64_t	 last_seq;
	uint8_t		 final[ARCH_HASH_LEN];	/* the last good hash */
	size_t		 good_len;	/* bytes up to the last whole record */
	int		 torn;		/* ends in a part of a record */
	/* The first fault (bad set): which record, where, why. */
	int		 bad;
	uint64_t	 bad_index;	/* 1-based record number; 0: header */
	uint64_t	 bad_seq;
	char		 bad_qid[ARCH_QID_MAX + 1];
	size_t		 bad_off;
	char		 why[200];
};

/*
 * Walk a day file.  With hashes set, each record's hash is recomputed
 * and each prev compared with the hash before it (and seq must grow);
 * without, only the framing is read (gwd at start-up: where to go on
 * from).  A part of a record at the end is `torn`, not bad: gwd may be
 * writing it, or a crash cut it.  Returns 0, or -1 when bad is set.
 */
int	 archfile_check(const uint8_t *p, size_t n, int hashes,
	    struct arch_check *);

/*
 * The anchor (state_dir/archive/anchor), written when retention removes
 * the oldest day files: "first DAY prev HEX\n", the first day kept
 * (days before it are gone or going) and the final hash of the day
 * removed last, which that day's header must hold.
 */
#define ARCH_ANCHOR_MAX	128
int	 archfile_anchor_format(const char *day, const uint8_t *prev,
	    char *out, size_t outsz);
int	 archfile_anchor_parse(const char *s, size_t n, char day[9],
	    uint8_t prev[ARCH_HASH_LEN]);

/* "20261207" for unix microseconds t, UTC. */
void	 archfile_day(int64_t t_us, char out[9]);
/* Is s eight digits naming a day file ("20261207")?  1 or 0. */
int	 archfile_day_valid(const char *s);

#endif
