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

/* Which consumers an event is for: log.db, and the webhooks when one
 * of them wants it. */
static unsigned
outbox_consumers(const struct audit_event *ev)
{
	return OUTBOX_LOG | (hookset_wants(ev->subaccount, ev->action) ?
	    OUTBOX_HOOK : 0);
}

void
outbox_open(struct outbox *o, sqlite3 *qdb)
{
	o->db = qdb;
	o->ins = db_prepare(qdb, "INSERT INTO outbox (pending, "
	    AUDIT_COLUMNS ", rcpts) VALUES (?, " AUDIT_PARAMS ", ?)");
	o->sel = db_prepare(qdb, "SELECT id, " AUDIT_COLUMNS ", rcpts FROM "
	    "outbox WHERE id > ?1 AND pending & ?2 ORDER BY id LIMIT ?3");
	/* Rows only this consumer still needed go; the others forget it. */
	o->del = db_prepare(qdb, "DELETE FROM outbox WHERE id <= ?1 AND "
	    "pending = ?2");
	o->clear = db_prepare(qdb, "UPDATE outbox SET pending = pending & "
	    "~?2 WHERE id <= ?1 AND pending & ?2");
	o->del_one = db_prepare(qdb, "DELETE FROM outbox WHERE id = ?1 AND "
	    "pending = ?2");
	o->clear_one = db_prepare(qdb, "UPDATE outbox SET pending = pending "
	    "& ~?2 WHERE id = ?1 AND pending & ?2");
}

void
outbox_close(struct outbox *o)
{
	sqlite3_finalize(o->ins);
	sqlite3_finalize(o->sel);
	sqlite3_finalize(o->del);
	sqlite3_finalize(o->clear);
	sqlite3_finalize(o->del_one);
	sqlite3_finalize(o->clear_one);
	o->ins = o->sel = o->del = o->clear = NULL;
	o->del_one = o->clear_one = NULL;
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

int
outbox_put(struct outbox *o, struct audit_event *ev)
{
	char *rcpts = join_rcpts(ev);
	int r;

	sqlite3_bind_int(o->ins, 1, (int)outbox_consumers(ev));
	audit_bind(o->ins, 2, ev);
	db_bind_text(o->ins, 2 + AUDIT_NCOLUMNS, rcpts);
	r = db_step_done(o->ins);
	free(rcpts);
	if (r == 0)
		ev->id = sqlite3_last_insert_rowid(o->db);
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

int
outbox_read(struct outbox *o, unsigned consumer, int64_t after, int max,
    int (*fn)(const struct audit_event *, void *), void *arg, int64_t *last)
{
	struct audit_event ev;
	char *buf;
	int n = 0, r, bad = 0;

	sqlite3_bind_int64(o->sel, 1, after);
	sqlite3_bind_int(o->sel, 2, (int)consumer);
	sqlite3_bind_int(o->sel, 3, max);
	while ((r = sqlite3_step(o->sel)) == SQLITE_ROW) {
		row_event(o->sel, &ev, &buf);
		bad = fn(&ev, arg) == -1;
		free(ev.rcpts);
		free(buf);
		if (bad)
			break;
		*last = ev.id;
		n++;
	}
	sqlite3_reset(o->sel);
	return bad || (r != SQLITE_ROW && r != SQLITE_DONE) ? -1 : n;
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

int
outbox_ack_ids(struct outbox *o, unsigned consumer, const int64_t *ids,
    int n)
{
	for (int i = 0; i < n; i++) {
		sqlite3_bind_int64(o->del_one, 1, ids[i]);
		sqlite3_bind_int(o->del_one, 2, (int)consumer);
		sqlite3_bind_int64(o->clear_one, 1, ids[i]);
		sqlite3_bind_int(o->clear_one, 2, (int)consumer);
		if (db_step_done(o->del_one) == -1 ||
		    db_step_done(o->clear_one) == -1)
			return -1;
	}
	return 0;
}
