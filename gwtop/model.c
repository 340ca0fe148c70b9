/*
 * model.c - what gwtop shows, read from queue.db and log.db.
 *
 * Both databases are opened read-only (db.c: SQLITE_OPEN_READONLY and
 * PRAGMA query_only); in WAL mode the reads never block gwd.  Any failure
 * closes the handle and records why; the next refresh opens it again, so
 * gwtop started before gwd, or across a restore, recovers by itself.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "db.h"
#include "gwtop.h"
#include "util.h"

const char *const win_name[NWIN] = { "1m", "5m", "1h" };
const int win_seconds[NWIN] = { 60, 300, 3600 };
const char *const act_name[NACT] = { "received", "delivered", "deferred",
    "bounced", "expired", "rejected" };

struct model {
	char		*state_dir;
	char		*control_socket;
	sqlite3		*queue;
	sqlite3		*log;
};

struct model *
model_new(const char *state_dir, const char *control_socket)
{
	struct model *m = xcalloc(1, sizeof(*m));

	m->state_dir = xstrdup(state_dir);
	m->control_socket = xstrdup(control_socket ? control_socket : "");
	return m;
}

void
model_free(struct model *m)
{
	if (m == NULL)
		return;
	db_close(m->queue);
	db_close(m->log);
	free(m->state_dir);
	free(m->control_socket);
	free(m);
}

/*
 * Is gwd up, and what do its counters say?  `stats` on the control
 * socket answers "name value" lines.  A socket that accepts but does not
 * answer within LIVE_MS still means gwd is running (without numbers).
 */
#define LIVE_MS	300

static void
live_parse(char *text, struct live *l)
{
	static const struct { const char *name; size_t off; } keys[] = {
		{ "uptime_seconds", offsetof(struct live, uptime_s) },
		{ "sessions", offsetof(struct live, sessions) },
		{ "connections_out", offsetof(struct live, connections_out) },
		{ "messages_received_total",
		    offsetof(struct live, received_total) },
		{ "delivered_total", offsetof(struct live, delivered_total) },
		{ "deferred_total", offsetof(struct live, deferred_total) },
		{ "bounced_total", offsetof(struct live, bounced_total) },
	};
	char *line, *save = NULL, name[64];
	long long v;

	for (line = strtok_r(text, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%63s %lld", name, &v) != 2)
			continue;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strcmp(name, keys[i].name) == 0)
				*(int64_t *)(void *)((char *)l + keys[i].off) = v;
	}
	l->ok = 1;
}

static const char *
model_gwd_state(const char *path, struct live *l)
{
	struct sockaddr_un sun;
	struct pollfd pfd;
	char buf[8192];
	size_t got = 0;
	int64_t end;
	ssize_t n;
	int fd, r, e;

	memset(l, 0, sizeof(*l));
	if (*path == '\0' || strlen(path) >= sizeof(sun.sun_path))
		return "unknown";
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		return "unknown";
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	e = errno;
	if (r == -1 && e != EAGAIN && e != EINPROGRESS) {
		close(fd);
		if (e == ENOENT || e == ECONNREFUSED)
			return "stopped";
		return "unknown";
	}
	/* Running.  Ask for the numbers; give up quietly after LIVE_MS. */
	end = mono_ms() + LIVE_MS;
	if (send(fd, "stats\n", 6, MSG_NOSIGNAL) == 6) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		while (got < sizeof(buf) - 1 && mono_ms() < end &&
		    poll(&pfd, 1, (int)(end - mono_ms())) > 0) {
			if ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) <= 0)
				break;
			got += (size_t)n;
		}
		buf[got] = '\0';
		if (got > 0 && strncmp(buf, "error", 5) != 0)
			live_parse(buf, l);
	}
	close(fd);
	return "running";
}

/* Open kind read-only unless open; 0, or -1 with err set. */
static int
model_open(struct model *m, sqlite3 **db, enum db_kind kind, int *missing,
    char *err, size_t errsz)
{
	char path[4096];
	struct stat st;

	if (*db != NULL)
		return 0;
	if (snprintf(path, sizeof(path), "%s/%s", m->state_dir,
	    db_filename(kind)) >= (int)sizeof(path)) {
		snprintf(err, errsz, "state_dir: path too long");
		return -1;
	}
	/* Say "missing" plainly rather than "unable to open database". */
	*missing = 0;
	if (stat(path, &st) == -1) {
		*missing = errno == ENOENT;
		snprintf(err, errsz, "%s/%s: %s", m->state_dir,
		    db_filename(kind), strerror(errno));
		return -1;
	}
	*db = db_open(m->state_dir, kind, DB_RDONLY, err, errsz);
	return *db ? 0 : -1;
}

/* Keep the reason, close (ending any read transaction), retry later. */
static void
model_fail(sqlite3 **db, const char *file, char *err, size_t errsz)
{
	snprintf(err, errsz, "%s: %s", file, sqlite3_errmsg(*db));
	db_close(*db);
	*db = NULL;
}

