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
	/* title, width, flex, numeric, min, drop, grouped, fit */
	{ "TIME", 8, 0, 1, 0, 0, 0, 0 },	/* sorted by ts: newest first */
	{ "ACTION", 11, 0, 0, 0, 0, 0, 0 },	/* "quarantined" */
	{ "QID", CTL_QID_LEN, 0, 0, 0, 1, 0, 0 },	/* whole, or none */
	{ "RECIPIENT", 0, 2, 0, 12, 2, 0, 20 },
	{ "RESULT", 0, 3, 0, 22, 0, 0, 0 },
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
	events_key, events_level_of, NULL, NULL,
};

int
panel_events_draw(const struct view *v, const struct snapshot *s, int y,
    int rows)
{
	if (rows < 2 || !s->log_ok)
		return 0;
	return table_draw(&events_table, v, s, &v->t[SCR_OVERVIEW], y, rows);
}

/*
 * The message's recipients still queued, each with its attempts, when
 * the next is due and its whole last reply (the columns show it cut);
 * in at most `rows` lines.  The lines used.
 */
static int
message_rcpts(const struct view *v, const struct snapshot *s, int y,
    int rows)
{
	char line[512], next[32];
	int used = 0;

	for (int i = 0; i < s->nlife_rcpt && used < rows; i++) {
		const struct life_rcpt *r = &s->life_rcpt[i];
		int64_t in = r->next_attempt - s->now_us / 1000000;

		view_duration(in > 0 ? in : 0, next, sizeof(next));
		snprintf(line, sizeof(line), "%s: %lld attempt%s, next in %s",
		    r->address, (long long)r->attempts,
		    r->attempts == 1 ? "" : "s", next);
		view_put(y + used++, 2, line, COLS - 2);
		if (r->last_reply[0] == '\0')
			continue;
		attron(view_attr(v, LEVEL_WARN));
		used += view_wrap(y + used, 4, r->last_reply, COLS - 4,
		    rows - used);
		attroff(view_attr(v, LEVEL_WARN));
	}
	if (s->life_queued > s->nlife_rcpt && used < rows) {
		snprintf(line, sizeof(line), "and %d more recipients",
		    s->life_queued - s->nlife_rcpt);
		view_put(y + used++, 2, line, COLS - 2);
	}
	return used;
}

/* Enter on a queued message: its recipients still queued with their
 * last reply, then what happened to it so far, oldest first. */
int
panel_message_draw(const struct view *v, const struct snapshot *s, int y,
    int rows)
{
	char line[160];
	int used = 0;

	if (rows < 2)
		return 0;
	snprintf(line, sizeof(line), "Message %s: %d events, %d recipients "
	    "queued   (Esc: back to the queue)", s->life_qid, s->nlife,
	    s->life_queued);
	view_title(y, line);
	/* The replies take at most half the screen; the events the rest. */
	if (s->queue_ok)
		used = message_rcpts(v, s, y + 1, (rows - 1) / 2);
	if (!s->log_ok) {
		attron(view_attr(v, LEVEL_BAD));
		view_put(y + 1 + used, 0, s->log_err, COLS);
		attroff(view_attr(v, LEVEL_BAD));
		return 2 + used;
	}
	return 1 + used + table_draw(&events_table, v, s, &v->t[SCR_MESSAGE],
	    y + 1 + used, rows - 1 - used);
}
