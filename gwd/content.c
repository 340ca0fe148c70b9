/*
 * content.c - content policies in gwd: the loaded set, reference
 * counted, and scans on a pool of their own.
 * Exposure: scans untrusted messages on a worker thread; mime_walk.c and
 * dlp.c bound time and memory.  A pool of CONTENT_THREADS with at most
 * CONTENT_QUEUE_MAX scans waiting: a flood of large messages waits for
 * itself, never for the signing of mail already accepted, and past the
 * bound new messages get 451 rather than a growing queue.
 * Diagnostics: a gw.db whose policies cannot be read or compiled keeps
 * the previous set (logged, once per reason); a scan that fails (no
 * memory for Hyperscan's scratch) is a 451 to the client.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "content.h"
#include "cpolicy.h"
#include "log.h"
#include "mime_walk.h"
#include "redact.h"
#include "util.h"

#define CONTENT_THREADS		2
#define CONTENT_QUEUE_MAX	64

struct content_set {
	struct cpol_set	*set;
	int		 refs;		/* the current one's, and each job's */
};

static struct content_set	*current;
static struct worker_pool	*pool;

static void
set_unref(struct content_set *cs)
{
	if (cs && --cs->refs == 0) {
		cpol_set_free(cs->set);
		free(cs);
	}
}

int
content_load(sqlite3 *db)
{
	static char failed[300];
	struct content_set *cs;
	struct cpol_set *s;
	char err[300];

	if (cpol_load(db, &s, err, sizeof(err)) == -1) {
		if (strcmp(err, failed) != 0)
			log_warnx("gw.db: cannot load the content policies, "
			    "keeping the previous ones: %s", err);
		gw_strlcpy(failed, err, sizeof(failed));
		return -1;
	}
	failed[0] = '\0';
	cs = xcalloc(1, sizeof(*cs));
	cs->set = s;
	cs->refs = 1;
	if (current == NULL || current->set->n != s->n)
		log_info("content policies loaded: %d", s->n);
	set_unref(current);
	current = cs;
	if (pool == NULL)
		pool = worker_pool_new(CONTENT_THREADS, CONTENT_QUEUE_MAX);
	return s->n;
}

int
content_count(void)
{
	return current ? current->set->n : 0;
}

struct content_job *
content_plan(const char *subaccount, const char *sender, char *const *rcpt,
    int nrcpt)
{
	struct cpol_msg m = { subaccount, sender, (const char *const *)rcpt,
	    nrcpt };
	struct content_job *j;
	int any = 0;

	for (int i = 0; current && i < current->set->n && !any; i++)
		any = cpol_applies(&current->set->p[i], &m);
	if (!any)
		return NULL;
	j = xcalloc(1, sizeof(*j));
	j->set = current;
	current->refs++;
	j->subaccount = subaccount ? xstrdup(subaccount) : NULL;
	j->sender = xstrdup(sender ? sender : "");
	j->rcpt = xcalloc((size_t)nrcpt, sizeof(*j->rcpt));
	for (int i = 0; i < nrcpt; i++)
		j->rcpt[i] = xstrdup(rcpt[i]);
	j->nrcpt = nrcpt;
	return j;
}

/* The message with what redacting policies found replaced; a failure
 * (no memory for the scan) fails the job: never stored unredacted. */
static void
content_redact(struct content_job *j, const struct cpol_verdict *v)
{
	struct buf b;
	int n;

	buf_init(&b, 0);
	if ((n = cpol_redact(j->set->set, v, j->msg, j->len, &b, j->err,
	    sizeof(j->err))) == -1) {
		j->failed = 1;
		buf_free(&b);
		return;
	}
	j->nredacted = n;
	if (n > 0)
		j->redacted = buf_steal(&b, &j->redlen);
	buf_free(&b);
}

/* Whom to tell, and what (notify.h): the summary names policies and
 * counts, never a value; the subject is masked for every detector. */