static int
model_queue_counts(sqlite3 *db, struct snapshot *s)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT count(*), "
	    "coalesce(sum(attempts = 0), 0), coalesce(sum(attempts > 0), 0) "
	    "FROM recipient", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		s->rcpt_total = sqlite3_column_int64(st, 0);
		s->rcpt_ready = sqlite3_column_int64(st, 1);
		s->rcpt_deferred = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

static int
model_queue_messages(sqlite3 *db, struct snapshot *s)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT count(*), min(received) FROM "
	    "message", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		s->messages = sqlite3_column_int64(st, 0);
		s->oldest_age_s = 0;
		if (sqlite3_column_type(st, 1) != SQLITE_NULL)
			s->oldest_age_s = (s->now_us -
			    sqlite3_column_int64(st, 1)) / 1000000;
		if (s->oldest_age_s < 0)
			s->oldest_age_s = 0;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

static void
model_queue(struct model *m, struct snapshot *s)
{
	s->queue_ok = 0;
	if (model_open(m, &m->queue, DB_QUEUE, &s->queue_missing, s->queue_err,
	    sizeof(s->queue_err)) == -1)
		return;
	/* One read transaction: both counts from the same moment. */
	sqlite3_exec(m->queue, "BEGIN", NULL, NULL, NULL);
	if (model_queue_counts(m->queue, s) == -1 ||
	    model_queue_messages(m->queue, s) == -1) {
		model_fail(&m->queue, "queue.db", s->queue_err,
		    sizeof(s->queue_err));
		return;
	}
	sqlite3_exec(m->queue, "COMMIT", NULL, NULL, NULL);
	s->queue_ok = 1;
}

static int
model_act(const char *action)
{
	for (int i = 0; i < NACT; i++)
		if (strcmp(action, act_name[i]) == 0)
			return i;
	return -1;
}

static int
model_log_counts(sqlite3 *db, struct snapshot *s)
{
	sqlite3_stmt *st;
	int rc, a;

	memset(s->count, 0, sizeof(s->count));
	if (sqlite3_prepare_v2(db, "SELECT action, sum(ts >= ?1), "
	    "sum(ts >= ?2), count(*) FROM event WHERE ts >= ?3 "
	    "GROUP BY action", -1, &st, NULL) != SQLITE_OK)
		return -1;
	for (int w = 0; w < NWIN; w++)
		sqlite3_bind_int64(st, w + 1, s->now_us -
		    (int64_t)win_seconds[w] * 1000000);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((a = model_act((const char *)sqlite3_column_text(st, 0))) <
		    0)
			continue;
		for (int w = 0; w < NWIN; w++)
			s->count[w][a] = sqlite3_column_int64(st, w + 1);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static void
model_copy(char *dst, size_t n, sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);

	gw_strlcpy(dst, s ? s : "", n);
}

/* "550 5.1.1 mx.example.net", or the client for received/rejected. */
static void
model_result(struct recent *r, sqlite3_stmt *st)
{
	char code[16] = "", status[32], host[128];

	if (sqlite3_column_type(st, 5) != SQLITE_NULL)
		snprintf(code, sizeof(code), "%d ", sqlite3_column_int(st, 5));
	model_copy(status, sizeof(status), st, 6);
	model_copy(host, sizeof(host), st, 7);
	if (host[0] == '\0')
		model_copy(host, sizeof(host), st, 8);
	snprintf(r->result, sizeof(r->result), "%s%s%s%s", code, status,
	    status[0] ? " " : "", host);
}

static int
model_log_recent(sqlite3 *db, struct snapshot *s)
{
	sqlite3_stmt *st;
	int rc;

	s->nrecent = 0;
	if (sqlite3_prepare_v2(db, "SELECT id, ts, action, qid, recipient, "
	    "reply_code, reply_status, remote_host, client_ip FROM event "
	    "ORDER BY id DESC LIMIT ?", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int(st, 1, RECENT_MAX);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct recent *r = &s->recent[s->nrecent++];

		r->id = sqlite3_column_int64(st, 0);
		r->ts = sqlite3_column_int64(st, 1);
		model_copy(r->action, sizeof(r->action), st, 2);
		model_copy(r->qid, sizeof(r->qid), st, 3);
		model_copy(r->rcpt, sizeof(r->rcpt), st, 4);
		model_result(r, st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static void
model_log(struct model *m, struct snapshot *s)
{
	s->log_ok = 0;
	if (model_open(m, &m->log, DB_LOG, &s->log_missing, s->log_err,
	    sizeof(s->log_err)) == -1)
		return;
	sqlite3_exec(m->log, "BEGIN", NULL, NULL, NULL);
	if (model_log_counts(m->log, s) == -1 ||
	    model_log_recent(m->log, s) == -1) {
		model_fail(&m->log, "log.db", s->log_err, sizeof(s->log_err));
		return;
	}
	sqlite3_exec(m->log, "COMMIT", NULL, NULL, NULL);
	s->log_ok = 1;
}

void
model_refresh(struct model *m, struct snapshot *s)
{
	s->now_us = now_us();
	s->gwd = model_gwd_state(m->control_socket, &s->live);
	hist_add(&s->hist, s->now_us, &s->live);
	model_queue(m, s);
	model_log(m, s);
}
