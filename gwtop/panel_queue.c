/*
 * panel_queue.c - queue depth from queue.db: recipients ready and
 * deferred, messages, the oldest message's age.
 * Diagnostics: never dies; without queue.db the panel shows its error.
 */
#include <curses.h>
#include <stdio.h>

#include "view.h"

int
panel_queue_draw(const struct view *v, const struct snapshot *s, int y,
    int rows)
{
	char line[256], age[32];

	if (rows < 1)
		return 0;
	attron(A_BOLD);
	view_put(y, 0, "Queue", COLS);
	attroff(A_BOLD);
	if (!s->queue_ok) {
		attron(view_attr(v, LEVEL_BAD));
		view_put(y, 10, "retrying:", COLS - 10);
		view_put(y, 20, s->queue_err, COLS - 20);
		attroff(view_attr(v, LEVEL_BAD));
		return 1;
	}
	view_duration(s->oldest_age_s, age, sizeof(age));
	snprintf(line, sizeof(line), "%lld recipients: %lld ready, %lld "
	    "deferred   %lld messages   oldest %s",
	    (long long)s->rcpt_total, (long long)s->rcpt_ready,
	    (long long)s->rcpt_deferred, (long long)s->messages,
	    s->messages ? age : "-");
	view_put(y, 10, line, COLS - 10);
	return 1;
}
