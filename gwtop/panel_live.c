/*
 * panel_live.c - messages per second in (accepted) and out (recipients
 * delivered) from gwd's live counters, now and as a sparkline of the
 * last refreshes.  Shown only while gwd answers on its control socket.
 * Diagnostics: never dies; without gwd's counters the panel is not
 * drawn.
 */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "view.h"

static const char *const bars[] = { " ", "\u2581", "\u2582", "\u2583",
    "\u2584", "\u2585", "\u2586", "\u2587", "\u2588" };

/* A sparkline of the last `w` rates, scaled to their maximum. */
static void
spark(const struct snapshot *s, int out, int w, char *buf, size_t bufsz)
{
	const struct hist *h = &s->hist;
	int first = h->n - w > 1 ? h->n - w : 1;
	double max = 0, r;
	size_t o = 0;

	for (int i = first; i < h->n; i++)
		if ((r = hist_rate(h, i, out)) > max)
			max = r;
	buf[0] = '\0';
	for (int i = first; i < h->n; i++) {
		const char *b;
		size_t bl;

		r = hist_rate(h, i, out);
		b = bars[max > 0 ? (int)(r / max * 8 + 0.5) : 0];
		if (r > 0 && b == bars[0])
			b = bars[1];	/* something happened: show it */
		bl = strlen(b);
		if (o + bl + 1 > bufsz)
			break;
		memcpy(buf + o, b, bl);
		o += bl;
	}
	buf[o] = '\0';
}

int
panel_live_draw(const struct view *v, const struct snapshot *s, int y,
    int rows)
{
	char line[96], sp[HIST_MAX * 3 + 1];
	int w = COLS - 28 > 60 ? 60 : COLS - 28;

	if (!s->live.ok || rows < 3)
		return 0;
	attron(A_BOLD);
	view_put(y, 0, "Throughput", COLS);
	attroff(A_BOLD);
	for (int out = 0; out < 2; out++) {
		double now = s->hist.n >= 2 ?
		    hist_rate(&s->hist, s->hist.n - 1, out) : 0;

		snprintf(line, sizeof(line), "  %-3s %9.1f msg/s  ",
		    out ? "out" : "in", now);
		view_put(y + 1 + out, 0, line, COLS);
		if (w > 0) {
			spark(s, out, w, sp, sizeof(sp));
			attron(view_attr(v, LEVEL_GOOD));
			view_put(y + 1 + out, (int)strlen(line), sp,
			    COLS - (int)strlen(line));
			attroff(view_attr(v, LEVEL_GOOD));
		}
	}
	return 3;
}
