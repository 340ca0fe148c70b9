/*
 * panel_pools.c - IP pools, one row per source address: its HELO name
 * and connections open now; its pool's recipients delivered, deferred
 * and bounced since gwd started and the destinations sending from it
 * are on the first row of the pool's addresses only.  From gwd's
 * `pools`.
 * Diagnostics: never dies; without gwd's answer the panel says so.
 */
#include <curses.h>
#include <stdio.h>

#include "util.h"
#include "view.h"

enum { C_POOL, C_ADDR, C_HELO, C_CONN, C_DELIV, C_DEFER, C_BOUNCE,
    C_DESTS };

/* The pool's name and figures once per run of its addresses; on 80
 * columns HELO gives way, then DESTINATIONS. */
static const struct table_col cols[] = {
	/* title, width, flex, numeric, min, drop, grouped, fit */
	{ "POOL", 0, 2, 0, 6, 0, 1, 20 },
	{ "ADDRESS", 0, 3, 0, 9, 0, 0, 39 },
	{ "HELO", 0, 3, 0, 16, 2, 0, 0 },
	{ "CONN", 4, 0, 1, 0, 0, 0, 0 },
	{ "DELIVERED", 9, 0, 1, 0, 0, 1, 0 },
	{ "DEFERRED", 8, 0, 1, 0, 0, 1, 0 },
	{ "BOUNCED", 7, 0, 1, 0, 0, 1, 0 },
	{ "DESTINATIONS", 0, 2, 0, 12, 1, 1, 0 },
};

static int
pools_rows(const struct view *v, const struct snapshot *s)
{
	return s->npaddr;
}

static double
pools_key(const struct view *v, const struct snapshot *s, int row, int col)
{
	const struct paddr *a = &s->paddr[row];
	const struct pool *p = &s->pool[a->pool];

	switch (col) {
	case C_CONN:
		return (double)a->connections;
	case C_DELIV:
		return (double)p->delivered;
	case C_DEFER:
		return (double)p->deferred;
	case C_BOUNCE:
		return (double)p->bounced;
	default:
		return 0;
	}
}

static void
pools_cell(const struct view *v, const struct snapshot *s, int row, int col,
    char *out, size_t n)
{
	const struct paddr *a = &s->paddr[row];
	const struct pool *p = &s->pool[a->pool];

	if (col == C_POOL)
		snprintf(out, n, "%s", p->name);
	else if (col == C_ADDR)
		snprintf(out, n, "%s", a->address);
	else if (col == C_HELO)
		snprintf(out, n, "%s", a->helo);
	else if (col == C_DESTS)
		snprintf(out, n, "%s", p->dests);
	else
		snprintf(out, n, "%.0f", pools_key(v, s, row, col));
}

/* A pool whose mail bounces is the one to look at. */
static enum level
pools_level(const struct view *v, const struct snapshot *s, int row)
{
	const struct pool *p = &s->pool[s->paddr[row].pool];
	int64_t final = p->delivered + p->bounced;

	return rates_level(RATE_BOUNCE, final > 0 ? 100.0 *
	    (double)p->bounced / (double)final : -1);
}

/* A row's group: its pool. */
static int
pools_group(const struct view *v, const struct snapshot *s, int row)
{
	return s->paddr[row].pool;
}

const struct table pools_table = {
	cols, nitems(cols), 0, C_BOUNCE, pools_rows, pools_cell, pools_key,
	pools_level, NULL, pools_group,
};

int
panel_pools_draw(const struct view *v, const struct snapshot *s, int y,
    int rows)
{
	char line[160];
	int naddr = 0;

	for (int i = 0; i < s->npaddr; i++)
		naddr += s->paddr[i].address[0] != '-';
	snprintf(line, sizeof(line), "IP pools: %d pools, %d addresses   "
	    "(connections per address; messages per pool since gwd started)",
	    s->npool, naddr);
	return table_panel(v, s, SCR_POOLS, y, rows, line, !s->live.ok ?
	    "gwd is not answering on its control socket: retrying" :
	    s->pools_ok ? NULL : "gwd does not answer `pools` (an older gwd?)");
}
