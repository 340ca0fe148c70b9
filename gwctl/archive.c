/*
 * archive.c - gwctl archive ...: the compliance archive's day files
 * under state_dir/archive (common/archfile.h has the format).
 *
 * verify walks every day file in order: each record's SHA-256 against
 * its bytes, each record's prev against the hash before it, sequence
 * numbers that grow, and each day file's header against the final hash
 * of the day before (or, after retention, the anchor).  The first fault
 * is named: the file, the record's number, sequence number, queue id
 * and offset, and why.  get finds a message by its queue id (the id
 * says when it arrived: the search starts at that day), checks its
 * record's hash, and writes it byte for byte.
 * Security: runs as gwd's user (ctx_state()), who owns the archive;
 * the files are read, never written.  What is in them is untrusted:
 * archfile.c checks every length.
 * Diagnostics: 0 when the archive verifies, 65 (EX_DATAERR) with the
 * fault on stderr when it does not; get: 66 (EX_NOINPUT) when the id is
 * not in the archive.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "archdir.h"
#include "archfile.h"
#include "db.h"
#include "gwctl.h"
#include "log.h"
#include "util.h"

static const uint8_t	 zero_hash[ARCH_HASH_LEN];

static int	each_record(const char *, const char *,
		    int (*)(const char *, const struct arch_rec *, void *),
		    void *);

static void
hash_hex(const uint8_t *h, char out[2 * ARCH_HASH_LEN + 1])
{
	hex_encode(h, ARCH_HASH_LEN, out);
}

/* state_dir/archive, after dropping to gwd's user. */
static int
archive_open_dir(struct ctx *ctx, char **dir)
{
	int r;

	if ((r = ctx_state(ctx)) != EX_OK)
		return r;
	*dir = xasprintf("%s/archive", ctx->cfg.state_dir);
	return EX_OK;
}

/* Check one day file (full: hashes too); a torn end of the newest file
 * may be gwd writing it: read once more before calling it cut. */
static int
verify_map(const char *path, int full, int newest, struct arch_check *c)
{
	const uint8_t *p;
	size_t n;

	for (int tries = 0; tries < 2; tries++) {
		if (archdir_map(path, &p, &n) == -1) {
			log_warn("%s", path);
			return EX_NOINPUT;
		}
		archfile_check(p, n, full, c);
		archdir_unmap(p, n);
		if (!c->torn || !newest)
			break;
		usleep(200 * 1000);
	}
	return EX_OK;
}

static int
verify_fail(const char *path, const struct arch_check *c)
{
	if (c->bad_index == 0)
		log_warnx("archive: %s: header: %s", path, c->why);
	else
		log_warnx("archive: %s: record %llu (seq %llu, queue id %s) at "
		    "offset %zu: %s", path, (unsigned long long)c->bad_index,
		    (unsigned long long)c->bad_seq, c->bad_qid[0] ?
		    c->bad_qid : "-", c->bad_off, c->why);
	return EX_DATAERR;
}

struct chain {
	uint8_t		 prev[ARCH_HASH_LEN];	/* the next header's prev */
	char		 prev_day[9];		/* "" none; or "anchor" */
	uint64_t	 last_seq;
	uint64_t	 nrec;
	int		 nfiles;
};

/* One day file against the chain so far; the chain moves past it. */
static int
verify_day(const char *dir, const char *day, int full, int newest,
    struct chain *ch)
{
	char *path = archdir_path(dir, day);
	struct arch_check c;
	int r;

	if ((r = verify_map(path, full, newest, &c)) != EX_OK)
		goto out;
	if (c.bad) {
		r = verify_fail(path, &c);
		goto out;
	}
	r = EX_DATAERR;
	if (strcmp(c.head.day, day) != 0)
		log_warnx("archive: %s: header names day %s", path,
		    c.head.day);
	else if (memcmp(c.head.prev, ch->prev, ARCH_HASH_LEN) != 0)
		log_warnx("archive: %s: does not follow %s (a day file "
		    "before it was removed, changed or cut short)", path,
		    ch->prev_day[0] ? ch->prev_day : "the start of the "
		    "archive");
	else if (c.torn)
		log_warnx("archive: %s: record %llu at offset %zu: cut short "
		    "(the file ends in a part of a record)", path,
		    (unsigned long long)c.nrec + 1, c.good_len);
	else if (c.nrec > 0 && ch->last_seq > 0 && full &&
	    c.first_seq <= ch->last_seq)
		log_warnx("archive: %s: sequence numbers go back after %s",
		    path, ch->prev_day);
	else
		r = EX_OK;
	if (r != EX_OK)
		goto out;
	if (full)
		printf("%s ok: %llu records%s\n", day,
		    (unsigned long long)c.nrec, c.nrec ? "" : " (none)");
	memcpy(ch->prev, c.final, ARCH_HASH_LEN);
	gw_strlcpy(ch->prev_day, day, sizeof(ch->prev_day));
	if (c.nrec)
		ch->last_seq = c.last_seq;
	ch->nrec += full ? c.nrec : 0;
	ch->nfiles += full;
out:
	free(path);
	return r;
}

