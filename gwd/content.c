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
 * memory for Hyperscan's scratch) is a 451 to the client.  rspamd that
 * does not answer within content.rspamd.timeout lets the message go or
 * defers it (content.rspamd.fail), logged at most once a minute with
 * the count of the failures not logged; for content.rspamd.retry after
 * a failure it is not asked, the messages meanwhile treated the same.
 *
 * Besides the policies of gw.db, a job may check the message with
 * rspamd (rspamd.c) and the "uribl" detector looks its URLs up
 * (uribl.c); the strongest verdict wins: block, defer, quarantine, tag.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "content.h"
#include "cpolicy.h"
#include "gwd.h"
#include "log.h"
#include "mime_walk.h"
#include "redact.h"
#include "rspamd.h"
#include "signer.h"
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
	if (pool == NULL) {
		rspamd_global_init();
		pool = worker_pool_new(CONTENT_THREADS, CONTENT_QUEUE_MAX);
	}
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
	const char *url = gcfg->content.rspamd.url;
	struct content_job *j;
	int any = 0;

	if (url && *url == '\0')
		url = NULL;
	for (int i = 0; current && i < current->set->n && !any; i++)
		any = cpol_applies(&current->set->p[i], &m);
	if ((!any && url == NULL) || current == NULL || pool == NULL)
		return NULL;
	j = xcalloc(1, sizeof(*j));
	j->policies = any;
	if (url) {
		j->rs_url = xstrdup(url);
		j->rs_timeout_ms = gcfg->content.rspamd.timeout_ms;
		j->rs_fail = gcfg->content.rspamd.fail;
		j->rs_max_size = gcfg->content.rspamd.max_size;
		j->rs_retry_ms = gcfg->content.rspamd.retry_ms;
		memcpy(j->rs_act, gcfg->content.rspamd.act, sizeof(j->rs_act));
	}
	uribl_job_init(&j->uj, gcfg);
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

void
content_job_client(struct content_job *j, const char *ip, const char *helo,
    const char *qid)
{
	j->ip = ip ? xstrdup(ip) : NULL;
	j->helo = helo ? xstrdup(helo) : NULL;
	j->qid = qid ? xstrdup(qid) : NULL;
}

static pthread_mutex_t	rspamd_mtx = PTHREAD_MUTEX_INITIALIZER;
static int64_t		rspamd_rest_until;	/* monotonic ms */

/* rspamd failed a moment ago (content.rspamd.retry): not asked yet, so
 * a dead or hung rspamd costs each message nothing, not a timeout, and
 * the scan queue does not fill behind it. */
static int
rspamd_resting(void)
{
	int r;

	pthread_mutex_lock(&rspamd_mtx);
	r = mono_ms() < rspamd_rest_until;
	pthread_mutex_unlock(&rspamd_mtx);
	return r;
}

/* rspamd did not answer: logged at most once a minute (from any
 * worker), with how many such failures went unlogged. */
static void
rspamd_down(const struct content_job *j, const char *why)
{
	static int64_t last;
	static int quiet;
	int64_t now = mono_ms();
	int n = -1;

	pthread_mutex_lock(&rspamd_mtx);
	rspamd_rest_until = now + j->rs_retry_ms;
	if (last == 0 || now - last >= 60000) {
		n = quiet;
		quiet = 0;
		last = now;
	} else
		quiet++;
	pthread_mutex_unlock(&rspamd_mtx);
	if (n >= 0)
		log_warnx("qid=%s rspamd %s: %s; failing %s (content.rspamd."
		    "fail)%s%.0d%s", j->qid ? j->qid : "-", j->rs_url, why,
		    j->rs_fail == CFAIL_CLOSED ? "closed: 451" : "open",
		    n ? ", and " : "", n, n ? " more since the last report" :
		    "");
}

/* rspamd's verdict on the message (enum spam_act), its part of the
 * detail appended to b. */
static int
rspamd_verdict(struct content_job *j, struct buf *b)
{
	struct rspamd_req q = { j->rs_url, j->rs_timeout_ms, j->sender,
	    j->rcpt, j->nrcpt, j->ip, j->helo, j->subaccount, j->qid };
	struct rspamd_reply r;
	char why[300];

	if (j->rs_url == NULL)
		return SPAM_IGNORE;
	if (j->len > j->rs_max_size) {
		buf_puts(b, " rspamd=skipped(size)");
		return SPAM_IGNORE;
	}
	if (rspamd_resting()) {
		buf_printf(b, " rspamd=unavailable(fail-%s)",
		    j->rs_fail == CFAIL_CLOSED ? "closed" : "open");
		return j->rs_fail == CFAIL_CLOSED ? SPAM_DEFER : SPAM_IGNORE;
	}
	if (rspamd_check(&q, j->msg, j->len, &r, why, sizeof(why)) == -1) {
		rspamd_down(j, why);
		buf_printf(b, " rspamd=unavailable(fail-%s)",
		    j->rs_fail == CFAIL_CLOSED ? "closed" : "open");
		return j->rs_fail == CFAIL_CLOSED ? SPAM_DEFER : SPAM_IGNORE;
	}
	for (char *p = r.action_name; *p; p++)
		if (*p == '_')
			*p = '-';
	buf_printf(b, " rspamd=%s score=%.2f/%.2f symbols=%s",
	    r.action < 0 ? "no-action" : r.action_name, r.score, r.required,
	    r.symbols[0] ? r.symbols : "-");
	return r.action < 0 ? SPAM_IGNORE : j->rs_act[r.action];
}

