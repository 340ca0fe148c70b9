/*
 * panel_header.c - the top line: program, time, gwd's state, refresh.
 */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "view.h"

int
panel_header_draw(const struct view *v, const struct snapshot *s, int y,
    int rows)
{
	char t[40], line[160];
	enum level l;
	int x;

	if (rows < 1)
		return 0;
	fmt_rfc3339(s->now_us, t, sizeof(t));
	t[19] = '\0';
	t[10] = ' ';
	attron(A_REVERSE);
	mvhline(y, 0, ' ', COLS);
	snprintf(line, sizeof(line), " gwtop %s   %s UTC   gwd: ", GW_VERSION,
	    t);
	view_put(y, 0, line, COLS);
	attroff(A_REVERSE);
	x = (int)strlen(line);
	l = strcmp(s->gwd, "running") == 0 ? LEVEL_GOOD :
	    strcmp(s->gwd, "stopped") == 0 ? LEVEL_BAD : LEVEL_WARN;
	attron(view_attr(v, l) | A_REVERSE);
	view_put(y, x, s->gwd, COLS - x);
	attroff(view_attr(v, l) | A_REVERSE);
	x += (int)strlen(s->gwd);
	if (s->live.ok) {
		char up[32];

		view_duration(s->live.uptime_s, up, sizeof(up));
		snprintf(line, sizeof(line), " up %s, in %lld out %lld conn,"
		    "   every %.1fs%s", up, (long long)s->live.sessions,
		    (long long)s->live.connections_out,
		    v->interval_ms / 1000.0, v->paused ? "   PAUSED" : "");
	} else
		snprintf(line, sizeof(line), "   every %.1fs%s",
		    v->interval_ms / 1000.0, v->paused ? "   PAUSED" : "");
	attron(A_REVERSE);
	if (x < COLS)
		view_put(y, x, line, COLS - x);
	attroff(A_REVERSE);
	return 1;
}
