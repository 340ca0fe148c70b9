/*
 * tally.c - adding up a batch of events into event_tally (see tally.h).
 *
 * A batch of 2000 events of gwd's store thread falls into a few
 * minutes, an hour or two, and the actions and subaccounts of the
 * traffic: tens to hundreds of keys, each found by a hash of its
 * fields.  The UPSERT adds the batch's count to the row; a row whose
 * count falls to 0 (retention) is deleted.
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
	char		*action, *sub;
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
	    -1, &t->drop, NULL) != SQLITE_OK) {
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
	memset(t, 0, sizeof(*t));
}

static uint64_t
hash_str(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (h ^ 0xff) * 0x100000001b3ULL;
}

static uint64_t
hash_key(int span, int64_t bucket, const char *action, const char *sub)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h = (h ^ (uint64_t)bucket) * 0x100000001b3ULL;
	h = (h ^ (uint64_t)span) * 0x100000001b3ULL;
	return hash_str(hash_str(h, action), sub);
}

/* The slot of the key in ent (cap entries): its own, or the empty one
 * where it goes. */
static struct tally_ent *
slot(struct tally_ent *ent, size_t cap, int span, int64_t bucket,
    const char *action, const char *sub)
{
	size_t i = hash_key(span, bucket, action, sub) & (cap - 1);

	for (;; i = (i + 1) & (cap - 1)) {
		struct tally_ent *e = &ent[i];

		if (e->span == 0 || (e->span == span && e->bucket == bucket &&
		    strcmp(e->action, action) == 0 && strcmp(e->sub, sub) == 0))
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

		if (e->span)
			*slot(ent, cap, e->span, e->bucket, e->action,
			    e->sub) = *e;
	}
	free(t->ent);
	t->ent = ent;
	t->cap = cap;
	return 0;
}

int
tally_add(struct tally *t, int64_t ts, const char *action, const char *sub,
    int hard, int sign)
{
	if (action == NULL)	/* NOT NULL: a column read out of memory */
		goto oom;
	if (sub == NULL)
		sub = "";
	for (size_t k = 0; k < sizeof(spans) / sizeof(spans[0]); k++) {
		int64_t bucket = ts / ((int64_t)spans[k] * 1000000);
		struct tally_ent *e;

		/* At most half full: probes stay short. */
		if ((t->n + 1) * 2 > t->cap && grow(t) == -1)
			goto oom;
		e = slot(t->ent, t->cap, spans[k], bucket, action, sub);
		if (e->span == 0) {
			if ((e->action = strdup(action)) == NULL ||
			    (e->sub = strdup(sub)) == NULL) {
				free(e->action);
				e->action = NULL;
				goto oom;
			}
			e->span = spans[k];
			e->bucket = bucket;
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

static void
bind_key(sqlite3_stmt *st, const struct tally_ent *e)
{
	sqlite3_bind_int(st, 1, e->span);
	sqlite3_bind_int64(st, 2, e->bucket);
	sqlite3_bind_text(st, 3, e->action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, e->sub, -1, SQLITE_STATIC);
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
		bind_key(t->up, e);
		sqlite3_bind_int64(t->up, 5, e->n);
		sqlite3_bind_int64(t->up, 6, e->hard);
		rc = step(t->up);
		if (rc == 0 && e->n < 0) {
			bind_key(t->drop, e);
			rc = step(t->drop);
		}
	}
	tally_clear(t);
	return rc;
}
