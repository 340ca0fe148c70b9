/*
 * outbox.c - queue.db's event outbox (see outbox.h).
 *
 * A row holds the event's columns as log.db has them, and a received
 * event's recipients one a line (addresses never hold a line break:
 * smtp_proto.c refuses CR and LF in paths).
 *
 * Exposure: none; the values were checked where the events were made.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auditlog.h"
#include "db.h"
#include "hookset.h"
#include "log.h"
#include "outbox.h"
#include "util.h"

#define HOOK_SQL_GONE	"NOT EXISTS (SELECT 1 FROM hook_pending h " \
			    "WHERE h.id = outbox.id)"

void
outbox_open(struct outbox *o, sqlite3 *qdb)
{
	o->db = qdb;
	o->ins = db_prepare(qdb, "INSERT INTO outbox (pending, "
	    AUDIT_COLUMNS ", rcpts) VALUES (?, " AUDIT_PARAMS ", ?)");
	o->sel = db_prepare(qdb, "SELECT id, " AUDIT_COLUMNS ", rcpts FROM "
	    "outbox WHERE id > ?1 AND pending & ?2 ORDER BY id LIMIT ?3");
	o->sel_hook = db_prepare(qdb, "SELECT outbox.id, " AUDIT_COLUMNS
	    ", rcpts FROM hook_pending JOIN outbox ON outbox.id = "
	    "hook_pending.id WHERE hook = ?1 AND hook_pending.id > ?2 ORDER "
	    "BY hook_pending.id LIMIT ?3");
	o->ins_hook = db_prepare(qdb, "INSERT OR IGNORE INTO hook_pending "
	    "(hook, id) VALUES (?1, ?2)");
	o->del_hook = db_prepare(qdb, "DELETE FROM hook_pending WHERE hook = "
	    "?1 AND id = ?2");
	/* Rows only this consumer still needed go; the others forget it. */
	o->del = db_prepare(qdb, "DELETE FROM outbox WHERE id <= ?1 AND "
	    "pending = ?2");
	o->clear = db_prepare(qdb, "UPDATE outbox SET pending = pending & "
	    "~?2 WHERE id <= ?1 AND pending & ?2");
	/* The same for one row, once no webhook owes it. */
	o->del_one = db_prepare(qdb, "DELETE FROM outbox WHERE id = ?1 AND "
	    "pending = ?2 AND " HOOK_SQL_GONE);
	o->clear_one = db_prepare(qdb, "UPDATE outbox SET pending = pending "
	    "& ~?2 WHERE id = ?1 AND pending & ?2 AND " HOOK_SQL_GONE);
}

void
outbox_close(struct outbox *o)
{
	sqlite3_stmt **all[] = { &o->ins, &o->sel, &o->sel_hook, &o->ins_hook,
	    &o->del_hook, &o->del, &o->clear, &o->del_one, &o->clear_one };

	for (size_t i = 0; i < nitems(all); i++) {
		sqlite3_finalize(*all[i]);
		*all[i] = NULL;
	}
}

int
outbox_renumber(struct outbox *o, int64_t from, int64_t floor)
{
	char sql[400], err[200];
	long long delta = (long long)(floor - from + 1);

	/* Through negative ids: shifting in place could collide midway. */
	snprintf(sql, sizeof(sql), "UPDATE outbox SET id = -(id + %lld) WHERE "
	    "id >= %lld; UPDATE outbox SET id = -id WHERE id < 0; UPDATE "
	    "sqlite_sequence SET seq = seq + %lld WHERE name = 'outbox'",
	    delta, (long long)from, delta);
	if (db_exec(o->db, sql, err, sizeof(err)) == -1) {
		log_warnx("outbox: %s", err);
		return -1;
	}
	return 0;
}

/* A received event's recipients, one a line; NULL when it has none. */
static char *
join_rcpts(const struct audit_event *ev)
{
	size_t n = 0;
	char *s, *p;

	if (ev->nrcpts == 0)
		return NULL;
	for (int i = 0; i < ev->nrcpts; i++)
		n += strlen(ev->rcpts[i]) + 1;
	p = s = xmalloc(n);
	for (int i = 0; i < ev->nrcpts; i++) {
		size_t l = strlen(ev->rcpts[i]);

		memcpy(p, ev->rcpts[i], l);
		p += l;
		*p++ = '\n';
	}
	p[-1] = '\0';
	return s;
}

/* The webhooks that want ev, in *ids (the caller frees it): how many. */
static int
hooks_for(const struct audit_event *ev, long long **ids)
{
	/* A webhook added meanwhile misses this event, as it would had it
	 * come a moment later. */
	int max = hookset_count();

	*ids = NULL;
	if (max == 0)		/* no webhook: nothing to allocate per event */
		return 0;
	*ids = xcalloc((size_t)max, sizeof(**ids));
	return hookset_wants(ev->subaccount, ev->action, *ids, max);
}

