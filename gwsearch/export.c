/*
 * export.c - every event after the cursor, exactly once across runs,
 * for a SIEM fed by cron.
 *
 * The cursor file holds "LAST_ID DEV INODE SIZE": the last event id
 * written and the output file (device, inode) with its size right after
 * that event.  Each batch is written and fsynced, and only then is the
 * cursor replaced (temp file, fsync, rename, fsync of the directory).  A
 * run killed between the two leaves output past SIZE that the cursor
 * does not cover; the next run cuts it off before appending, so nothing
 * is written twice to the same file.  A run whose cursor does not know
 * the output (the first, or an old cursor of only an id) first writes
 * one with the output's size, so its first batch is covered too.  (To
 * standard output or a pipe this cannot be undone: events may then come
 * again, with the same gw.event_id / externalId for the SIEM to drop.)
 *
 * An flock on CURSOR.lock stops two runs overlapping.
 * Diagnostics: never dies (memory aside); a cursor or output it cannot
 * read, write or sync is a sysexits status with the reason, and the
 * cursor then stays where it was, so the next run sends the same events
 * again.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "gwsearch.h"
#include "log.h"
#include "util.h"

#define EXPORT_BATCH	1000

struct cursor {
	int64_t		 id;
	uint64_t	 dev, ino;
	int64_t		 size;
};

static int
export_lock(const char *cursor, int *fd)
{
	char path[4096];

	if (snprintf(path, sizeof(path), "%s.lock", cursor) >=
	    (int)sizeof(path)) {
		log_warnx("%s: path too long", cursor);
		return EX_USAGE;
	}
	if ((*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		log_warn("%s", path);
		return EX_CANTCREAT;
	}
	if (flock(*fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			log_warnx("%s: another export is running", path);
			return EX_TEMPFAIL;
		}
		log_warn("%s: flock", path);
		return EX_OSERR;
	}
	return EX_OK;
}

static int
export_read_cursor(const char *path, struct cursor *c)
{
	unsigned long long id, dev, ino;
	long long size;
	char line[256];
	FILE *fp;
	int n;

	memset(c, 0, sizeof(*c));
	c->size = -1;
	if ((fp = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			return EX_OK;	/* first run: from the beginning */
		log_warn("%s", path);
		return EX_NOINPUT;
	}
	if (fgets(line, sizeof(line), fp) == NULL)
		line[0] = '\0';
	fclose(fp);
	n = sscanf(line, "%llu %llu %llu %lld", &id, &dev, &ino, &size);
	if (n != 1 && n != 4) {
		log_warnx("%s: not a cursor (expected the last event id)",
		    path);
		return EX_DATAERR;
	}
	c->id = (int64_t)id;
	if (n == 4) {
		c->dev = dev;
		c->ino = ino;
		c->size = size;
	}
	return EX_OK;
}

static int
export_fsync_dir(const char *path)
{
	char *copy = xstrdup(path);
	int fd, r = 0;

	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY)) != -1) {
		r = fsync(fd);
		close(fd);
	}
	free(copy);
	return r;
}

/* Replace the cursor atomically: temp, fsync, rename, fsync the dir. */
static int
export_write_cursor(const char *path, const struct cursor *c)
{
	char tmp[4096], line[128];
	int fd, n;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	n = snprintf(line, sizeof(line), "%lld %llu %llu %lld\n",
	    (long long)c->id, (unsigned long long)c->dev,
	    (unsigned long long)c->ino, (long long)c->size);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) ==
	    -1 || write(fd, line, (size_t)n) != n || fsync(fd) == -1 ||
	    close(fd) == -1 || rename(tmp, path) == -1 ||
	    export_fsync_dir(path) == -1) {
		log_warn("%s", tmp);
		return -1;
	}
	return 0;
}