/* "fired=a(block) counts=..." with "rspamd(ACT)" among the fired, so
 * gwsearch policy:rspamd finds what rspamd acted on. */
static char *
with_rspamd(char *detail, int act)
{
	const char *c = strstr(detail, " counts=");
	size_t at = c ? (size_t)(c - detail) : strlen(detail);
	char *d;

	if (act == SPAM_IGNORE)
		return detail;
	d = xasprintf("%.*s%srspamd(%s)%s", (int)at, detail, at > 6 ? " " :
	    "", spam_act_name(act), detail + at);
	free(detail);
	return d;
}

/* The policies' decision with rspamd's (act): the strongest wins. */
static void
decide(struct content_job *j, const struct cpol_set *s,
    const struct cpol_verdict *v, int act)
{
	struct buf b;

	if (v->block >= 0)
		j->block = xstrdup(s->p[v->block].name);
	else if (act == SPAM_BLOCK)
		j->block = xstrdup("rspamd");
	else if (act == SPAM_DEFER)
		j->defer = xstrdup(strstr(j->detail, "rspamd=unavailable") ?
		    "451 4.7.1 Error: spam scanner unavailable; try again "
		    "later" : "451 4.7.1 Try again later (rspamd soft "
		    "reject)");
	else if (v->quarantine >= 0)
		j->quarantine = xasprintf("%s (%s)", s->p[v->quarantine].name,
		    s->p[v->quarantine].detector);
	else if (act == SPAM_QUARANTINE)
		j->quarantine = xstrdup("rspamd (spam)");
	if (v->ntag == 0 && act != SPAM_TAG)
		return;
	buf_init(&b, 0);
	for (int i = 0; i < s->n; i++)
		if (v->fired[i] && s->p[i].action == CPOL_TAG)
			buf_printf(&b, "%s%s", buf_len(&b) ? ", " : "",
			    s->p[i].name);
	if (act == SPAM_TAG)
		buf_printf(&b, "%srspamd", buf_len(&b) ? ", " : "");
	j->tag = buf_steal(&b, NULL);
}

/* On the worker: walk, scan, look URLs up, ask rspamd, decide; the
 * names and the masked detail are made here too, so the loop only reads
 * them. */
static void
content_work(struct work *w)
{
	struct content_job *j = (struct content_job *)w;
	const struct cpol_set *s = j->set->set;
	struct cpol_msg m = { j->subaccount, j->sender,
	    (const char *const *)j->rcpt, j->nrcpt };
	struct cpol_verdict v;
	struct buf b;
	int act;

	if (cpol_scan_urls(s, j->msg, j->len, &m, uribl_count, &j->uj, &v,
	    j->err, sizeof(j->err)) == -1) {
		j->failed = 1;
		cpol_verdict_free(&v);
		return;
	}
	buf_init(&b, 0);
	cpol_describe(s, &v, &b);
	if (buf_len(&j->uj.flagged))
		buf_printf(&b, " urls=%s", buf_cstr(&j->uj.flagged));
	if (j->uj.unanswered)
		buf_printf(&b, " uribl_unanswered=%d", j->uj.unanswered);
	act = rspamd_verdict(j, &b);
	j->detail = with_rspamd(buf_steal(&b, NULL), act);
	decide(j, s, &v, act);
	/* A deferred message comes back: redacted and told of then. */
	if (j->defer == NULL) {
		if (j->block == NULL && v.nredact > 0)
			content_redact(j, &v);
		content_notices(j, &v);
	}
	if (j->nredacted > 0) {
		char *d = xasprintf("%s redacted=%d", j->detail, j->nredacted);

		free(j->detail);
		j->detail = d;
	}
	cpol_verdict_free(&v);
	/* The message goes on as it came: its signature's hashing here,
	 * not in a second hop. */
	if (j->sign && j->block == NULL && j->defer == NULL && j->tag ==
	    NULL && j->redacted == NULL && j->nnotify == 0 && !j->admin) {
		signer_prepare(j->sign, j->msg, j->len, now_us() / 1000000);
		j->presigned = 1;
	}
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
	free(j->ip);
	free(j->helo);
	free(j->qid);
	free(j->rs_url);
	uribl_job_free(&j->uj);
	free(j->block);
	free(j->defer);
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