/* A hook_pending row for each of the n webhooks: 0 or -1. */
static int
put_hooks(struct outbox *o, const long long *ids, int n, int64_t id)
{
	for (int i = 0; i < n; i++) {
		sqlite3_bind_int64(o->ins_hook, 1, ids[i]);
		sqlite3_bind_int64(o->ins_hook, 2, id);
		if (db_step_done(o->ins_hook) == -1)
			return -1;
	}
	return 0;
}

int
outbox_put(struct outbox *o, struct audit_event *ev)
{
	char *rcpts = join_rcpts(ev);
	long long *ids;
	int n = hooks_for(ev, &ids), r;

	sqlite3_bind_int(o->ins, 1, (int)(OUTBOX_LOG | (n ? OUTBOX_HOOK :
	    0)));
	audit_bind(o->ins, 2, ev);
	db_bind_text(o->ins, 2 + AUDIT_NCOLUMNS, rcpts);
	r = db_step_done(o->ins);
	free(rcpts);
	if (r == 0) {
		ev->id = sqlite3_last_insert_rowid(o->db);
		r = put_hooks(o, ids, n, ev->id);
	}
	free(ids);
	return r;
}

static char *
col_text(sqlite3_stmt *st, int i)
{
	return (char *)sqlite3_column_text(st, i);
}

static int64_t
col_int(sqlite3_stmt *st, int i, int64_t none)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? none :
	    sqlite3_column_int64(st, i);
}

/* The row sel is on, as an event whose strings are the row's.  A
 * received event's recipients are split in *buf (the caller frees it
 * and ev->rcpts). */
static void
row_event(sqlite3_stmt *st, struct audit_event *ev, char **buf)
{
	char *s;

	memset(ev, 0, sizeof(*ev));
	ev->id = sqlite3_column_int64(st, 0);
	ev->ts = sqlite3_column_int64(st, 1);
	ev->qid = col_text(st, 2);
	ev->action = col_text(st, 3);
	ev->subaccount = col_text(st, 4);
	ev->client_ip = col_text(st, 5);
	ev->sender = col_text(st, 6);
	ev->recipient = col_text(st, 7);
	ev->message_id = col_text(st, 8);
	ev->subject = col_text(st, 9);
	ev->from_addr = col_text(st, 10);
	ev->size = col_int(st, 11, -1);
	ev->tls = col_text(st, 12);
	ev->remote_host = col_text(st, 13);
	ev->remote_ip = col_text(st, 14);
	ev->reply_code = (int)col_int(st, 15, 0);
	ev->reply_status = col_text(st, 16);
	ev->reply_text = col_text(st, 17);
	ev->duration_ms = col_int(st, 18, -1);
	ev->detail = col_text(st, 19);
	ev->bounce_class = col_text(st, 20);
	ev->tls_policy = col_text(st, 21);
	ev->tls_verified = (int)col_int(st, 22, -1);
	ev->tls_note = col_text(st, 23);
	ev->username = col_text(st, 24);
	*buf = NULL;
	if ((s = col_text(st, 1 + AUDIT_NCOLUMNS)) == NULL)
		return;
	*buf = xstrdup(s);
	ev->nrcpts = 1;
	for (s = *buf; *s; s++)
		ev->nrcpts += *s == '\n';
	ev->rcpts = xcalloc((size_t)ev->nrcpts, sizeof(char *));
	ev->rcpts[0] = *buf;
	for (int i = 1; (s = strchr(ev->rcpts[i - 1], '\n')) != NULL; i++) {
		*s = '\0';
		ev->rcpts[i] = s + 1;
	}
}

/* The rows st (bound) gives, as outbox_read() says. */
static int
read_rows(sqlite3_stmt *st, int (*fn)(const struct audit_event *, void *),
    void *arg, int64_t *last)
{
	struct audit_event ev;
	char *buf;
	int n = 0, r, bad = 0;

	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		row_event(st, &ev, &buf);
		bad = fn(&ev, arg) == -1;
		free(ev.rcpts);
		free(buf);
		if (bad)
			break;
		*last = ev.id;
		n++;
	}
	sqlite3_reset(st);
	return bad || (r != SQLITE_ROW && r != SQLITE_DONE) ? -1 : n;
}

