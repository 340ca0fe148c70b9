/*
 * tally.c - adding up a batch of events into event_tally (see tally.h).
 *
 * A batch of 2000 events of gwd's store thread falls into a few
 * minutes, an hour or two, and the actions and subaccounts of the
 * traffic: tens to hundreds of keys, each found by a hash of its
 * fields.  The UPSERT adds the batch's count to the row; a row whose
 * count falls to 0 (retention) is deleted.
 * Latencies go into the same table of keys with lb >= 0 (their log
 * bucket) and no action or subaccount, and into event_latency.
 * Exposure: the strings are gwd's own events' (bound parameters).
 * Diagnostics: -1 returns with the reason in SQLite's errmsg (none for
 * out of memory).
 */
#include <stdlib.h>
#include <string.h>

#include "tally.h"

struct tally_ent {
	int64_t		 bucket;	/* ts / span; 0 in an empty slot */
	int		 span;		/* 60 or 3600; 0: empty */
	int		 lb;		/* latency bucket; -1: a count */
	char		*action, *sub;	/* NULL for a latency */
	int64_t		 n, hard;
};

static const int spans[] = { 60, 3600 };

int
tally_open(struct tally *t, sqlite3 *db)
{
	memset(t, 0, sizeof(*t));
	t->db = db;
	if (sqlite3_prepare_v2(db, "INSERT INTO event_tally VALUES (?1, ?2, "
	    "?3, ?4, ?5, ?6) ON CONFLICT DO UPDATE SET n = n + excluded.n, "
	    "hard = hard + excluded.hard", -1, &t->up, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "DELETE FROM event_tally WHERE span = ?1 "
	    "AND bucket = ?2 AND action = ?3 AND subaccount = ?4 AND n <= 0",
	    -1, &t->drop, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO event_latency VALUES (?1, "
	    "?2, ?3, ?4) ON CONFLICT DO UPDATE SET n = n + excluded.n", -1,
	    &t->lup, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "DELETE FROM event_latency WHERE span = ?1 "
	    "AND bucket = ?2 AND lb = ?3 AND n <= 0", -1, &t->ldrop, NULL) !=
	    SQLITE_OK) {
		tally_close(t);
		return -1;
	}
	return 0;
}

void
tally_clear(struct tally *t)
{
	for (size_t i = 0; i < t->cap; i++)
		if (t->ent[i].span) {
			free(t->ent[i].action);
			free(t->ent[i].sub);
			t->ent[i].span = 0;
		}
	t->n = 0;
}

void
tally_close(struct tally *t)
{
	tally_clear(t);
	free(t->ent);
	sqlite3_finalize(t->up);
	sqlite3_finalize(t->drop);
	sqlite3_finalize(t->lup);
	sqlite3_finalize(t->ldrop);
	memset(t, 0, sizeof(*t));
}

static uint64_t
hash_str(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (h ^ 0xff) * 0x100000001b3ULL;
}

/* A key: a count's (lb -1, action and sub) or a latency's (lb >= 0,
 * both NULL). */
struct tally_key {
	int		 span, lb;
	int64_t		 bucket;
	const char	*action, *sub;
};

static uint64_t
hash_key(const struct tally_key *k)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h = (h ^ (uint64_t)k->bucket) * 0x100000001b3ULL;
	h = (h ^ (uint64_t)k->span) * 0x100000001b3ULL;
	h = (h ^ (uint64_t)(k->lb + 1)) * 0x100000001b3ULL;
	return k->lb >= 0 ? h : hash_str(hash_str(h, k->action), k->sub);
}

static int
same_key(const struct tally_ent *e, const struct tally_key *k)
{
	return e->span == k->span && e->bucket == k->bucket && e->lb == k->lb &&
	    (k->lb >= 0 || (strcmp(e->action, k->action) == 0 &&
	    strcmp(e->sub, k->sub) == 0));
}

/* The slot of the key in ent (cap entries): its own, or the empty one
 * where it goes. */
static struct tally_ent *
slot(struct tally_ent *ent, size_t cap, const struct tally_key *k)
{
	size_t i = hash_key(k) & (cap - 1);

	for (;; i = (i + 1) & (cap - 1)) {
		struct tally_ent *e = &ent[i];

		if (e->span == 0 || same_key(e, k))
			return e;
	}
}

static int
grow(struct tally *t)
{
	size_t cap = t->cap ? t->cap * 2 : 64;
	struct tally_ent *ent = calloc(cap, sizeof(*ent));

	if (ent == NULL)
		return -1;
	for (size_t i = 0; i < t->cap; i++) {
		struct tally_ent *e = &t->ent[i];
		struct tally_key k = { e->span, e->lb, e->bucket, e->action,
		    e->sub };

		if (e->span)
			*slot(ent, cap, &k) = *e;
	}
	free(t->ent);
	t->ent = ent;
	t->cap = cap;
	return 0;
}

