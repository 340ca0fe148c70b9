/*
 * mta_result.c - the delivery client's results, one per recipient of a
 * job: the remote server's reply (for the log with who said it, and as
 * it was said for a DSN's Diagnostic-Code, RFC 3464 2.3.6), or ours
 * when the job could not go (mta_session.c decides which).
 * Standards: RFC 3464 2.3.6 (Diagnostic-Code).
 * Exposure: copies replies of remote servers that may be hostile,
 * already parsed and bounded by reply.c; multi-line text is put on one
 * line.
 * Diagnostics: dies only when memory for a result runs out.
 */
#include <stdio.h>
#include <stdlib.h>

#include "mta_priv.h"
#include "util.h"

void
mta_result_set(struct job *j, int i, int code, const char *status,
    const char *text)
{
	free(j->res[i].text);
	free(j->res[i].reply);
	j->res[i].reply = NULL;
	j->res[i].code = code;
	gw_strlcpy(j->res[i].status, status ? status : "",
	    sizeof(j->res[i].status));
	j->res[i].text = xstrdup(text ? text : "");
}

/* Multi-line text reads better on one line in logs and DSNs. */
static void
one_line(char *s)
{
	for (; *s; s++)
		if (*s == '\n')
			*s = ' ';
}

/* The result is the remote's reply: for the log with who said it, and
 * as it was said for the DSN's Diagnostic-Code (RFC 3464 2.3.6). */
void
mta_result_from_reply(struct job *j, int i, const struct smtp_reply *r)
{
	char text[REPLY_TEXT_MAX + 300];

	snprintf(text, sizeof(text), "%s said: %s", j->hop.host, r->text);
	one_line(text);
	mta_result_set(j, i, r->code, r->status, text);
	j->res[i].reply = xasprintf("%d%s%s %s", r->code, r->status[0] ?
	    " " : "", r->status, r->text);
	one_line(j->res[i].reply);
}

/* Every recipient the server accepted gets this reply as its result. */
void
mta_result_accepted(struct mta *m, const struct smtp_reply *r)
{
	for (int i = 0; i < m->job->nrcpt; i++)
		if (m->accepted[i])
			mta_result_from_reply(m->job, i, r);
}

/* Every recipient still without a result gets this one. */
void
mta_result_fill(struct job *j, int code, const char *status, const char *text)
{
	for (int i = 0; i < j->nrcpt; i++)
		if (j->res[i].code == -1)
			mta_result_set(j, i, code, status, text);
}
