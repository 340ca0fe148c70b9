/*
 * volume.c - per-subaccount message counts by bucket, for the volume
 * anomaly alert (see volume.h).
 * Exposure: subaccount names from gw.db and log.db (gwd's own).
 * Diagnostics: dies only when memory runs out; volume_init() returns -1
 * with the reason in err at start-up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertrule.h"
#include "config.h"
#include "db.h"
#include "gwd.h"
#include "hmap.h"
#include "log.h"
#include "util.h"
#include "volume.h"

struct vhist {
	int64_t		 first;		/* the oldest bucket it covers */
	int64_t		 last;		/* the newest bucket written */
	uint32_t	 ring[];	/* bucket b at b % ringlen */
};

static struct hmap	 hists;
static size_t		 ringlen;
static int64_t		 bucket_us;
static struct vol_shape	 shape;

int64_t
volume_bucket_us(void)
{
	return bucket_us;
}

static int64_t
bucket_of(int64_t ts)
{
	return ts / bucket_us;
}

static struct vhist *
vhist_get(const char *sub, int64_t b)
{
	struct vhist *h = hmap_get(&hists, sub);

	if (h == NULL) {
		h = xcalloc(1, sizeof(*h) + ringlen * sizeof(uint32_t));
		h->first = h->last = b;
		hmap_put(&hists, sub, h);
	}
	return h;
}

/* Move h's newest bucket to b, zeroing the buckets passed over. */
static void
vhist_advance(struct vhist *h, int64_t b)
{
	int64_t from = h->last + 1;

	if (b <= h->last)
		return;
	if (b - from >= (int64_t)ringlen)
		from = b - (int64_t)ringlen + 1;
	for (int64_t i = from; i <= b; i++)
		h->ring[(size_t)i % ringlen] = 0;
	h->last = b;
}

void
volume_add(const char *sub, int64_t ts, int delta)
{
	int64_t b = bucket_of(ts);
	struct vhist *h;
	uint32_t *c;

	if (sub == NULL || *sub == '\0' || ringlen == 0)
		return;
	h = vhist_get(sub, b);
	vhist_advance(h, b);
	if (b < h->first)
		h->first = b;
	if (h->last - b >= (int64_t)ringlen)
		return;			/* older than the history */
	c = &h->ring[(size_t)b % ringlen];
	if (delta < 0 && *c == 0)
		return;
	*c += (uint32_t)delta;
}

uint32_t
volume_now(const char *sub, int64_t now, uint32_t *prev)
{
	struct vhist *h = hmap_get(&hists, sub);
	int64_t b = bucket_of(now);

	*prev = 0;
	if (h == NULL)
		return 0;
	vhist_advance(h, b);
	if (b - 1 >= h->first)
		*prev = h->ring[(size_t)(b - 1) % ringlen];
	return h->ring[(size_t)b % ringlen];
}

int
volume_baseline_of(const char *sub, int64_t now, struct vol_baseline *bl)
{
	struct vhist *h = hmap_get(&hists, sub);
	int64_t b = bucket_of(now);
	uint32_t *s;
	size_t n;
	int r;

	if (h == NULL)
		return -1;
	vhist_advance(h, b);
	s = xcalloc(vol_samples_max(&shape), sizeof(*s));
	n = vol_gather(h->ring, ringlen, h->first, b, &shape, s);
	/* At least one whole span of one earlier period. */
	r = vol_baseline(s, n, (size_t)shape.span, bl);
	free(s);
	return r;
}

/*
 * The history from log.db: every message a client sent (a received
 * event with a client address) since the oldest bucket the ring holds,
 * read through the index event_window alone (ts, action, subaccount,
 * client_ip are its columns).
 */
int
volume_init(const char *state_dir, char *err, size_t errsz)
{
	int64_t now = now_us(), since, n = 0;
	sqlite3_stmt *st;
	sqlite3 *db;
	int rc;

	hmap_init(&hists);
	bucket_us = gcfg->alerts.volume_bucket_ms * 1000;
	shape.period = gcfg->alerts.volume_period_ms * 1000 / bucket_us;
	shape.span = gcfg->alerts.volume_span_ms * 1000 / bucket_us;
	shape.periods = gcfg->alerts.volume_periods;
	ringlen = (size_t)(shape.period * shape.periods + shape.span / 2 + 2);
	since = (bucket_of(now) - (int64_t)ringlen + 1) * bucket_us;
	if ((db = db_open(state_dir, DB_LOG, DB_RDONLY, err, errsz)) == NULL)
		return -1;
	st = db_prepare(db, "SELECT subaccount, ts FROM event INDEXED BY"
	    " event_window WHERE ts >= ? AND action = 'received' AND"
	    " subaccount IS NOT NULL AND subaccount <> '' AND"
	    " client_ip IS NOT NULL");
	sqlite3_bind_int64(st, 1, since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		volume_add((const char *)sqlite3_column_text(st, 0),
		    sqlite3_column_int64(st, 1), 1);
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(err, errsz, "log.db: volume history: %s",
		    sqlite3_errmsg(db));
		db_close(db);
		return -1;
	}
	db_close(db);
	log_info("volume history: %lld messages of %zu subaccounts in %zu "
	    "buckets of %llds", (long long)n, hmap_count(&hists), ringlen,
	    (long long)(bucket_us / 1000000));
	return 0;
}
