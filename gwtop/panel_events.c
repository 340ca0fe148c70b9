/*
 * panel_events.c - the most recent events in log.db, newest first, as
 * many as fit.
 */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "view.h"

#define X_ACTION	9
#define X_QID		19
#define X_RCPT		34

/* Final failures stand out; retries are a warning. */
static enum level
panel_events_level(const char *action)
{
	if (strcmp(action, "bounced") == 0 || strcmp(action, "expired") == 0 ||
	    strcmp(action, "rejected") == 0)
		return LEVEL_BAD;
	if (strcmp(action, "deferred") == 0)
		return LEVEL_WARN;
	if (strcmp(action, "delivered") == 0)
		return LEVEL_GOOD;
	return LEVEL_NONE;
}

int
panel_events_draw(const struct view *v, const struct snapshot *s, int y,
    int rows)
{
	int wr = (COLS - X_RCPT) * 2 / 5, n, attr;
	char t[40];

	if (rows < 2 || !s->log_ok)
		return 0;
	attron(A_BOLD);
	mvhline(y, 0, ' ', COLS);
	view_put(y, 0, "TIME", COLS);
	view_put(y, X_ACTION, "ACTION", COLS - X_ACTION);
	view_put(y, X_QID, "QID", COLS - X_QID);
	view_put(y, X_RCPT, "RECIPIENT", wr);
	view_put(y, X_RCPT + wr + 1, "RESULT", COLS - X_RCPT - wr - 1);
	attroff(A_BOLD);
	n = s->nrecent < rows - 1 ? s->nrecent : rows - 1;
	for (int i = 0; i < n; i++) {
		const struct recent *r = &s->recent[i];
		int row = y + 1 + i;

		fmt_rfc3339(r->ts, t, sizeof(t));
		t[19] = '\0';
		view_put(row, 0, t + 11, 8);
		attr = view_attr(v, panel_events_level(r->action));
		attron(attr);
		view_put(row, X_ACTION, r->action, X_QID - X_ACTION - 1);
		attroff(attr);
		view_put(row, X_QID, r->qid[0] ? r->qid : "-",
		    X_RCPT - X_QID - 1);
		view_put(row, X_RCPT, r->rcpt[0] ? r->rcpt : "-", wr);
		view_put(row, X_RCPT + wr + 1, r->result,
		    COLS - X_RCPT - wr - 1);
	}
	return 1 + n;
}