static int
export_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Open the output; cut off what a killed run wrote past the cursor. */
static int
export_output(const char *output, const struct cursor *c, int *fd)
{
	struct stat st;

	if (output == NULL || strcmp(output, "-") == 0)
		*fd = STDOUT_FILENO;
	else if ((*fd = open(output, O_WRONLY | O_CREAT | O_APPEND |
	    O_CLOEXEC, 0640)) == -1) {
		log_warn("%s", output);
		return EX_CANTCREAT;
	}
	if (fstat(*fd, &st) == 0 && S_ISREG(st.st_mode) && c->size >= 0 &&
	    (uint64_t)st.st_dev == c->dev && (uint64_t)st.st_ino == c->ino &&
	    st.st_size > c->size) {
		if (ftruncate(*fd, c->size) == -1) {
			log_warn("%s: truncate", output ? output : "stdout");
			return EX_IOERR;
		}
		log_warnx("%s: removed %lld bytes a killed export wrote "
		    "after the cursor", output ? output : "stdout",
		    (long long)(st.st_size - c->size));
	}
	return EX_OK;
}

/* Write the batch, make it durable, then move the cursor past it. */
static int
export_commit(int fd, struct buf *b, const char *cursor, struct cursor *c,
    int64_t last)
{
	struct stat st;

	if (export_write_all(fd, buf_ptr(b), buf_len(b)) == -1 ||
	    (fsync(fd) == -1 && errno != EINVAL && errno != EROFS &&
	    errno != ENOTSUP)) {
		log_warn("export output");
		return EX_IOERR;
	}
	c->id = last;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		c->dev = (uint64_t)st.st_dev;
		c->ino = (uint64_t)st.st_ino;
		c->size = (int64_t)st.st_size;
	} else {
		c->dev = c->ino = 0;
		c->size = -1;
	}
	return export_write_cursor(cursor, c) == -1 ? EX_IOERR : EX_OK;
}

/*
 * Before the first batch of a run whose cursor does not know the output:
 * where the output ends now, so a run killed in that batch is cut back
 * to here next time instead of being appended to again.
 */
static int
export_mark(int fd, const char *cursor, struct cursor *c)
{
	struct stat st;

	if (c->size >= 0 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		return EX_OK;
	c->dev = (uint64_t)st.st_dev;
	c->ino = (uint64_t)st.st_ino;
	c->size = (int64_t)st.st_size;
	return export_write_cursor(cursor, c) == -1 ? EX_IOERR : EX_OK;
}

/* One batch after c->id; *n is how many events it had. */
static int
export_batch(sqlite3 *db, enum format f, struct buf *b, int64_t after,
    int *n, int64_t *last)
{
	sqlite3_stmt *st;
	struct event e;
	int rc;

	*n = 0;
	rc = sqlite3_prepare_v2(db, "SELECT " EVENT_COLUMNS " FROM event "
	    "WHERE id > ? ORDER BY id LIMIT ?", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, after);
		sqlite3_bind_int(st, 2, EXPORT_BATCH);
	}
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		query_event(st, &e);
		format_event(&e, f, b);
		*last = e.id;
		(*n)++;
		query_event_free(&e);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE)
		log_warnx("log.db: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? EX_OK : EX_UNAVAILABLE;
}

int
export_main(sqlite3 *db, const char *cursor, enum format f,
    const char *output)
{
	struct cursor c;
	struct buf b;
	int64_t total = 0, last;
	int lock = -1, fd = -1, r, n;

	if ((r = export_lock(cursor, &lock)) != EX_OK ||
	    (r = export_read_cursor(cursor, &c)) != EX_OK ||
	    (r = export_output(output, &c, &fd)) != EX_OK ||
	    (r = export_mark(fd, cursor, &c)) != EX_OK)
		goto done;
	buf_init(&b, 0);
	do {
		last = c.id;
		if ((r = export_batch(db, f, &b, c.id, &n, &last)) != EX_OK)
			break;
		if (n > 0 && (r = export_commit(fd, &b, cursor, &c, last)) !=
		    EX_OK)
			break;
		total += n;
		buf_reset(&b);
	} while (n == EXPORT_BATCH);
	buf_free(&b);
	if (r == EX_OK)
		log_info("exported %lld events, cursor at event %lld",
		    (long long)total, (long long)c.id);
done:
	if (fd > STDOUT_FILENO)
		close(fd);
	if (lock != -1)
		close(lock);
	return r;
}
