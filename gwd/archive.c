/*
 * archive.c - the compliance archive's local store (archive.h): the
 * archive_pending rows of queue.db into today's day file, synced, and
 * retention (archive.retention_days) by whole days.
 *
 * One thread, on a queue.db connection of its own that only reads
 * (the store thread stays queue.db's only writer while gwd runs): it
 * wakes when a commit brings rows, reads them in id order, appends one
 * record each, fdatasync()s the day file once for all of them, and
 * publishes the last id synced.  The store thread's next transaction
 * deletes those rows.  So a batch costs the archive one sync, beside
 * the store thread's, never in front of it.
 *
 * A day file is named by the UTC day its records were appended on
 * (the first record of a new day starts a new file, whose header holds
 * the old file's final hash; the old file is then made read-only);
 * when the clock goes back, records go on into the newest file.
 * Retention removes the oldest day files past archive.retention_days,
 * never the newest, writing the anchor (archdir.h) first so that the
 * chain of the days kept still verifies.
 *
 * Test hooks, inert unless set: GW_TEST_ARCHIVE_DELAY=MS sleeps that
 * long before each round (a slow archive disk: rows wait in queue.db);
 * GW_TEST_ARCHIVE_KILL=N makes gwd kill itself (SIGKILL) right after its
 * Nth round is synced, before queue.db forgets the rows.
 *
 * Exposure: writes gwd's own records; reads back at start-up a day
 * file that may have been cut by a crash (the part of a record at its
 * end is removed: that record was never acknowledged, its row is still
 * in queue.db).
 * Diagnostics: start-up failures are an error return; a write or sync
 * that fails is logged (once a minute), the part written is cut off
 * again, and the rows wait in queue.db to be tried again.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "archdir.h"
#include "archfile.h"
#include "archive.h"
#include "archive_priv.h"
#include "buf.h"
#include "db.h"
#include "gwd.h"
#include "log.h"
#include "util.h"

#define ROWS_MAX	256		/* rows read per round */
#define WRITE_AT	(4u << 20)	/* write() once this much is built */
#define ZLEVEL		1		/* zlib: speed over the last percent */
#define RETRY_MS	1000
#define RETENTION_MS	(3600 * 1000)
#define WARN_EVERY_MS	60000

static char		*dir;
static sqlite3		*adb;		/* the archive thread's (reads) */
static sqlite3_stmt	*st_read;

/* The day file being appended to (the archive thread's). */
static int		 fd = -1;
static char		 day[9];		/* "" none yet */
static off_t		 size;			/* its length */
static uint8_t		 last_hash[ARCH_HASH_LEN];
static int64_t		 appended;		/* last seq written */

static _Atomic int64_t	 synced;	/* last seq synced: may be acked */
static uint8_t		 synced_hash[ARCH_HASH_LEN];	/* its hash (mtx) */

static pthread_t	 thread;
static pthread_mutex_t	 mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 cond = PTHREAD_COND_INITIALIZER;
static int		 kicked, stopping, started;
static int64_t		 warned_ms;
static int		 test_delay_ms, test_kill_round;	/* test hooks */

char *
archive_dir(const char *state_dir)
{
	return xasprintf("%s/archive", state_dir);
}

/* "archive: what: why", once a minute while it lasts. */
static void
warn_now_and_then(const char *what, const char *why)
{
	int64_t now = mono_ms();

	if (warned_ms && now - warned_ms < WARN_EVERY_MS)
		return;
	warned_ms = now;
	log_warnx("archive: %s: %s", what, why);
}