static void
content_notices(struct content_job *j, const struct cpol_verdict *v)
{
	const struct cpol_set *s = j->set->set;
	struct buf b;
	int dup;

	j->notify = xcalloc((size_t)(s->n ? s->n : 1), sizeof(*j->notify));
	for (int i = 0; i < s->n; i++) {
		if (!v->fired[i] || s->p[i].notify == NULL)
			continue;
		dup = 0;
		for (int k = 0; k < j->nnotify && !dup; k++)
			dup = strcasecmp(j->notify[k], s->p[i].notify) == 0;
		if (!dup)
			j->notify[j->nnotify++] = xstrdup(s->p[i].notify);
	}
	j->admin = v->quarantine >= 0 && s->p[v->quarantine].notify == NULL;
	if (j->nnotify == 0 && !j->admin)
		return;
	buf_init(&b, 0);
	buf_puts(&b, "Policies that fired (detector, threshold, action):\r\n");
	for (int i = 0; i < s->n; i++)
		if (v->fired[i])
			buf_printf(&b, "  %s: %s, at least %d, %s\r\n",
			    s->p[i].name, s->p[i].detector, s->p[i].min,
			    cpol_action_name(s->p[i].action));
	buf_puts(&b, "Values found per detector:\r\n");
	for (int k = 0; k < s->nspecs; k++)
		buf_printf(&b, "  %s: %d\r\n", s->specs[k], v->res.c[k].count);
	/* A detector as the admin wrote it may hold anything: only the
	 * CRLF pairs written here stay. */
	for (char *p = buf_cstr(&b); *p; p++)
		if ((*p == '\r' && p[1] == '\n') || (*p == '\n' &&
		    p > buf_ptr(&b) && p[-1] == '\r'))
			continue;
		else if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	j->summary = buf_steal(&b, NULL);
	if (j->subject) {
		char *raw = j->subject;

		j->subject = mime_header_text(raw);
		free(raw);
	}
	if (j->subject && redact_string(s->db, NULL, 1, j->subject,
	    strlen(j->subject), j->err, sizeof(j->err)) == -1) {
		free(j->subject);
		j->subject = xstrdup("(not shown: it could not be scanned)");
	}
}

/* On the worker: walk, scan, decide; the names and the masked detail
 * are made here too, so the loop only reads them. */
static void
content_work(struct work *w)
{
	struct content_job *j = (struct content_job *)w;
	const struct cpol_set *s = j->set->set;
	struct cpol_msg m = { j->subaccount, j->sender,
	    (const char *const *)j->rcpt, j->nrcpt };
	struct cpol_verdict v;
	struct buf b;

	if (cpol_scan(s, j->msg, j->len, &m, &v, j->err, sizeof(j->err)) ==
	    -1) {
		j->failed = 1;
		cpol_verdict_free(&v);
		return;
	}
	if (v.block >= 0)
		j->block = xstrdup(s->p[v.block].name);
	else if (v.quarantine >= 0)
		j->quarantine = xasprintf("%s (%s)", s->p[v.quarantine].name,
		    s->p[v.quarantine].detector);
	if (v.block < 0 && v.nredact > 0)
		content_redact(j, &v);
	content_notices(j, &v);
	if (v.ntag > 0) {
		buf_init(&b, 0);
		for (int i = 0; i < s->n; i++)
			if (v.fired[i] && s->p[i].action == CPOL_TAG)
				buf_printf(&b, "%s%s", buf_len(&b) ? ", " : "",
				    s->p[i].name);
		j->tag = buf_steal(&b, NULL);
	}
	buf_init(&b, 0);
	cpol_describe(s, &v, &b);
	if (j->nredacted > 0)
		buf_printf(&b, " redacted=%d", j->nredacted);
	j->detail = buf_steal(&b, NULL);
	cpol_verdict_free(&v);
}

static void
content_done(struct work *w)
{
	struct content_job *j = (struct content_job *)w;

	j->done(j);
}

int
content_run(struct content_job *j, const char *msg, size_t len)
{
	j->msg = msg;
	j->len = len;
	j->w.run = content_work;
	j->w.done = content_done;
	return worker_pool_submit(pool, &j->w);
}

void
content_job_free(struct content_job *j)
{
	set_unref(j->set);
	free(j->subaccount);
	free(j->sender);
	for (int i = 0; i < j->nrcpt; i++)
		free(j->rcpt[i]);
	free(j->rcpt);
	free(j->block);
	free(j->quarantine);
	free(j->tag);
	free(j->redacted);
	for (int i = 0; i < j->nnotify; i++)
		free(j->notify[i]);
	free(j->notify);
	free(j->summary);
	free(j->subject);
	free(j->detail);
	free(j);
}
