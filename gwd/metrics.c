/*
 * metrics.c - gwd's live counters (metrics.h): one struct, counted by
 * the modules that see the events, read by metrics_report.c.  It needs
 * nothing, so every module may count without depending on the reports
 * that read the queue.
 *
 * Hot path: a counter is a plain increment (main thread); a histogram
 * observation a relaxed atomic add (any thread); a subaccount's counter
 * one hash lookup of its name, with no lock.  Subaccounts are never
 * forgotten until gwd restarts, so their counters only grow, as
 * Prometheus counters must.
 * Exposure: none.
 * Diagnostics: dies only when memory runs out.
 */
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "util.h"

/* Upper bounds, seconds.  Delivery: a queue's latency, from a fast
 * smarthost to a day of retries; commit: one group commit's fsync. */
static const double delivery_bounds[] = { 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    30, 60, 300, 900, 3600, 14400, 86400 };
static const double commit_bounds[] = { 0.0005, 0.001, 0.0025, 0.005,
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10 };

static const struct {
	const double	*bounds;
	int		 n;
} hists[GM_NHISTS] = {
	[GM_HIST_DELIVERY] = { delivery_bounds, (int)nitems(delivery_bounds) },
	[GM_HIST_COMMIT] = { commit_bounds, (int)nitems(commit_bounds) },
};

_Static_assert(nitems(delivery_bounds) < GM_HIST_MAX, "delivery buckets");
_Static_assert(nitems(commit_bounds) < GM_HIST_MAX, "commit buckets");

struct gw_metrics gm;

int
metrics_hist_bounds(enum gm_hist_id id, const double **bounds)
{
	*bounds = hists[id].bounds;
	return hists[id].n;
}

void
metrics_observe(enum gm_hist_id id, int64_t us)
{
	struct gm_hist *h = &gm.hist[id];
	int i = 0;

	if (us < 0)		/* the clock stepped back */
		us = 0;
	/* le: a value equal to a bound is in that bound's bucket. */
	while (i < hists[id].n && (double)us > hists[id].bounds[i] * 1e6)
		i++;
	atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, (uint64_t)us,
	    memory_order_relaxed);
}

/* The subaccounts seen, in the order first seen; an open-addressing
 * index of them by name (a power of two, at most half full). */
struct sub {
	char		*name;
	uint64_t	 counts[GM_SUB_NCOUNTERS];
};
static struct sub *subs;
static size_t	 nsubs;
static int	*subidx;	/* index into subs + 1; 0: empty */
static size_t	 idxsz;

static size_t
sub_hash(const char *s)
{
	size_t h = 2166136261u;		/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void
sub_index_grow(void)
{
	size_t sz = idxsz ? idxsz * 2 : 64;

	free(subidx);
	subidx = xcalloc(sz, sizeof(*subidx));
	idxsz = sz;
	for (size_t i = 0; i < nsubs; i++) {
		size_t k = sub_hash(subs[i].name) & (sz - 1);

		while (subidx[k])
			k = (k + 1) & (sz - 1);
		subidx[k] = (int)i + 1;
	}
}

static struct sub *
sub_get(const char *name)
{
	size_t k;

	if (2 * (nsubs + 1) > idxsz)
		sub_index_grow();
	k = sub_hash(name) & (idxsz - 1);
	for (; subidx[k]; k = (k + 1) & (idxsz - 1))
		if (strcmp(subs[subidx[k] - 1].name, name) == 0)
			return &subs[subidx[k] - 1];
	subs = xreallocarray(subs, nsubs + 1, sizeof(*subs));
	memset(&subs[nsubs], 0, sizeof(subs[nsubs]));
	subs[nsubs].name = xstrdup(name);
	subidx[k] = (int)++nsubs;
	return &subs[nsubs - 1];
}

void
metrics_sub_add(const char *subaccount, enum gm_sub_counter c, uint64_t n)
{
	if (subaccount == NULL || subaccount[0] == '\0')
		return;
	sub_get(subaccount)->counts[c] += n;
}

void
metrics_sub_foreach(void (*fn)(const char *, const uint64_t *, void *),
    void *arg)
{
	for (size_t i = 0; i < nsubs; i++)
		fn(subs[i].name, subs[i].counts, arg);
}

void
metrics_delivery(const char *subaccount, enum gm_result r,
    enum bounce_class cls, int64_t received_us)
{
	gm.deliveries[r][cls]++;
	if (r == GM_DELIVERED) {
		metrics_observe(GM_HIST_DELIVERY, now_us() - received_us);
		metrics_sub_add(subaccount, GM_SUB_DELIVERED, 1);
	} else if (r != GM_DEFERRED)
		metrics_sub_add(subaccount, GM_SUB_BOUNCED, 1);
}

uint64_t
metrics_result_total(enum gm_result r)
{
	uint64_t n = 0;

	for (int c = 0; c < BC_COUNT; c++)
		n += gm.deliveries[r][c];
	return n;
}
