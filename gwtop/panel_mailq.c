/*
 * panel_mailq.c - the queue as mailq lists it, from queue.db: each
 * message with its age, size, pending recipients, the most attempts of
 * any, when the next is due, and the last reply.  Up and down choose
 * one; Enter shows its lifecycle (panel_events.c).
 * Diagnostics: never dies; without queue.db the panel shows its error.
 */
#include <curses.h>
#include <stdio.h>

#include "util.h"
#include "view.h"

enum { C_QID, C_AGE, C_SIZE, C_RCPTS, C_TRIES, C_NEXT, C_SENDER, C_RCPT,
    C_REPLY };

/* On 80 columns SENDER and SIZE give way to the recipient and the
 * reason it waits. */
static const struct table_col cols[] = {
	/* title, width, flex, numeric, min, drop, grouped, fit */
	{ "QID", CTL_QID_LEN, 0, 0, 0, 0, 0, 0 },
	{ "AGE", 6, 0, 1, 0, 0, 0, 0 },
	{ "SIZE", 7, 0, 1, 0, 2, 0, 0 },
	{ "RCPT", 4, 0, 1, 0, 0, 0, 0 },
	{ "TRY", 3, 0, 1, 0, 0, 0, 0 },
	{ "NEXT", 6, 0, 1, 0, 1, 0, 0 },
	{ "SENDER", 0, 2, 0, 16, 3, 0, 0 },
	{ "RECIPIENT", 0, 2, 0, 14, 0, 0, 30 },
	{ "LAST REPLY", 0, 3, 0, 24, 0, 0, 0 },
};

static int
mailq_rows(const struct view *v, const struct snapshot *s)
{
	return s->nqmsg;
}

static int64_t
mailq_next(const struct snapshot *s, const struct qmsg *q)
{
	int64_t in = q->next_attempt - s->now_us / 1000000;

	return in > 0 ? in : 0;
}

static double
mailq_key(const struct view *v, const struct snapshot *s, int row, int col)
{
	const struct qmsg *q = &s->qmsg[row];

	switch (col) {
	case C_AGE:
		return (double)(s->now_us - q->received_us) / 1e6;
	case C_SIZE:
		return (double)q->size;
	case C_RCPTS:
		return (double)q->nrcpt;
	case C_TRIES:
		return (double)q->attempts;
	default:
		return (double)mailq_next(s, q);
	}
}

static void
mailq_cell(const struct view *v, const struct snapshot *s, int row, int col,
    char *out, size_t n)
{
	const struct qmsg *q = &s->qmsg[row];

	switch (col) {
	case C_QID:
		snprintf(out, n, "%s", q->qid);
		break;
	case C_AGE:
		view_duration((int64_t)mailq_key(v, s, row, col), out, n);
		break;
	case C_NEXT:
		view_duration(mailq_next(s, q), out, n);
		break;
	case C_SENDER:
		snprintf(out, n, "%s", q->sender[0] ? q->sender : "<>");
		break;
	case C_RCPT:
		snprintf(out, n, "%s%s", q->rcpt, q->nrcpt > 1 ? " ..." : "");
		break;
	case C_REPLY:
		reply_brief(q->last_reply[0] ? q->last_reply : "-", out, n);
		break;
	default:
		snprintf(out, n, "%.0f", mailq_key(v, s, row, col));
	}
}

static enum level
mailq_level(const struct view *v, const struct snapshot *s, int row)
{
	return s->qmsg[row].attempts > 0 ? LEVEL_WARN : LEVEL_NONE;
}

const struct table mailq_table = {
	cols, nitems(cols), 1, C_QID, mailq_rows, mailq_cell, mailq_key,
	mailq_level, NULL, NULL,
};

int
panel_mailq_draw(const struct view *v, const struct snapshot *s, int y,
    int rows)
{
	char line[128];

	snprintf(line, sizeof(line), "Queue: %lld messages (the %d oldest "
	    "listed)   Enter: lifecycle", (long long)s->messages, QMSG_MAX);
	return table_panel(v, s, SCR_QUEUE, y, rows, line,
	    s->queue_ok ? NULL : s->queue_err);
}