struct head {
	uint64_t	 seq;
	uint8_t		 hash[ARCH_HASH_LEN];
	int		 found;
};

static int
head_find(const char *path, const struct arch_rec *rec, void *arg)
{
	struct head *h = arg;

	if (rec->seq != h->seq)
		return 0;
	h->found = memcmp(rec->hash, h->hash, ARCH_HASH_LEN) == 0 ? 1 : -1;
	return 1;
}

/*
 * The head queue.db recorded: the last record synced when gwd last let
 * rows go.  Read before the day files, which only grow meanwhile.  No
 * queue.db, no head: seq 0.
 */
static void
read_head(struct ctx *ctx, struct head *h)
{
	sqlite3_stmt *st;
	sqlite3 *q;
	char err[300];

	memset(h, 0, sizeof(*h));
	if ((q = db_open(ctx->cfg.state_dir, DB_QUEUE, DB_RDONLY, err,
	    sizeof(err))) == NULL)
		return;
	if (sqlite3_prepare_v2(q, "SELECT seq, hash FROM archive_head", -1,
	    &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st,
		    1) == ARCH_HASH_LEN) {
			h->seq = (uint64_t)sqlite3_column_int64(st, 0);
			memcpy(h->hash, sqlite3_column_blob(st, 1),
			    ARCH_HASH_LEN);
		}
		sqlite3_finalize(st);
	}
	db_close(q);
}

/* The head must be in the chain, as it was: records removed from the
 * end of the newest day file break no link. */
static int
verify_head(struct head h, const char *dir, archday_t *days, int nd,
    const struct chain *ch)
{
	if (h.seq == 0)
		return EX_OK;
	if (ch->last_seq < h.seq) {
		log_warnx("archive: the day files end at seq %llu, but gwd had "
		    "synced up to seq %llu (queue.db): records were removed "
		    "from the end", (unsigned long long)ch->last_seq,
		    (unsigned long long)h.seq);
		return EX_DATAERR;
	}
	for (int i = nd - 1; i >= 0 && !h.found; i--)
		each_record(dir, days[i], head_find, &h);
	if (h.found != 1) {
		log_warnx("archive: the record gwd synced as seq %llu (queue.db)"
		    " is %s", (unsigned long long)h.seq, h.found ? "not the "
		    "one there now" : "gone");
		return EX_DATAERR;
	}
	return EX_OK;
}

int
archive_verify(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	const char *only = a->argc > 0 ? a->argv[0] : NULL;
	char *dir, aday[9], hx[2 * ARCH_HASH_LEN + 1];
	archday_t *days;
	struct chain ch;
	struct head head;
	int r, nd, ar, found = 0;

	if (only && !archfile_day_valid(only))
		return cmd_usage_error(c, "DAY: YYYYMMDD, as the day files "
		    "are named");
	if ((r = archive_open_dir(ctx, &dir)) != EX_OK)
		return r;
	memset(&ch, 0, sizeof(ch));
	memcpy(ch.prev, zero_hash, ARCH_HASH_LEN);
	aday[0] = '\0';
	if ((ar = archdir_anchor_read(dir, aday, ch.prev)) == -1) {
		log_warnx("archive: %s/anchor: unreadable or malformed", dir);
		free(dir);
		return EX_DATAERR;
	}
	if (ar == 1)
		snprintf(ch.prev_day, sizeof(ch.prev_day), "anchor");
	read_head(ctx, &head);
	if ((nd = archdir_days(dir, &days)) == -1) {
		log_warn("%s", dir);
		free(dir);
		return EX_NOINPUT;
	}
	for (int i = 0; i < nd && r == EX_OK; i++) {
		/* Older than the anchor: retention is removing them. */
		if (ar == 1 && strcmp(days[i], aday) < 0)
			continue;
		if (only && strcmp(days[i], only) > 0)
			break;
		found |= only && strcmp(days[i], only) == 0;
		r = verify_day(dir, days[i], only == NULL ||
		    strcmp(days[i], only) == 0, i == nd - 1, &ch);
	}
	if (r == EX_OK && only && !found) {
		log_warnx("archive: no day file %s in %s", only, dir);
		r = EX_NOINPUT;
	}
	if (r == EX_OK && only == NULL)
		r = verify_head(head, dir, days, nd, &ch);
	if (r == EX_OK) {
		hash_hex(ch.prev, hx);
		printf("archive ok: %llu records in %d day files; head %s "
		    "seq %llu sha256 %s\n", (unsigned long long)ch.nrec,
		    ch.nfiles, ch.prev_day[0] ? ch.prev_day : "-",
		    (unsigned long long)ch.last_seq, hx);
	}
	free(days);
	free(dir);
	return r;
}

/*
 * Each record of one day file to fn, in order, until fn returns other
 * than 0: that value.  0 at the end; EX_NOINPUT when the file cannot be
 * read, EX_DATAERR when its records stop making sense (both said).
 */