static int
zeros(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/*
 * Where to go on from: the newest day file's final hash and last
 * sequence number (an older file's, when the newest has no record),
 * its part of a record at the end cut off.
 */
static int
read_tail(char *err, size_t errsz)
{
	archday_t *days;
	struct arch_check c;
	const uint8_t *p;
	size_t n;
	char *path;
	int nd, have_hash = 0;

	if ((nd = archdir_days(dir, &days)) == -1) {
		snprintf(err, errsz, "%s: %s", dir, strerror(errno));
		return -1;
	}
	for (int i = nd - 1; i >= 0 && appended == 0; i--) {
		path = archdir_path(dir, days[i]);
		if (archdir_map(path, &p, &n) == -1) {
			snprintf(err, errsz, "%s: %s", path, strerror(errno));
			free(path);
			free(days);
			return -1;
		}
		archfile_check(p, n, 0, &c);
		/* Zeros after the last whole record of the newest file: a
		 * power cut after the file grew and before its blocks were
		 * written.  Cut like a torn record; anything else stops. */
		if (c.bad && i == nd - 1 && c.bad_index > 0 &&
		    zeros(p + c.good_len, n - c.good_len)) {
			c.bad = 0;
			c.torn = 1;
		}
		archdir_unmap(p, n);
		if (c.bad) {
			snprintf(err, errsz, "%s: record %llu: %s (gwctl "
			    "archive verify)", path,
			    (unsigned long long)c.bad_index, c.why);
			free(path);
			free(days);
			return -1;
		}
		if (i == nd - 1) {
			if (c.torn && truncate(path, (off_t)c.good_len) == 0)
				log_warnx("archive: %s: the part of a record "
				    "at its end (never acknowledged) cut off",
				    path);
			memcpy(day, days[i], sizeof(day));
			size = (off_t)c.good_len;
		}
		if (!have_hash) {
			memcpy(last_hash, c.final, ARCH_HASH_LEN);
			have_hash = 1;
		}
		appended = (int64_t)c.last_seq;
		free(path);
	}
	free(days);
	return 0;
}

/*
 * Rows the day file holds already go; the sequence goes on above the
 * archive's (a new queue.db must not reuse numbers the archive has).
 */
static int
forget_archived(char *err, size_t errsz)
{
	char sql[300];

	snprintf(sql, sizeof(sql), "DELETE FROM archive_pending WHERE id <= "
	    "%lld; UPDATE sqlite_sequence SET seq = max(seq, %lld) WHERE name "
	    "= 'archive_pending'; INSERT INTO sqlite_sequence (name, seq) "
	    "SELECT 'archive_pending', %lld WHERE NOT EXISTS (SELECT 1 FROM "
	    "sqlite_sequence WHERE name = 'archive_pending')",
	    (long long)appended, (long long)appended, (long long)appended);
	if (db_exec(adb, "BEGIN IMMEDIATE", err, errsz) == -1)
		return -1;
	if (db_exec(adb, sql, err, errsz) == -1 ||
	    db_exec(adb, "COMMIT", err, errsz) == -1) {
		db_exec(adb, "ROLLBACK", sql, sizeof(sql));
		return -1;
	}
	return 0;
}

int
archive_init(const char *state_dir, char *err, size_t errsz)
{
	char e[300];

	dir = archive_dir(state_dir);
	if ((adb = db_open(state_dir, DB_QUEUE, 0, err, errsz)) == NULL)
		return -1;
	if (read_tail(e, sizeof(e)) == -1 ||
	    forget_archived(e, sizeof(e)) == -1) {
		snprintf(err, errsz, "archive: %s", e);
		return -1;
	}
	atomic_store(&synced, appended);
	memcpy(synced_hash, last_hash, ARCH_HASH_LEN);
	if (getenv("GW_TEST_ARCHIVE_DELAY"))
		test_delay_ms = atoi(getenv("GW_TEST_ARCHIVE_DELAY"));
	if (getenv("GW_TEST_ARCHIVE_KILL"))
		test_kill_round = atoi(getenv("GW_TEST_ARCHIVE_KILL"));
	if (test_delay_ms || test_kill_round)
		log_warnx("GW_TEST_ARCHIVE_DELAY=%d GW_TEST_ARCHIVE_KILL=%d: "
		    "archive test hooks on", test_delay_ms, test_kill_round);
	st_read = db_prepare(adb, "SELECT p.id, p.qid, p.received, "
	    "p.envelope, coalesce(p.body, m.body) FROM archive_pending p LEFT "
	    "JOIN message m ON m.id = p.message WHERE p.id > ? ORDER BY p.id "
	    "LIMIT ?");
	return 0;
}

int64_t
archive_synced(uint8_t hash[ARCH_HASH_LEN])
{
	int64_t s;

	if (hash == NULL)
		return atomic_load(&synced);
	pthread_mutex_lock(&mtx);
	s = atomic_load(&synced);
	memcpy(hash, synced_hash, ARCH_HASH_LEN);
	pthread_mutex_unlock(&mtx);
	return s;
}

void
archive_kick(void)
{
	pthread_mutex_lock(&mtx);
	kicked = 1;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&mtx);
}

