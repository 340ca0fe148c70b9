/*
 * panel_dest.c - destinations as qshape shows them: queued recipients
 * per domain by age, what gwd is doing about them (recipients in a
 * transaction, connections, whether the remote side throttles them,
 * backoff until the next attempt), how many of the smarthosts it goes
 * through are up (HEALTH), the TLS policy and result of the last attempt
 * that connected (TLS), and the last reply that deferred one; the
 * title counts the smarthosts up.  From gwd's `destinations`.
 * Diagnostics: never dies; without gwd's answer the panel says so.
 */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "view.h"

enum { C_NAME, C_QUEUED, C_AGE0, C_ACTIVE = C_AGE0 + CTL_AGES, C_CONN,
    C_THROTTLE, C_NEXT, C_HEALTH, C_TLS, C_ERROR };

/* "<5m" (queued less than 5 minutes) ... "80m+", from ctl_age_min. */
static char age_title[CTL_AGES][8];

_Static_assert(CTL_AGES == 6, "one column per age bucket");
/* On 80 columns: the ages, the throttle and the error; ACT, CONN and
 * NEXT give way. */
static const struct table_col cols[] = {
	/* title, width, flex, numeric, min, drop, grouped, fit */
	{ "DOMAIN", 0, 1, 0, 10, 0, 0, 30 },
	{ "QUEUED", 6, 0, 1, 0, 0, 0, 0 },
	{ age_title[0], 4, 0, 1, 0, 0, 0, 0 },
	{ age_title[1], 4, 0, 1, 0, 0, 0, 0 },
	{ age_title[2], 4, 0, 1, 0, 0, 0, 0 },
	{ age_title[3], 4, 0, 1, 0, 0, 0, 0 },
	{ age_title[4], 4, 0, 1, 0, 0, 0, 0 },
	{ age_title[5], 4, 0, 1, 0, 0, 0, 0 },
	{ "ACT", 3, 0, 1, 0, 3, 0, 0 },
	{ "CONN", 4, 0, 1, 0, 2, 0, 0 },
	/* window/limit and gap with its unit ("20/20 500ms"), or ok */
	{ "THROTTLE", 11, 0, 1, 0, 0, 0, 0 },
	{ "NEXT", 6, 0, 1, 0, 1, 0, 0 },
	/* smarthosts up of all ("1/2"); "-": by MX */
	{ "HEALTH", 6, 0, 1, 0, 4, 0, 0 },
	/* the last attempt's policy and result ("dane ok", "mta-sts no",
	 * "opport -": no TLS); "-": none yet */
	{ "TLS", 10, 0, 0, 0, 5, 0, 0 },
	{ "LAST ERROR", 0, 2, 0, 16, 0, 0, 0 },
};

static int
dest_rows(const struct view *v, const struct snapshot *s)
{
	return s->ndest;
}

/* Seconds until the next attempt; -1 when nothing waits. */
static int64_t
dest_next(const struct snapshot *s, const struct dest *d)
{
	int64_t in;

	if (d->waiting == 0 || d->next_attempt == 0)
		return -1;
	in = d->next_attempt - s->now_us / 1000000;
	return in > 0 ? in : 0;
}

static double
dest_key(const struct view *v, const struct snapshot *s, int row, int col)
{
	const struct dest *d = &s->dest[row];

	if (col >= C_AGE0 && col < C_AGE0 + CTL_AGES)
		return (double)d->age[col - C_AGE0];
	switch (col) {
	case C_QUEUED:
		return (double)d->queued;
	case C_ACTIVE:
		return (double)d->active;
	case C_CONN:
		return (double)d->connections;
	case C_HEALTH:		/* the fewest up first */
		return d->has_health && d->sh_total > 0 ? -(double)(d->sh_total -
		    d->sh_up) : 0;
	case C_THROTTLE:	/* the most held back first */
		return d->throttled ? 1 + (double)d->gap_ms / 1000 +
		    (d->limit > 0 ? 1 - (double)d->window / (double)d->limit :
		    0) : 0;
	case C_TLS:		/* not verified first */
		return d->has_tls ? (double)(1 - d->tls_verified) : -1;
	default:
		return (double)dest_next(s, d);
	}
}

