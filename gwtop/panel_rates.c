/*
 * panel_rates.c - event counts over 1 min, 5 min and 1 h from log.db,
 * and the rates derived from them (rates.c) in their colour bands.
 * Rates sit to the right of the counts on a wide screen, below them on
 * a narrow one.
 * Diagnostics: never dies; a rate with nothing to divide by is shown as
 * "-".
 */
#include <curses.h>
#include <stdio.h>

#include "view.h"

#define COLW	8		/* one window's column */
#define TABLEW	(12 + 3 * COLW)

static const char *const rate_label[NRATE] = { "in msg/s", "out msg/s",
    "delivery %", "deferral %", "bounce %", "hard bounce%", "latency p50",
    "latency p95", "complaint %" };

static void
panel_rates_heading(int y, int x, const char *title)
{
	char line[64];

	snprintf(line, sizeof(line), "%-12s%*s%*s%*s", title, COLW, "1 min",
	    COLW, "5 min", COLW, "1 h");
	attron(A_BOLD);
	view_put(y, x, line, COLS - x);
	attroff(A_BOLD);
}

static void
panel_rates_counts(const struct snapshot *s, int y, int x)
{
	char line[64];

	for (int a = 0; a < NACT; a++) {
		snprintf(line, sizeof(line), "%-12s%*lld%*lld%*lld",
		    event_name((enum event_action)a), COLW,
		    (long long)s->count[WIN_1M][a], COLW,
		    (long long)s->count[WIN_5M][a], COLW,
		    (long long)s->count[WIN_1H][a]);
		view_put(y + a, x, line, COLS - x);
	}
}

static void
panel_rates_rates(const struct view *v, const struct snapshot *s, int y,
    int x)
{
	char val[32], cell[32];
	double d;
	int attr;

	for (int r = 0; r < NRATE; r++) {
		view_put(y + r, x, rate_label[r], COLS - x);
		for (int w = 0; w < NWIN; w++) {
			d = rates_get(s, (enum win)w, (enum rate)r);
			rates_format((enum rate)r, d, val, sizeof(val));
			snprintf(cell, sizeof(cell), "%*s", COLW, val);
			attr = view_attr(v, rates_level((enum rate)r, d));
			attron(attr);
			if (x + 12 + w * COLW < COLS)
				view_put(y + r, x + 12 + w * COLW, cell,
				    COLS - x - 12 - w * COLW);
			attroff(attr);
		}
	}
}

int
panel_rates_draw(const struct view *v, const struct snapshot *s, int y,
    int rows)
{
	int wide = COLS >= 2 * TABLEW + 4;

	if (!s->log_ok) {
		if (rows < 1)
			return 0;
		attron(A_BOLD);
		view_put(y, 0, "Events", COLS);
		attroff(A_BOLD);
		attron(view_attr(v, LEVEL_BAD));
		view_put(y, 10, "retrying:", COLS - 10);
		view_put(y, 20, s->log_err, COLS - 20);
		attroff(view_attr(v, LEVEL_BAD));
		return 1;
	}
	if (rows < (wide ? 1 + (int)NRATE : 2 + NACT + NRATE))
		return 0;
	panel_rates_heading(y, 0, "Events");
	panel_rates_counts(s, y + 1, 0);
	if (wide) {
		panel_rates_heading(y, TABLEW + 4, "Rates");
		panel_rates_rates(v, s, y + 1, TABLEW + 4);
		return 1 + NRATE;	/* NRATE > NACT */
	}
	panel_rates_rates(v, s, y + 1 + NACT, 0);
	return 1 + NACT + NRATE;
}
