/*
 * window.c - sliding per-subaccount counts (see window.h).
 *
 * A subaccount's counts are a ring of 1440 one-minute buckets, each
 * stamped with its minute so a stale bucket reads as empty; the last
 * hour is the sum of the newest 60.  About 35 kB per subaccount that
 * sent in the last day.
 * Exposure: none; counts gwd's own events by subaccount name.
 * Diagnostics: dies only when memory runs out; window_init() returns -1
 * with the reason in err at start-up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "hmap.h"
#include "log.h"
#include "util.h"
#include "window.h"

struct bucket {
	int64_t		 minute;	/* unix minutes */
	int		 count[WIN_NCOUNTERS];
};

struct window {
	struct bucket	 b[WIN_DAY];
};

static struct hmap	 windows;	/* subaccount -> struct window */

static int64_t
minute_of(int64_t us)
{
	return us / 60000000;
}

static struct window *
window_get(const char *sub, int create)
{
	struct window *w;

	if (sub == NULL || sub[0] == '\0')
		return NULL;
	if ((w = hmap_get(&windows, sub)) == NULL && create) {
		w = xcalloc(1, sizeof(*w));
		hmap_put(&windows, sub, w);
	}
	return w;
}

void
window_add(const char *subaccount, enum win_counter c, int64_t ts_us,
    int delta)
{
	int64_t m = minute_of(ts_us);
	struct window *w;
	struct bucket *b;

	if ((w = window_get(subaccount, 1)) == NULL)
		return;
	b = &w->b[m % WIN_DAY];
	if (b->minute != m) {
		if (b->minute > m)
			return;		/* older than a day: out of every window */
		memset(b, 0, sizeof(*b));
		b->minute = m;
	}
	b->count[c] += delta;
	if (b->count[c] < 0)
		b->count[c] = 0;
}

int64_t
window_sum(const char *subaccount, enum win_counter c, int64_t now_us,
    int minutes)
{
	const struct window *w = window_get(subaccount, 0);
	int64_t n = 0, now = minute_of(now_us);

	for (int i = 0; w && i < minutes && i < WIN_DAY; i++) {
		const struct bucket *b = &w->b[(now - i) % WIN_DAY];

		if (b->minute == now - i)
			n += b->count[c];
	}
	return n;
}

void
window_forget(const char *subaccount, enum win_counter c, int64_t ts_us)
{
	struct window *w = window_get(subaccount, 0);
	int64_t m = minute_of(ts_us);

	/* ts_us's own minute too: its bucket may hold counts from before. */
	for (int i = 0; w && i < WIN_DAY; i++)
		if (w->b[i].minute <= m)
			w->b[i].count[c] = 0;
}

/*
 * What the reading of the last day knows of null-sender messages.  Their
 * outcomes count when a client sent the message, as outcome.c counts
 * them, not when it is a DSN gwd made; which it is, its received event
 * says, read earlier in the day or, for a message received before the
 * day, looked up by queue id.
 */
struct seed {
	sqlite3_stmt	*received;	/* a client's null-sender message? */
	struct hmap	 null_sender;	/* qid -> &by_client or &by_gwd */
	int64_t		 n[WIN_NCOUNTERS];
};

static char	 by_client, by_gwd;

/* 1 if a client sent null-sender message qid, 0 if not, -1 on error. */
static int
client_sent(struct seed *s, const char *qid)
{
	const char *v;
	int rc;

	if (qid == NULL)
		return 0;
	if ((v = hmap_get(&s->null_sender, qid)) != NULL)
		return v == &by_client;
	sqlite3_bind_text(s->received, 1, qid, -1, SQLITE_STATIC);
	rc = sqlite3_step(s->received);
	sqlite3_reset(s->received);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	hmap_put(&s->null_sender, qid, rc == SQLITE_ROW ? &by_client :
	    &by_gwd);
	return rc == SQLITE_ROW;
}

