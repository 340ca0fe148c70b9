/*
 * panel_header.c - the top line: program, time, gwd's state, refresh,
 * and an alert in red while gwd has a subaccount paused, so it is seen
 * from every screen.
 * Diagnostics: never dies; nothing here fails.
 */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "view.h"

/* "  PAUSED: app" (or "  PAUSED: app +2") at x, or at the right edge. */
static void
panel_header_paused(const struct view *v, const struct snapshot *s, int y,
    int x)
{
	char line[128];
	const char *first;
	int n = subs_paused(s, &first);

	if (n == 0)
		return;
	if (n > 1)
		snprintf(line, sizeof(line), "  PAUSED: %s +%d", first, n - 1);
	else
		snprintf(line, sizeof(line), "  PAUSED: %s", first);
	/* Shown even if gwd's figures must give way on a narrow screen. */
	if (x + (int)strlen(line) > COLS)
		x = COLS - (int)strlen(line);
	if (x < 0)
		x = 0;
	attron(view_attr(v, LEVEL_BAD) | A_REVERSE);
	view_put(y, x, line, COLS - x);
	attroff(view_attr(v, LEVEL_BAD) | A_REVERSE);
}

/*
 * " gwtop 0.1.0  02:16:48 UTC  every 2.0s  PAUSED  gwd: running up 2s,
 * in 0 out 2 conn": what the user set comes before gwd's state, so it
 * stays in sight on 80 columns.
 */
int
panel_header_draw(const struct view *v, const struct snapshot *s, int y,
    int rows)
{
	char t[40], line[160], up[32];
	enum level l;
	int x;

	if (rows < 1)
		return 0;
	fmt_rfc3339(s->now_us, t, sizeof(t));
	t[19] = '\0';
	attron(A_REVERSE);
	mvhline(y, 0, ' ', COLS);
	snprintf(line, sizeof(line), " gwtop %s  %s UTC  every %.1fs%s  gwd: ",
	    GW_VERSION, t + 11, v->interval_ms / 1000.0,
	    v->paused ? "  PAUSED" : "");
	view_put(y, 0, line, COLS);
	attroff(A_REVERSE);
	x = (int)strlen(line);
	l = strcmp(s->gwd, "running") == 0 ? LEVEL_GOOD :
	    strcmp(s->gwd, "stopped") == 0 ? LEVEL_BAD : LEVEL_WARN;
	attron(view_attr(v, l) | A_REVERSE);
	if (x < COLS)
		view_put(y, x, s->gwd, COLS - x);
	attroff(view_attr(v, l) | A_REVERSE);
	x += (int)strlen(s->gwd);
	line[0] = '\0';
	if (s->live.ok) {
		view_duration(s->live.uptime_s, up, sizeof(up));
		snprintf(line, sizeof(line), " up %s, in %lld out %lld conn",
		    up, (long long)s->live.sessions,
		    (long long)s->live.connections_out);
	} else if (strcmp(s->gwd, "running") != 0)
		snprintf(line, sizeof(line), ", retrying");
	attron(A_REVERSE);
	if (x < COLS)
		view_put(y, x, line, COLS - x);
	attroff(A_REVERSE);
	panel_header_paused(v, s, y, x + (int)strlen(line));
	return 1;
}