static int
each_record(const char *dir, const char *day,
    int (*fn)(const char *, const struct arch_rec *, void *), void *arg)
{
	char *path = archdir_path(dir, day), err[160];
	const uint8_t *p;
	size_t n, off = ARCH_HEAD_LEN;
	struct arch_rec rec;
	int k = 0, r = 0;

	if (archdir_map(path, &p, &n) == -1) {
		log_warn("%s", path);
		free(path);
		return EX_NOINPUT;
	}
	while (r == 0 && n >= ARCH_HEAD_LEN && (k = archfile_rec_parse(p +
	    off, n - off, &rec, err, sizeof(err))) == 1) {
		off += rec.len;
		r = fn(path, &rec, arg);
	}
	if (r == 0 && k == -1) {
		log_warnx("archive: %s: at offset %zu: %s", path, off, err);
		r = EX_DATAERR;
	}
	archdir_unmap(p, n);
	free(path);
	return r;
}

/* The day files (after dropping to gwd's user). */
static int
archive_days(struct ctx *ctx, char **dir, archday_t **days, int *nd)
{
	int r;

	if ((r = archive_open_dir(ctx, dir)) != EX_OK)
		return r;
	if ((*nd = archdir_days(*dir, days)) == -1) {
		log_warn("%s", *dir);
		free(*dir);
		return EX_NOINPUT;
	}
	return EX_OK;
}

static int
list_one(const char *path, const struct arch_rec *rec, void *arg)
{
	char at[32];

	fmt_rfc3339(rec->received_us, at, sizeof(at));
	printf("%llu %.*s %s %zu\n", (unsigned long long)rec->seq,
	    (int)rec->qidlen, rec->qid, at, rec->rawlen);
	return 0;
}

int
archive_list(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	const char *only = a->argc > 0 ? a->argv[0] : NULL;
	archday_t *days;
	char *dir;
	int r, nd;

	if (only && !archfile_day_valid(only))
		return cmd_usage_error(c, "DAY: YYYYMMDD, as the day files "
		    "are named");
	if ((r = archive_days(ctx, &dir, &days, &nd)) != EX_OK)
		return r;
	for (int i = 0; i < nd; i++)
		if (only == NULL || strcmp(days[i], only) == 0) {
			int k = each_record(dir, days[i], list_one, NULL);

			r = r == EX_OK ? k : r;
		}
	free(days);
	free(dir);
	return r;
}

/* The day a queue id was made on (its first 13 hex digits are unix
 * microseconds, gwd.c's qid_make()), or "" when it is not one. */
static void
qid_day(const char *qid, char day[9])
{
	unsigned long long v;
	char *end;

	day[0] = '\0';
	if (strlen(qid) != 16)
		return;
	v = strtoull(qid, &end, 16);
	if (*end == '\0')
		archfile_day((int64_t)(v >> 8), day);
}

struct want {
	const char	*qid;
	int		 envelope;
};

/* The record of w->qid written out: 1; another record: 0; or an exit
 * status above 1. */
static int
get_one(const char *path, const struct arch_rec *rec, void *arg)
{
	const struct want *w = arg;
	size_t blen;
	char err[160], *body;

	if (rec->qidlen != strlen(w->qid) || memcmp(rec->qid, w->qid,
	    rec->qidlen) != 0)
		return 0;
	if (!archfile_rec_hash_ok(rec)) {
		log_warnx("archive: %s: the record of %s was changed (gwctl "
		    "archive verify)", path, w->qid);
		return EX_DATAERR;
	}
	if (w->envelope) {
		fwrite(rec->env, 1, rec->envlen, stdout);
		return 1;
	}
	if (archfile_rec_body(rec, &body, &blen, err, sizeof(err)) == -1) {
		log_warnx("archive: %s: %s: %s", path, w->qid, err);
		return EX_DATAERR;
	}
	fwrite(body, 1, blen, stdout);
	free(body);
	return 1;
}

int
archive_get(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	struct want w = { a->argv[0], args_has(a, "--envelope") };
	char *dir, day[9];
	archday_t *days;
	int r, nd, start = 0, found = 0, bad = 0;

	if ((r = archive_days(ctx, &dir, &days, &nd)) != EX_OK)
		return r;
	/* Appended on the day it arrived or after: from there, then the
	 * rest (a clock that went back). */
	qid_day(w.qid, day);
	while (day[0] && start < nd && strcmp(days[start], day) < 0)
		start++;
	/* A day file that cannot be read does not stop the search. */
	for (int k = 0; k < nd && !found; k++) {
		int x = each_record(dir, days[(start + k) % nd], get_one, &w);

		found = x == 1;
		bad = !found && x != 0 && bad == 0 ? x : bad;
	}
	if (!found && !bad)
		log_warnx("%s: not in the archive", w.qid);
	free(days);
	free(dir);
	if (fflush(stdout) == EOF)
		return EX_IOERR;
	return found ? EX_OK : bad ? bad : EX_NOINPUT;
}
