/*
 * panel_events.c - events from log.db as a table: the most recent
 * (overview), or one message's whole lifecycle (the message screen).
 * Diagnostics: never dies; without log.db the panel shows its error.
 */
#include <curses.h>
#include <stdio.h>

#include "event.h"
#include "util.h"
#include "view.h"

enum { C_TIME, C_ACTION, C_QID, C_RCPT, C_RESULT };

static const struct table_col cols[] = {
	{ "TIME", 8, 0, 1 },	/* sorted by ts: newest first */
	{ "ACTION", 9, 0, 0 },
	{ "QID", 14, 0, 0 },
	{ "RECIPIENT", 0, 2, 0 },
	{ "RESULT", 0, 3, 0 },
};

/* The action's colour (event.h): final failures stand out, retries
 * are a warning. */
static enum level
events_level(const char *action)
{
	static const enum level level[] = {
		[ET_PLAIN] = LEVEL_NONE, [ET_GOOD] = LEVEL_GOOD,
		[ET_WARN] = LEVEL_WARN, [ET_BAD] = LEVEL_BAD,
	};

	return level[event_kind(event_lookup(action))->tone];
}

static void
events_cell(const struct recent *r, int col, char *out, size_t n)
{
	char t[40];

	switch (col) {
	case C_TIME:
		fmt_rfc3339(r->ts, t, sizeof(t));
		t[19] = '\0';
		snprintf(out, n, "%s", t + 11);
		break;
	case C_ACTION:
		snprintf(out, n, "%s", r->action);
		break;
	case C_QID:
		snprintf(out, n, "%s", r->qid[0] ? r->qid : "-");
		break;
	case C_RCPT:
		snprintf(out, n, "%s", r->rcpt[0] ? r->rcpt : "-");
		break;
	default:
		snprintf(out, n, "%s", r->result);
	}
}

/* The message screen shows its message's events, the others the newest. */
static const struct recent *
events_row(const struct view *v, const struct snapshot *s, int row)
{
	return v->screen == SCR_MESSAGE ? &s->life[row] : &s->recent[row];
}

static int
events_rows(const struct view *v, const struct snapshot *s)
{
	return v->screen == SCR_MESSAGE ? s->nlife : s->nrecent;
}

static void
events_cell_of(const struct view *v, const struct snapshot *s, int row,
    int col, char *out, size_t n)
{
	events_cell(events_row(v, s, row), col, out, n);
}

static double
events_key(const struct view *v, const struct snapshot *s, int row, int col)
{
	return (double)events_row(v, s, row)->ts;
}

static enum level
events_level_of(const struct view *v, const struct snapshot *s, int row)
{
	return events_level(events_row(v, s, row)->action);
}

const struct table events_table = {
	cols, nitems(cols), 0, C_ACTION, events_rows, events_cell_of,
	events_key, events_level_of, NULL,
};

int
panel_events_draw(const struct view *v, const struct snapshot *s, int y,
    int rows)
{
	if (rows < 2 || !s->log_ok)
		return 0;
	return table_draw(&events_table, v, s, &v->t[SCR_OVERVIEW], y, rows);
}

/* Enter on a queued message: what happened to it so far, oldest first. */
int
panel_message_draw(const struct view *v, const struct snapshot *s, int y,
    int rows)
{
	char line[128];

	snprintf(line, sizeof(line), "Message %s: %d events   (Esc: back to "
	    "the queue)", s->life_qid, s->nlife);
	return table_panel(v, s, SCR_MESSAGE, y, rows, line,
	    s->log_ok ? NULL : s->log_err);
}