/* Add sign (and hard's) to the minute's and the hour's key of ts. */
static int
count(struct tally *t, int64_t ts, int lb, const char *action,
    const char *sub, int hard, int sign)
{
	for (size_t i = 0; i < sizeof(spans) / sizeof(spans[0]); i++) {
		struct tally_key k = { spans[i], lb, ts / ((int64_t)spans[i] *
		    1000000), action, sub };
		struct tally_ent *e;

		/* At most half full: probes stay short. */
		if ((t->n + 1) * 2 > t->cap && grow(t) == -1)
			goto oom;
		e = slot(t->ent, t->cap, &k);
		if (e->span == 0) {
			e->action = e->sub = NULL;
			if (lb < 0 && ((e->action = strdup(action)) == NULL ||
			    (e->sub = strdup(sub)) == NULL)) {
				free(e->action);
				e->action = NULL;
				goto oom;
			}
			e->span = k.span;
			e->bucket = k.bucket;
			e->lb = lb;
			e->n = e->hard = 0;
			t->n++;
		}
		e->n += sign;
		e->hard += hard ? sign : 0;
	}
	return 0;
oom:
	tally_clear(t);
	return -1;
}

int
tally_add(struct tally *t, int64_t ts, const char *action, const char *sub,
    int hard, int sign)
{
	if (action == NULL) {	/* NOT NULL: a column read out of memory */
		tally_clear(t);
		return -1;
	}
	return count(t, ts, -1, action, sub ? sub : "", hard, sign);
}

int
tally_add_latency(struct tally *t, int64_t ts, int64_t ms, int sign)
{
	return count(t, ts, tally_lat_bucket(ms), NULL, NULL, 0, sign);
}

int
tally_lat_bucket(int64_t ms)
{
	int b;

	if (ms < TALLY_LAT_SUB)
		return ms < 0 ? 0 : (int)ms;
	b = 63 - __builtin_clzll((unsigned long long)ms);
	return TALLY_LAT_SUB * (b - TALLY_LAT_BITS + 1) +
	    (int)((ms >> (b - TALLY_LAT_BITS)) & (TALLY_LAT_SUB - 1));
}

/* The lowest latency of bucket lb, and the width of the bucket. */
static int64_t
lat_low(int lb, int64_t *width)
{
	int shift = lb / TALLY_LAT_SUB - 1;

	if (lb < TALLY_LAT_SUB) {
		*width = 1;
		return lb;
	}
	*width = (int64_t)1 << shift;
	return (int64_t)(TALLY_LAT_SUB + lb % TALLY_LAT_SUB) << shift;
}

int64_t
tally_lat_pct(const int64_t *hist, int p)
{
	int64_t total = 0, k, seen = 0, low, width;

	for (int i = 0; i < TALLY_LAT_NB; i++)
		total += hist[i];
	if (total <= 0)
		return -1;
	/* Nearest rank: the smallest value with p% at or below it. */
	k = (total * p + 99) / 100;
	if (k < 1)
		k = 1;
	for (int i = 0; i < TALLY_LAT_NB; i++)
		if ((seen += hist[i]) >= k) {
			low = lat_low(i, &width);
			return low + (width - 1) / 2;
		}
	return -1;
}

static void
bind_key(sqlite3_stmt *st, const struct tally_ent *e)
{
	sqlite3_bind_int(st, 1, e->span);
	sqlite3_bind_int64(st, 2, e->bucket);
	if (e->lb >= 0)
		sqlite3_bind_int(st, 3, e->lb);
	else {
		sqlite3_bind_text(st, 3, e->action, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, e->sub, -1, SQLITE_STATIC);
	}
}

static int
step(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
tally_flush(struct tally *t)
{
	int rc = 0;

	for (size_t i = 0; i < t->cap && rc == 0; i++) {
		struct tally_ent *e = &t->ent[i];

		if (e->span == 0 || (e->n == 0 && e->hard == 0))
			continue;
		if (e->lb >= 0) {
			bind_key(t->lup, e);
			sqlite3_bind_int64(t->lup, 4, e->n);
			rc = step(t->lup);
		} else {
			bind_key(t->up, e);
			sqlite3_bind_int64(t->up, 5, e->n);
			sqlite3_bind_int64(t->up, 6, e->hard);
			rc = step(t->up);
		}
		if (rc == 0 && e->n < 0) {
			bind_key(e->lb >= 0 ? t->ldrop : t->drop, e);
			rc = step(e->lb >= 0 ? t->ldrop : t->drop);
		}
	}
	tally_clear(t);
	return rc;
}