int
outbox_read(struct outbox *o, unsigned consumer, int64_t after, int max,
    int (*fn)(const struct audit_event *, void *), void *arg, int64_t *last)
{
	sqlite3_bind_int64(o->sel, 1, after);
	sqlite3_bind_int(o->sel, 2, (int)consumer);
	sqlite3_bind_int(o->sel, 3, max);
	return read_rows(o->sel, fn, arg, last);
}

int
outbox_read_hook(struct outbox *o, long long hook, int64_t after, int max,
    int (*fn)(const struct audit_event *, void *), void *arg, int64_t *last)
{
	sqlite3_bind_int64(o->sel_hook, 1, hook);
	sqlite3_bind_int64(o->sel_hook, 2, after);
	sqlite3_bind_int(o->sel_hook, 3, max);
	return read_rows(o->sel_hook, fn, arg, last);
}

int
outbox_ack(struct outbox *o, unsigned consumer, int64_t upto)
{
	sqlite3_bind_int64(o->del, 1, upto);
	sqlite3_bind_int(o->del, 2, (int)consumer);
	sqlite3_bind_int64(o->clear, 1, upto);
	sqlite3_bind_int(o->clear, 2, (int)consumer);
	return db_step_done(o->del) == -1 || db_step_done(o->clear) == -1 ?
	    -1 : 0;
}

/* Row id goes, or loses the webhook bit, if no webhook owes it. */
static int
hook_release(struct outbox *o, int64_t id)
{
	sqlite3_bind_int64(o->del_one, 1, id);
	sqlite3_bind_int(o->del_one, 2, (int)OUTBOX_HOOK);
	sqlite3_bind_int64(o->clear_one, 1, id);
	sqlite3_bind_int(o->clear_one, 2, (int)OUTBOX_HOOK);
	return db_step_done(o->del_one) == -1 ||
	    db_step_done(o->clear_one) == -1 ? -1 : 0;
}

int
outbox_ack_hook(struct outbox *o, const struct outbox_hook_ack *a, int n)
{
	for (int i = 0; i < n; i++) {
		sqlite3_bind_int64(o->del_hook, 1, a[i].hook);
		sqlite3_bind_int64(o->del_hook, 2, a[i].id);
		if (db_step_done(o->del_hook) == -1)
			return -1;
		if (sqlite3_changes(o->db) > 0 && hook_release(o, a[i].id) == -1)
			return -1;
	}
	return 0;
}

/* The ids of the rows st gives (column 0), in *out: how many, or -1. */
static int
collect(sqlite3 *db, const char *sql, int64_t **out)
{
	sqlite3_stmt *st = db_prepare(db, sql);
	int n = 0, cap = 0, r;

	*out = NULL;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			*out = xreallocarray(*out, (size_t)cap, sizeof(**out));
		}
		(*out)[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return n;
}

/* Rows with the webhook bit and no hook_pending row (written before
 * schema 12): theirs to the webhooks that want them now. */
static int
adopt(struct outbox *o)
{
	sqlite3_stmt *st = db_prepare(o->db, "SELECT id, subaccount, action "
	    "FROM outbox WHERE pending & 2 AND " HOOK_SQL_GONE);
	struct audit_event ev;
	long long *ids;
	int r, n, bad = 0;

	while (!bad && (r = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&ev, 0, sizeof(ev));
		ev.subaccount = col_text(st, 1);
		ev.action = col_text(st, 2);
		n = hooks_for(&ev, &ids);
		bad = put_hooks(o, ids, n, sqlite3_column_int64(st, 0)) == -1;
		free(ids);
	}
	sqlite3_finalize(st);
	return !bad && r == SQLITE_DONE ? 0 : -1;
}

int
outbox_hook_sweep(struct outbox *o)
{
	sqlite3_stmt *del = db_prepare(o->db, "DELETE FROM hook_pending "
	    "WHERE hook = ?1");
	char err[200];
	int64_t *hooks;
	int n, r = 0;

	if (adopt(o) == -1 || (n = collect(o->db, "SELECT DISTINCT hook FROM "
	    "hook_pending", &hooks)) == -1) {
		sqlite3_finalize(del);
		return -1;
	}
	for (int i = 0; i < n && r == 0; i++) {
		if (hookset_has(hooks[i]))
			continue;
		sqlite3_bind_int64(del, 1, hooks[i]);
		r = db_step_done(del);
	}
	free(hooks);
	sqlite3_finalize(del);
	if (r == 0 && db_exec(o->db, "DELETE FROM outbox WHERE pending = 2 "
	    "AND " HOOK_SQL_GONE "; UPDATE outbox SET pending = pending & ~2 "
	    "WHERE pending & 2 AND " HOOK_SQL_GONE, err, sizeof(err)) == -1) {
		log_warnx("outbox: %s", err);
		r = -1;
	}
	return r;
}