/* Write all of b at the end of the day file. */
static int
write_all(const struct buf *b)
{
	const char *p = buf_ptr(b);
	size_t n = buf_len(b);
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Close the finished day file: synced, then read-only. */
static void
close_day(void)
{
	if (fd == -1)
		return;
	if (fdatasync(fd) == -1)
		log_warn("archive: %s.gwa: sync", day);
	if (fchmod(fd, 0440) == -1)
		log_warn("archive: %s.gwa: chmod", day);
	close(fd);
	fd = -1;
}

/*
 * The file to append to for records written at t: today's (a new one
 * with its header when the day changed), or the newest when the clock
 * went back.  0, or -1 with errno.
 */
static int
open_day(int64_t t)
{
	uint8_t h[ARCH_HEAD_LEN];
	struct arch_head hd;
	char today[9], *path, e[80];
	int nfd;

	archfile_day(t, today);
	if (day[0] != '\0' && strcmp(today, day) <= 0) {
		if (fd != -1)
			return 0;
		path = archdir_path(dir, day);
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		free(path);
		return fd == -1 ? -1 : 0;
	}
	if (mkdir(dir, 0750) == -1 && errno != EEXIST)
		return -1;
	path = archdir_path(dir, today);
	nfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC,
	    0640);
	free(path);
	if (nfd == -1)
		return -1;
	archfile_head_encode(today, last_hash, t, h);
	if (write(nfd, h, sizeof(h)) != (ssize_t)sizeof(h) ||
	    fdatasync(nfd) == -1 || archdir_sync(dir) == -1) {
		int saved = errno;

		close(nfd);
		path = archdir_path(dir, today);
		unlink(path);
		free(path);
		errno = saved;
		return -1;
	}
	close_day();
	fd = nfd;
	memcpy(day, today, sizeof(day));
	size = ARCH_HEAD_LEN;
	archfile_head_parse(h, sizeof(h), &hd, e, sizeof(e));
	memcpy(last_hash, hd.hash, ARCH_HASH_LEN);
	return 0;
}

/*
 * Append the rows above `appended` (at most ROWS_MAX) and sync.  How
 * many were appended, or -1: the file is cut back to where it was and
 * the rows are tried again later.
 */
static int
append_round(void)
{
	struct buf b;
	uint8_t hash[ARCH_HASH_LEN], start_hash[ARCH_HASH_LEN];
	int64_t seq = appended;
	off_t start;
	int n = 0, rc;
	const char *why = NULL;

	if (test_delay_ms > 0)
		usleep((useconds_t)test_delay_ms * 1000);

	sqlite3_bind_int64(st_read, 1, appended);
	sqlite3_bind_int(st_read, 2, ROWS_MAX);
	/* No row, no day file. */
	if ((rc = sqlite3_step(st_read)) != SQLITE_ROW) {
		sqlite3_reset(st_read);
		if (rc == SQLITE_DONE)
			return 0;
		warn_now_and_then("queue.db", sqlite3_errmsg(adb));
		return -1;
	}
	if (open_day(now_us()) == -1) {
		sqlite3_reset(st_read);
		warn_now_and_then("cannot open the day file", strerror(errno));
		return -1;
	}
	start = size;
	memcpy(start_hash, last_hash, ARCH_HASH_LEN);
	buf_init(&b, 0);
	for (; rc == SQLITE_ROW; rc = sqlite3_step(st_read)) {
		int64_t id = sqlite3_column_int64(st_read, 0);
		const char *qid = (const char *)sqlite3_column_text(st_read, 1);
		const void *env = sqlite3_column_blob(st_read, 3);
		size_t envlen = (size_t)sqlite3_column_bytes(st_read, 3);
		const void *body = sqlite3_column_blob(st_read, 4);
		size_t bodylen = (size_t)sqlite3_column_bytes(st_read, 4);

		if (archfile_rec_build(&b, (uint64_t)id,
		    sqlite3_column_int64(st_read, 2), qid ? qid : "",
		    env ? env : "", envlen, body ? body : "", bodylen,
		    last_hash, ZLEVEL, hash) == -1) {
			why = "a record cannot be built";
			break;
		}
		memcpy(last_hash, hash, ARCH_HASH_LEN);
		seq = id;
		n++;
		if (buf_len(&b) >= WRITE_AT) {
			if (write_all(&b) == -1) {
				why = strerror(errno);
				break;
			}
			size += (off_t)buf_len(&b);
			buf_reset(&b);
		}
	}
	if (why == NULL && rc != SQLITE_DONE)
		why = sqlite3_errmsg(adb);
	sqlite3_reset(st_read);
	if (why == NULL && buf_len(&b) > 0) {
		if (write_all(&b) == -1)
			why = strerror(errno);
		else
			size += (off_t)buf_len(&b);
	}
	buf_free(&b);
	if (why == NULL && n > 0 && fdatasync(fd) == -1)
		why = strerror(errno);
	if (why != NULL) {
		warn_now_and_then("not appended, tried again", why);
		if (ftruncate(fd, start) == -1)
			log_warn("archive: %s.gwa: cut back", day);
		size = start;
		memcpy(last_hash, start_hash, ARCH_HASH_LEN);
		return -1;
	}
	if (warned_ms && n > 0) {
		log_info("archive: appending again");
		warned_ms = 0;
	}
	appended = seq;
	if (test_kill_round > 0 && --test_kill_round == 0) {
		log_warnx("GW_TEST_ARCHIVE_KILL: killing gwd");
		raise(SIGKILL);
	}
	pthread_mutex_lock(&mtx);
	atomic_store(&synced, seq);
	memcpy(synced_hash, last_hash, ARCH_HASH_LEN);
	pthread_mutex_unlock(&mtx);
	return n;
}

