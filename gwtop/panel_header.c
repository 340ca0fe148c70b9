/*
 * panel_header.c - the top line: program, time, refresh (FROZEN while
 * space holds it), gwd's state, and an alert in red while gwd has a
 * subaccount paused, its cluster degraded (Redis away) or one of its
 * alerts (gwctl alert) firing, so it is seen from every screen.
 * Diagnostics: never dies; nothing here fails.
 */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "view.h"

/* "  PAUSED: app" (or "  PAUSED: app +2") when gwd holds a subaccount's
 * mail back, after "  cluster: degraded" while Redis is away, then
 * "  ALERT: bounces" (or "  ALERT: bounces +1") while alerts fire
 * (gwctl alert); "" when none. */
static void
panel_header_alert(const struct snapshot *s, char *out, size_t n)
{
	const char *first, *cl = s->live.cluster_degraded ?
	    "  cluster: degraded" : "";
	int paused = subs_paused(s, &first);
	int64_t firing = s->live.ok ? s->live.alerts_firing : 0;
	size_t len;

	if (paused == 0)
		snprintf(out, n, "%s", cl);
	else if (paused > 1)
		snprintf(out, n, "%s  PAUSED: %s +%d", cl, first, paused - 1);
	else
		snprintf(out, n, "%s  PAUSED: %s", cl, first);
	len = strlen(out);
	if (firing > 0 && len < n)
		snprintf(out + len, n - len, firing > 1 ? "  ALERT: %s +%lld" :
		    "  ALERT: %s", s->live.alert_first, (long long)firing - 1);
}

/* gwd's uptime and connections, as much as fits in `room` columns:
 * " up 2s, in 0 out 2 conn", " up 2s" or nothing. */
static void
panel_header_counters(const struct snapshot *s, int room, char *out,
    size_t n)
{
	char up[32];

	out[0] = '\0';
	if (!s->live.ok) {
		if (strcmp(s->gwd, "running") != 0)
			snprintf(out, n, ", retrying");
		return;
	}
	view_duration(s->live.uptime_s, up, sizeof(up));
	snprintf(out, n, " up %s, in %lld out %lld conn", up,
	    (long long)s->live.sessions, (long long)s->live.connections_out);
	if ((int)strlen(out) > room)
		snprintf(out, n, " up %s", up);
	if ((int)strlen(out) > room)
		out[0] = '\0';
}

static void
panel_header_put(int y, int *x, const char *text, int attr)
{
	attron(attr);
	if (*x < COLS)
		view_put(y, *x, text, COLS - *x);
	attroff(attr);
	*x += (int)strlen(text);
}

/*
 * " gwtop 0.1.0  02:16:48 UTC  every 2.0s  FROZEN  gwd: running up 2s,
 * in 0 out 2 conn  PAUSED: app": what the user set comes before gwd's
 * state, so it stays in sight on 80 columns; gwd's counters give way to
 * the alert of a paused subaccount (in red, seen from every screen)
 * rather than be covered by it.
 */
int
panel_header_draw(const struct view *v, const struct snapshot *s, int y,
    int rows)
{
	char t[40], line[160], alert[128], counters[96];
	enum level l;
	int x = 0;

	if (rows < 1)
		return 0;
	fmt_rfc3339(s->now_us, t, sizeof(t));
	t[19] = '\0';
	attron(A_REVERSE);
	mvhline(y, 0, ' ', COLS);
	attroff(A_REVERSE);
	snprintf(line, sizeof(line), " gwtop %s  %s UTC  every %.1fs%s  gwd: ",
	    GW_VERSION, t + 11, v->interval_ms / 1000.0,
	    v->paused ? "  FROZEN" : "");
	panel_header_alert(s, alert, sizeof(alert));
	panel_header_counters(s, COLS - (int)(strlen(line) + strlen(s->gwd) +
	    strlen(alert)), counters, sizeof(counters));
	panel_header_put(y, &x, line, A_REVERSE);
	l = strcmp(s->gwd, "running") == 0 ? LEVEL_GOOD :
	    strcmp(s->gwd, "stopped") == 0 ? LEVEL_BAD : LEVEL_WARN;
	panel_header_put(y, &x, s->gwd, view_attr(v, l) | A_REVERSE);
	panel_header_put(y, &x, counters, A_REVERSE);
	/* Shown even if it must cover gwd's state on a narrow screen. */
	if (x + (int)strlen(alert) > COLS)
		x = COLS - (int)strlen(alert) > 0 ? COLS - (int)strlen(alert) :
		    0;
	panel_header_put(y, &x, alert, view_attr(v, LEVEL_BAD) | A_REVERSE);
	return 1;
}
