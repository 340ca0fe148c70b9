/*
 * panel_subs.c - subaccounts by what their mail did over the last hour
 * (or day, `w`), from log.db: received, delivered, deferred attempts,
 * bounced, and the bounce rate in its band; then from gwd's
 * `subaccounts` the quota in use ("3/10 h", amber from 80%, red when
 * full) and whether gwd paused it, with the reasons under the table.
 * Subaccounts gwd knows without traffic have rows of zeros.
 * Diagnostics: never dies; without log.db the panel shows its error.
 */
#include <curses.h>
#include <stdio.h>

#include "util.h"
#include "view.h"

enum { C_NAME, C_RECV, C_DELIV, C_DEFER, C_BOUNCE, C_RATE, C_QUOTA,
    C_PAUSED };

static const struct table_col cols[] = {
	/* title, width, flex, numeric, min, drop, grouped, fit */
	{ "SUBACCOUNT", 0, 1, 0, 12, 0, 0, 0 },
	{ "RECEIVED", 8, 0, 1, 0, 0, 0, 0 },
	{ "DELIVERED", 9, 0, 1, 0, 0, 0, 0 },
	{ "DEFERRED", 8, 0, 1, 0, 0, 0, 0 },
	{ "BOUNCED", 8, 0, 1, 0, 0, 0, 0 },
	{ "BOUNCE%", 7, 0, 1, 0, 0, 0, 0 },
	{ "QUOTA", 11, 0, 1, 0, 0, 0, 0 },
	{ "PAUSED", 6, 0, 0, 0, 0, 0, 0 },
};

static const int col_act[] = { -1, EV_RECEIVED, EV_DELIVERED,
    EV_DEFERRED, EV_BOUNCED };

/*
 * The hour quota if set, else the day's: "3/10 h", "40/100 d", "-".
 * Returns the percent used, -1 if there is no quota or gwd did not say.
 */
double
subs_quota(const struct sub *u, char *out, size_t n)
{
	int64_t q = u->quota_hour ? u->quota_hour : u->quota_day;
	int64_t used = u->quota_hour ? u->used_hour : u->used_day;

	if (!u->known || q <= 0) {
		snprintf(out, n, "-");
		return -1;
	}
	snprintf(out, n, "%lld/%lld %s", (long long)used, (long long)q,
	    u->quota_hour ? "h" : "d");
	return 100.0 * (double)used / (double)q;
}

int
subs_paused(const struct snapshot *s, const char **first)
{
	int n = 0;

	*first = NULL;
	for (int i = 0; s->subs_ok && i < s->nsub; i++)
		if (s->sub[i].known && s->sub[i].paused && n++ == 0)
			*first = s->sub[i].name;
	return n;
}

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
	int64_t final = c[EV_DELIVERED] + c[EV_BOUNCED] + c[EV_EXPIRED];

	return final > 0 ? 100.0 * (double)c[EV_BOUNCED] / (double)final :
	    -1;
}

static double
subs_key(const struct view *v, const struct snapshot *s, int row, int col)
{
	char q[48];

	if (col == C_RATE)
		return subs_bounce(v, s, row);
	if (col == C_QUOTA)
		return subs_quota(&s->sub[row], q, sizeof(q));
	if (col > C_NAME && col < C_RATE)
		return (double)s->sub[row].count[v->day ? SUB_24H :
		    SUB_1H][col_act[col]];
	return 0;
}

static void
subs_cell(const struct view *v, const struct snapshot *s, int row, int col,
    char *out, size_t n)
{
	const struct sub *u = &s->sub[row];

	if (col == C_NAME)
		snprintf(out, n, "%s", u->name);
	else if (col == C_RATE)
		rates_format(RATE_BOUNCE, subs_bounce(v, s, row), out, n);
	else if (col == C_QUOTA)
		subs_quota(u, out, n);
	else if (col == C_PAUSED)
		snprintf(out, n, "%s", u->known && u->paused ? "yes" : "-");
	else
		snprintf(out, n, "%.0f", subs_key(v, s, row, col));
}

static enum level
subs_cell_level(const struct view *v, const struct snapshot *s, int row,
    int col)
{
	char q[48];
	double used;

	switch (col) {
	case C_RATE:
		return rates_level(RATE_BOUNCE, subs_bounce(v, s, row));
	case C_QUOTA:
		if ((used = subs_quota(&s->sub[row], q, sizeof(q))) < 0)
			return LEVEL_NONE;
		return used >= 100 ? LEVEL_BAD : used >= 80 ? LEVEL_WARN :
		    LEVEL_GOOD;
	case C_PAUSED:
		return s->sub[row].known && s->sub[row].paused ? LEVEL_BAD :
		    LEVEL_NONE;
	default:
		return LEVEL_NONE;
	}
}

const struct table subs_table = {
	cols, nitems(cols), 0, C_RATE, subs_rows, subs_cell, subs_key,
	NULL, subs_cell_level, NULL,
};

/* "paused app: bounce rate 50.0% over 4 recipients", one per line. */
static int
subs_reasons(const struct view *v, const struct snapshot *s, int y,
    int rows)
{
	char line[512];
	int n = 0;

	attron(view_attr(v, LEVEL_BAD));
	for (int i = 0; i < s->nsub && n < rows; i++) {
		const struct sub *u = &s->sub[i];

		if (!u->known || !u->paused)
			continue;
		snprintf(line, sizeof(line), "paused %s: %s", u->name,
		    u->reason);
		view_put(y + n++, 0, line, COLS);
	}
	attroff(view_attr(v, LEVEL_BAD));
	return n;
}

int
panel_subs_draw(const struct view *v, const struct snapshot *s, int y,
    int rows)
{
	char line[128];
	const char *first;
	int npaused = subs_paused(s, &first), used;

	snprintf(line, sizeof(line), "Subaccounts over the last %s   (w: %s)%s",
	    v->day ? "24 h" : "hour", v->day ? "last hour" : "last 24 h",
	    s->live.ok && !s->subs_ok ? "   quotas: gwd did not answer" : "");
	/* The reasons keep their lines; the table takes what is left. */
	if (npaused > rows / 2)
		npaused = rows / 2;
	used = table_panel(v, s, SCR_SUBS, y, rows - (npaused ? npaused + 1 :
	    0), line, s->log_ok ? NULL : s->log_err);
	if (npaused == 0 || used == 0)
		return used;
	return used + 1 + subs_reasons(v, s, y + used + 1, npaused);
}