/*
 * Retention: the oldest day files before today - days go, never the
 * newest.  The anchor first, naming the day kept after them and the
 * final hash it chains to, so verify still passes.
 */
static void
retention(int keep_days)
{
	archday_t *days, cutoff;
	struct arch_check c;
	const uint8_t *p;
	size_t n;
	char *path;
	int nd;

	if (keep_days <= 0 || (nd = archdir_days(dir, &days)) <= 1)
		return;
	archfile_day(now_us() - (int64_t)keep_days * 86400 * 1000000, cutoff);
	for (int i = 0; i < nd - 1 && strcmp(days[i], cutoff) < 0; i++) {
		path = archdir_path(dir, days[i]);
		if (archdir_map(path, &p, &n) == -1) {
			free(path);
			break;
		}
		archfile_check(p, n, 0, &c);
		archdir_unmap(p, n);
		if (c.bad || c.torn || archdir_anchor_write(dir, days[i + 1],
		    c.final) == -1 || unlink(path) == -1) {
			log_warnx("archive: retention stops at %s (%s)", path,
			    c.bad || c.torn ? "not a whole day file" :
			    strerror(errno));
			free(path);
			break;
		}
		log_info("archive: %s.gwa removed (archive.retention_days=%d)",
		    days[i], keep_days);
		free(path);
	}
	archdir_sync(dir);
	free(days);
}

static void *
archive_main(void *arg)
{
	struct timespec ts;
	int64_t next_retention = 0;
	int failing = 0, go;

	thread_name("gwd-archive");
	for (;;) {
		if (mono_ms() >= next_retention) {
			retention(gcfg->archive.retention_days);
			next_retention = mono_ms() + RETENTION_MS;
		}
		pthread_mutex_lock(&mtx);
		if (!kicked && !stopping) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += failing ? RETRY_MS / 1000 : 60;
			pthread_cond_timedwait(&cond, &mtx, &ts);
		}
		go = kicked || failing;
		kicked = 0;
		if (stopping && !go) {
			pthread_mutex_unlock(&mtx);
			break;
		}
		pthread_mutex_unlock(&mtx);
		/* Until a round finds no more (or fails). */
		while (go) {
			int n = append_round();

			failing = n == -1;
			if (n < ROWS_MAX)
				break;
		}
		if (stopping && failing)
			break;
	}
	close_day();
	archfile_zfree();
	return NULL;
}

int
archive_start(char *err, size_t errsz)
{
	kicked = 1;	/* rows left by the last run */
	if (pthread_create(&thread, NULL, archive_main, NULL) != 0) {
		snprintf(err, errsz, "cannot start the archive thread");
		return -1;
	}
	started = 1;
	return 0;
}

/* After the store thread stopped: what it committed is appended (rows
 * that still fail stay in queue.db for the next start). */
void
archive_stop(void)
{
	if (started) {
		pthread_mutex_lock(&mtx);
		stopping = 1;
		kicked = 1;
		pthread_cond_signal(&cond);
		pthread_mutex_unlock(&mtx);
		pthread_join(thread, NULL);
		started = 0;
	}
	sqlite3_finalize(st_read);
	st_read = NULL;
	db_close(adb);
	adb = NULL;
}
