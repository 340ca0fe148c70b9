/*
 * pause.c - pausing subaccounts for their bounce rate (see pause.h).
 * Exposure: subaccount names come from gw.db and the control socket
 * (bounded by CTL_NAME_MAX); reasons quote remote replies, already made
 * printable.
 * Diagnostics: dies only when memory runs out; pause_init() returns -1
 * with the reason in err at start-up, and a resume that cannot be stored
 * is answered "error" and stays paused, in memory as on disk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conn.h"
#include "control_commit.h"
#include "ctlproto.h"
#include "db.h"
#include "event.h"
#include "gwd.h"
#include "hmap.h"
#include "log.h"
#include "pause.h"
#include "store.h"
#include "util.h"
#include "volume.h"
#include "window.h"

static struct hmap	 paused;	/* subaccount -> reason (char *) */
static void		(*share_paused)(const char *, const char *);
static void		(*share_resumed)(const char *);
static struct hmap	 limits;	/* throttled ones -> uint32_t *: the
					   messages per volume bucket */

static void
set_row(struct store_op *op, const char *sub, int on, int64_t since,
    const char *reason)
{
	op->pause_sub = xstrdup(sub);
	op->pause_paused = on;
	op->pause_since = since;
	op->pause_reason = xstrdup(reason);
}

/* The limit of a throttled subaccount, in memory. */
static void
set_limit(const char *sub, int64_t limit)
{
	uint32_t *l = xmalloc(sizeof(*l));

	*l = limit > UINT32_MAX ? UINT32_MAX : (uint32_t)limit;
	free(hmap_put(&limits, sub, l));
}

int
pause_init(const char *state_dir, char *err, size_t errsz)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	int rc, n = 0;

	hmap_init(&paused);
	hmap_init(&limits);
	if ((db = db_open(state_dir, DB_QUEUE, DB_RDONLY, err, errsz)) ==
	    NULL)
		return -1;
	st = db_prepare(db, "SELECT subaccount, paused, since, reason FROM"
	    " subaccount_pause");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *sub = (const char *)sqlite3_column_text(st, 0);

		if (sqlite3_column_int64(st, 1) >= PAUSE_THROTTLED)
			set_limit(sub, sqlite3_column_int64(st, 1) -
			    PAUSE_THROTTLED);
		if (sqlite3_column_int(st, 1)) {
			free(hmap_put(&paused, sub, xstrdup((const char *)
			    sqlite3_column_text(st, 3))));
			log_warnx("subaccount %s is paused: %s", sub,
			    (const char *)sqlite3_column_text(st, 3));
			n++;
		} else {
			/* Resumed: its rate counts from then on. */
			window_forget(sub, WIN_FINAL,
			    sqlite3_column_int64(st, 2));
			window_forget(sub, WIN_BOUNCED,
			    sqlite3_column_int64(st, 2));
			window_forget(sub, WIN_COMPLAINED,
			    sqlite3_column_int64(st, 2));
		}
	}
	if (rc != SQLITE_DONE)
		snprintf(err, errsz, "queue.db: subaccount_pause: %s",
		    sqlite3_errmsg(db));
	sqlite3_finalize(st);
	db_close(db);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Pause sub for reason: in memory now, on disk and in the log with op. */
static void
pause_now(struct store_op *op, const char *sub, int64_t ts_us,
    const char *reason)
{
	struct audit_event *ev;

	log_warnx("subaccount %s paused: %s; resume with: gwctl subaccount "
	    "resume %s", sub, reason, sub);
	free(hmap_put(&paused, sub, xstrdup(reason)));
	if (share_paused)
		share_paused(sub, reason);
	set_row(op, sub, 1, ts_us, reason);
	ev = store_op_event(op, event_name(EV_PAUSED), NULL);
	ev->subaccount = xstrdup(sub);
	ev->detail = xstrdup(reason);
}

void
pause_outcome(struct store_op *op, const char *sub, int bounced,
    int64_t ts_us)
{
	int64_t total, nb, pct = gcfg->limits.bounce_pause_percent;
	char reason[200];

	window_add(sub, WIN_FINAL, ts_us, 1);
	if (bounced)
		window_add(sub, WIN_BOUNCED, ts_us, 1);
	if (!bounced || pct == 0 || sub == NULL || sub[0] == '\0' ||
	    hmap_get(&paused, sub) != NULL)
		return;
	total = window_sum(sub, WIN_FINAL, ts_us, WIN_DAY);
	nb = window_sum(sub, WIN_BOUNCED, ts_us, WIN_DAY);
	if (total < gcfg->limits.bounce_pause_minimum || nb * 100 <= pct * total)
		return;
	snprintf(reason, sizeof(reason), "bounce rate %lld.%lld%% (%lld of "
	    "%lld recipients) in 24 hours is over %lld%%", (long long)(nb *
	    100 / total), (long long)(nb * 1000 / total % 10), (long long)nb,
	    (long long)total, (long long)pct);
	pause_now(op, sub, ts_us, reason);
}

void
pause_complaint(struct store_op *op, const char *sub, int64_t ts_us)
{
	int64_t total, nc, ppm = gcfg->limits.complaint_pause_ppm;
	char reason[200];

	if (sub == NULL || sub[0] == '\0')
		return;
	window_add(sub, WIN_COMPLAINED, ts_us, 1);
	if (ppm == 0 || hmap_get(&paused, sub) != NULL)
		return;
	total = window_sum(sub, WIN_FINAL, ts_us, WIN_DAY);
	nc = window_sum(sub, WIN_COMPLAINED, ts_us, WIN_DAY);
	/* nc / total > ppm / 1e6, in integers. */
	if (total < gcfg->limits.complaint_pause_minimum ||
	    nc * 1000000 <= ppm * total)
		return;
	snprintf(reason, sizeof(reason), "complaint rate %.3f%% (%lld of "
	    "%lld recipients) in 24 hours is over %g%%", (double)nc * 100 /
	    (double)total, (long long)nc, (long long)total, (double)ppm /
	    10000);
	pause_now(op, sub, ts_us, reason);
}