/*
 * One event of the last day into the counters it counts in: what
 * clients sent, null sender included, not the DSNs gwd made itself (no
 * client); the recipients done, of the null sender too when a client
 * sent the message, but not those of gwd's DSNs; an expired recipient
 * has a deferred and an expired event, and only the latter is final.
 * qid is read for the null sender's events only.  -1: log.db failed.
 */
static int
window_seed(struct seed *s, const char *sub, int64_t ts,
    const char *action, int client, int sender, const char *qid)
{
	int by;

	if (strcmp(action, "received") == 0) {
		if (client) {
			window_add(sub, WIN_ACCEPTED, ts, 1);
			s->n[WIN_ACCEPTED]++;
		}
		if (!sender && qid)
			hmap_put(&s->null_sender, qid, client ? &by_client :
			    &by_gwd);
		return 0;
	}
	if (strcmp(action, "complained") == 0) {
		window_add(sub, WIN_COMPLAINED, ts, 1);
		s->n[WIN_COMPLAINED]++;
		return 0;
	}
	if (!sender && (by = client_sent(s, qid)) != 1)
		return by;
	window_add(sub, WIN_FINAL, ts, 1);
	s->n[WIN_FINAL]++;
	if (strcmp(action, "bounced") == 0) {
		window_add(sub, WIN_BOUNCED, ts, 1);
		s->n[WIN_BOUNCED]++;
	}
	return 0;
}

/*
 * log.db is written with synchronous=NORMAL: a power failure may forget
 * the last moments of counting, a kill -9 never.
 *
 * Every event of the last day is read once, in time order, from the
 * index event_window (log.db migration 7): it holds each column read
 * here but the queue id, which only the null sender's events fetch from
 * their row (SQLite seeks the row when a column of it is read).  Three
 * GROUP BY queries through event_ts took 6 s before the first greeting
 * with 600 000 events in the day (bench/queue), most of it reading the
 * rows and sorting them in temporary files.
 */
int
window_init(const char *state_dir, char *err, size_t errsz)
{
	int64_t since = now_us() - (int64_t)WIN_DAY * 60000000;
	struct seed s = { 0 };
	sqlite3_stmt *st;
	sqlite3 *db;
	int rc;

	hmap_init(&windows);
	if ((db = db_open(state_dir, DB_LOG, DB_RDONLY, err, errsz)) == NULL)
		return -1;
	hmap_init(&s.null_sender);
	s.received = db_prepare(db, "SELECT 1 FROM event WHERE qid = ? AND"
	    " action = 'received' AND sender = '' AND client_ip IS NOT NULL"
	    " LIMIT 1");
	st = db_prepare(db, "SELECT subaccount, ts, action,"
	    " client_ip IS NOT NULL, coalesce(sender <> '', 0),"
	    " CASE WHEN coalesce(sender <> '', 0) = 0 THEN qid END"
	    " FROM event INDEXED BY event_window WHERE ts >= ? AND"
	    " action IN ('received', 'delivered', 'bounced', 'expired',"
	    " 'complained')"
	    " AND subaccount IS NOT NULL");
	sqlite3_bind_int64(st, 1, since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (window_seed(&s, (const char *)sqlite3_column_text(st, 0),
		    sqlite3_column_int64(st, 1),
		    (const char *)sqlite3_column_text(st, 2),
		    sqlite3_column_int(st, 3), sqlite3_column_int(st, 4),
		    (const char *)sqlite3_column_text(st, 5)) == -1)
			break;
	sqlite3_finalize(st);
	sqlite3_finalize(s.received);
	hmap_free(&s.null_sender, NULL);
	if (rc != SQLITE_DONE) {
		snprintf(err, errsz, "log.db: counts: %s", sqlite3_errmsg(db));
		db_close(db);
		return -1;
	}
	db_close(db);
	log_info("last 24 hours: %lld messages accepted, %lld recipients "
	    "done, %lld bounced, %lld complained", (long long)s.n[WIN_ACCEPTED],
	    (long long)s.n[WIN_FINAL], (long long)s.n[WIN_BOUNCED],
	    (long long)s.n[WIN_COMPLAINED]);
	return 0;
}
