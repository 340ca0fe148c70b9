/*
 * panel_subs.c - subaccounts by what their mail did over the last hour
 * (or day, `w`), from log.db: received, delivered, deferred attempts,
 * bounced, and the bounce rate in its band.  Quotas and pausing do not
 * exist in gw yet: those columns say "-".
 */
#include <curses.h>
#include <stdio.h>

#include "util.h"
#include "view.h"

enum { C_NAME, C_RECV, C_DELIV, C_DEFER, C_BOUNCE, C_RATE, C_QUOTA,
    C_PAUSED };

static const struct table_col cols[] = {
	{ "SUBACCOUNT", 0, 1, 0 },
	{ "RECEIVED", 9, 0, 1 },
	{ "DELIVERED", 9, 0, 1 },
	{ "DEFERRED", 9, 0, 1 },
	{ "BOUNCED", 9, 0, 1 },
	{ "BOUNCE%", 8, 0, 1 },
	{ "QUOTA", 6, 0, 0 },
	{ "PAUSED", 6, 0, 0 },
};

static const int col_act[] = { -1, ACT_RECEIVED, ACT_DELIVERED,
    ACT_DEFERRED, ACT_BOUNCED };

static int
subs_rows(const struct view *v, const struct snapshot *s)
{
	return s->nsub;
}

/* Bounced of the final outcomes, as rates.c counts it; -1: none. */
static double
subs_bounce(const struct view *v, const struct snapshot *s, int row)
{
	const int64_t *c = s->sub[row].count[v->day ? SUB_24H : SUB_1H];
	int64_t final = c[ACT_DELIVERED] + c[ACT_BOUNCED] + c[ACT_EXPIRED];

	return final > 0 ? 100.0 * (double)c[ACT_BOUNCED] / (double)final :
	    -1;
}

static double
subs_key(const struct view *v, const struct snapshot *s, int row, int col)
{
	if (col == C_RATE)
		return subs_bounce(v, s, row);
	if (col > C_NAME && col < C_RATE)
		return (double)s->sub[row].count[v->day ? SUB_24H :
		    SUB_1H][col_act[col]];
	return 0;
}

static void
subs_cell(const struct view *v, const struct snapshot *s, int row, int col,
    char *out, size_t n)
{
	if (col == C_NAME)
		snprintf(out, n, "%s", s->sub[row].name);
	else if (col == C_RATE)
		rates_format(RATE_BOUNCE, subs_bounce(v, s, row), out, n);
	else if (col >= C_QUOTA)
		snprintf(out, n, "-");
	else
		snprintf(out, n, "%.0f", subs_key(v, s, row, col));
}

static enum level
subs_level(const struct view *v, const struct snapshot *s, int row)
{
	return rates_level(RATE_BOUNCE, subs_bounce(v, s, row));
}

const struct table subs_table = {
	cols, nitems(cols), 0, C_RATE, subs_rows, subs_cell, subs_key,
	subs_level, NULL,
};

int
panel_subs_draw(const struct view *v, const struct snapshot *s, int y,
    int rows)
{
	char line[128];

	snprintf(line, sizeof(line), "Subaccounts over the last %s   (w: %s)",
	    v->day ? "24 h" : "hour", v->day ? "last hour" : "last 24 h");
	return table_panel(v, s, SCR_SUBS, y, rows, line,
	    s->log_ok ? NULL : s->log_err);
}