void
pause_throttle(struct store_op *op, const char *sub, uint32_t limit,
    int64_t ts_us, const char *reason)
{
	struct audit_event *ev;

	if (sub == NULL || *sub == '\0' || hmap_get(&paused, sub) != NULL)
		return;
	log_warnx("subaccount %s throttled to %u messages per %llds: %s; "
	    "resume with: gwctl subaccount resume %s", sub, limit,
	    (long long)(volume_bucket_us() / 1000000), reason, sub);
	free(hmap_put(&paused, sub, xstrdup(reason)));
	set_limit(sub, limit);
	set_row(op, sub, PAUSE_THROTTLED + limit, ts_us, reason);
	ev = store_op_event(op, event_name(EV_PAUSED), NULL);
	ev->subaccount = xstrdup(sub);
	if (asprintf(&ev->detail, "throttled to %u messages per %llds: %s",
	    limit, (long long)(volume_bucket_us() / 1000000), reason) == -1)
		ev->detail = NULL;
}

const char *
pause_check(const char *sub, char *buf, size_t bufsz)
{
	const char *why = sub ? hmap_get(&paused, sub) : NULL;
	uint32_t *limit, n, prev;

	if (why == NULL)
		return NULL;
	if ((limit = hmap_get(&limits, sub)) != NULL) {
		/* Throttled: mail within the safe rate still goes. */
		if ((n = volume_now(sub, now_us(), &prev)) < *limit)
			return NULL;
		snprintf(buf, bufsz, "451 4.7.1 Error: subaccount %s is "
		    "throttled to %u messages per %llds (%s); try again later",
		    sub, *limit, (long long)(volume_bucket_us() / 1000000),
		    why);
		return buf;
	}
	snprintf(buf, bufsz, "451 4.7.1 Error: subaccount %s is paused: %s; "
	    "an administrator must resume it", sub, why);
	return buf;
}

/* Control socket. */

static void
resumed(struct store_op *op, void *arg, struct buf *out)
{
	char *reason = arg;

	if (op->failed) {
		/* Still paused on disk: so in memory too. */
		log_warnx("subaccount %s: resume not stored: %s",
		    op->pause_sub, op->error);
		free(hmap_put(&paused, op->pause_sub, reason));
		buf_printf(out, "error %s\n", op->error);
		return;
	}
	buf_puts(out, "resumed 1\n");
	free(reason);
}

/* The stored resume of sub, with its event. */
static struct store_op *
resume_op(const char *sub, int64_t now, const char *detail)
{
	struct audit_event *ev;
	struct store_op *op;

	/* A fresh start: the bounces that paused it no longer count. */
	window_forget(sub, WIN_FINAL, now);
	window_forget(sub, WIN_BOUNCED, now);
	window_forget(sub, WIN_COMPLAINED, now);
	op = store_op_new();
	set_row(op, sub, 0, now, "");
	ev = store_op_event(op, event_name(EV_RESUMED), NULL);
	ev->subaccount = xstrdup(sub);
	ev->detail = xstrdup(detail);
	return op;
}

void
pause_control(struct conn *c, const char *args)
{
	char sub[CTL_NAME_MAX + 1], extra[2], *reason;
	struct store_op *op;
	int64_t now = now_us();

	if (sscanf(args, "resume %" CTL_STR(CTL_NAME_MAX) "s %1s", sub,
	    extra) != 1) {
		conn_printf(c, "error usage: subaccount resume NAME\n");
		conn_close_after_flush(c);
		return;
	}
	free(hmap_del(&limits, sub));
	/* Paused on another node, perhaps: resumed on every one. */
	if (share_resumed)
		share_resumed(sub);
	if ((reason = hmap_del(&paused, sub)) == NULL) {
		conn_printf(c, "resumed 0\n");
		conn_close_after_flush(c);
		return;
	}
	op = resume_op(sub, now, "resumed by an administrator");
	log_info("subaccount %s resumed (was paused: %s)", sub, reason);
	control_commit(c, op, resumed, reason);
}

void
pause_share(void (*p)(const char *, const char *), void (*r)(const char *))
{
	share_paused = p;
	share_resumed = r;
}

void
pause_apply_shared(const char *sub, const char *reason)
{
	if (hmap_get(&paused, sub) != NULL)
		return;
	log_warnx("subaccount %s paused by another node of the cluster: %s; "
	    "resume with: gwctl subaccount resume %s", sub, reason, sub);
	hmap_put(&paused, sub, xstrdup(reason));
}

static void
lift_stored(struct store_op *op)
{
	if (op->failed)
		log_warnx("subaccount %s: resume not stored: %s",
		    op->pause_sub, op->error);
	store_op_free(op);
}

void
pause_lift_shared(const char *sub)
{
	struct store_op *op;
	char *reason;
	int64_t now = now_us();

	if (hmap_get(&limits, sub) != NULL ||
	    (reason = hmap_del(&paused, sub)) == NULL)
		return;		/* a throttle is this node's own */
	op = resume_op(sub, now, "resumed on another node of the cluster");
	log_info("subaccount %s resumed on another node of the cluster (was "
	    "paused: %s)", sub, reason);
	free(reason);
	op->done = lift_stored;
	store_submit(op);
}

const char *
pause_reason(const char *subaccount)
{
	return hmap_get(&paused, subaccount);
}