/* "ok"; "2/4 1s" (connections allowed of the limit, gap); "-" if
 * gwd did not say. */
static void
dest_throttle(const struct dest *d, char *out, size_t n)
{
	char gap[32] = "";

	if (!d->has_throttle) {
		snprintf(out, n, "-");
		return;
	}
	if (!d->throttled) {
		snprintf(out, n, "ok");
		return;
	}
	if (d->gap_ms >= 1000)
		snprintf(gap, sizeof(gap), " %llds", (long long)d->gap_ms / 1000);
	else if (d->gap_ms > 0)
		snprintf(gap, sizeof(gap), " %lldms", (long long)d->gap_ms);
	snprintf(out, n, "%lld/%lld%s", (long long)d->window,
	    (long long)d->limit, gap);
}

/* "dane ok", "mta-sts no", "opport -" (no TLS); "-": none yet. */
static void
dest_tls(const struct dest *d, char *out, size_t n)
{
	if (!d->has_tls) {
		snprintf(out, n, "-");
		return;
	}
	snprintf(out, n, "%s %s", strcmp(d->tls, "opportunistic") == 0 ?
	    "opport" : d->tls, d->tls_verified == 1 ? "ok" :
	    d->tls_verified == 0 ? "no" : "-");
}

static void
dest_cell(const struct view *v, const struct snapshot *s, int row, int col,
    char *out, size_t n)
{
	const struct dest *d = &s->dest[row];
	int64_t next;

	if (col == C_NAME)
		snprintf(out, n, "%s", d->name);
	else if (col == C_THROTTLE)
		dest_throttle(d, out, n);
	else if (col == C_HEALTH) {
		if (d->has_health && d->sh_total > 0)
			snprintf(out, n, "%lld/%lld", (long long)d->sh_up,
			    (long long)d->sh_total);
		else
			snprintf(out, n, "-");
	}
	else if (col == C_TLS)
		dest_tls(d, out, n);
	else if (col == C_ERROR)
		reply_brief(d->error[0] ? d->error : "-", out, n);
	else if (col == C_NEXT) {
		if ((next = dest_next(s, d)) < 0)
			snprintf(out, n, "-");
		else
			view_duration(next, out, n);
	} else
		snprintf(out, n, "%.0f", dest_key(v, s, row, col));
}

/* Backing off with nothing moving is the state to look at. */
static enum level
dest_level(const struct view *v, const struct snapshot *s,
    int row)
{
	const struct dest *d = &s->dest[row];

	if (d->waiting == 0)
		return LEVEL_NONE;
	return d->waiting == d->queued ? LEVEL_BAD : LEVEL_WARN;
}

/* The domain by its backoff; THROTTLE amber while the remote side
 * holds it back. */
static enum level
dest_cell_level(const struct view *v, const struct snapshot *s, int row,
    int col)
{
	if (col == C_NAME)
		return dest_level(v, s, row);
	if (col == C_THROTTLE && s->dest[row].throttled)
		return LEVEL_WARN;
	if (col == C_HEALTH && s->dest[row].has_health &&
	    s->dest[row].sh_up < s->dest[row].sh_total)
		return s->dest[row].sh_up == 0 ? LEVEL_BAD : LEVEL_WARN;
	return LEVEL_NONE;
}

const struct table dest_table = {
	cols, nitems(cols), 0, C_NAME, dest_rows, dest_cell, dest_key,
	dest_level, dest_cell_level, NULL,
};

int
panel_dest_draw(const struct view *v, const struct snapshot *s, int y,
    int rows)
{
	char line[160];
	int up = 0, n;

	for (int i = 0; i < CTL_AGES; i++)
		ctl_age_title(i, age_title[i], sizeof(age_title[i]));
	n = snprintf(line, sizeof(line), "Destinations: %d domains with "
	    "queued recipients (the %d most queued)", s->ndest, CTL_DEST_MAX);
	for (int i = 0; i < s->nsh; i++)
		up += s->sh[i].up;
	if (s->nsh > 0 && n > 0 && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n, "; smarthosts "
		    "up: %d of %d", up, s->nsh);
	return table_panel(v, s, SCR_DEST, y, rows, line, s->dest_ok ? NULL :
	    "gwd is not answering on its control socket: retrying");
}
