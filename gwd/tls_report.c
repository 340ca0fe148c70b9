/*
 * tls_report.c - SMTP TLS Reporting: the counts of tls_count.c
 * (queue.db, table tls_rpt) become reports.  Once a day, after UTC
 * midnight (and at start-up, for days a stopped gwd missed), each
 * domain's counts of the days before go out as an aggregate report: the
 * JSON of common/tlsrpt.c, gzipped, to the addresses of its _smtp._tls
 * TXT record: mailto: ones in a multipart/report mail (queue.h's
 * queue_notice_report(), DKIM-signed like a DSN), https: ones POSTed
 * (httpc's thread, the answer back on the loop: httpc.h).  A
 * day's rows of a domain go in the commit that queues its mail, or once
 * a POST was answered 2xx, or when the domain publishes no address; a
 * failed lookup, or no address reached, keeps them for the next run.
 * `gwctl tls-report send` runs it now.
 * Standards: RFC 8460 3 (the TXT record, the POST), 4 (the report), 5.3
 * (the mail: subject, TLS-Report-Domain, TLS-Report-Submitter, the
 * application/tlsrpt+gzip attachment and its file name), RFC 6522.
 * Exposure: the TXT record (dns_pkt.c, then tlsrpt_txt_rua()); MX names
 * and policies from remote servers go into the JSON escaped; a POST's
 * answer is only its status.
 * Diagnostics: nothing fatal; what is not sent is logged and stays.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "control_commit.h"
#include "conn.h"
#include "db.h"
#include "dns.h"
#include "gwd.h"
#include "httpc.h"
#include "log.h"
#include "loop.h"
#include "mtasts.h"
#include "queue.h"
#include "store.h"
#include "tls_report.h"
#include "tlsrpt.h"
#include "util.h"

#define DAY_S		86400
#define RPT_ROWS_MAX	10000	/* rows of one day read at once */
#define RPT_JSON_MAX	(4 << 20)

struct job;

struct dom {
	struct job	*job;
	struct dns_req	*dq;
	char		 domain[256];
	char		*sts_text;	/* the MTA-STS body kept, or NULL */
	struct tlsrpt_row *rows;
	int		 nrows;
	char		 rid[400];	/* report-id */
	char		 name[700];	/* the attachment's file name */
	unsigned char	*gz;		/* the report, gzipped */
	size_t		 gzlen;
	int		 parts;		/* deliveries under way */
	int		 reached;	/* deliveries that reached */
	int		 rows_gone;	/* a commit took its rows */
};

struct job {
	struct ctl_wait	*hold;		/* NULL: the daily run */
	struct buf	 out;
	int64_t		 day;
	int		 pending, sent, failed;
};

/* A POST under way. */
struct post {
	struct dom	*d;
	char		 url[TLSRPT_RUA_MAX];
};

static struct ev_timer	daily;

/* The report's organization-name. */
static const char *
rpt_org(void)
{
	return gcfg->tls_rpt.org_name ? gcfg->tls_rpt.org_name :
	    gcfg->hostname;
}

static char *
dupe(const char *s)
{
	return xstrdup(s != NULL ? s : "");
}

static void
dom_free(struct dom *d)
{
	for (int i = 0; i < d->nrows; i++) {
		free(d->rows[i].policy);
		free(d->rows[i].result);
		free(d->rows[i].sip);
		free(d->rows[i].mx);
		free(d->rows[i].rip);
	}
	free(d->rows);
	free(d->sts_text);
	free(d->gz);
	free(d);
}

static void
job_answer(struct job *j)
{
	buf_printf(&j->out, "sent %d\nfailed %d\n", j->sent, j->failed);
	if (j->hold != NULL)
		control_hold_answer(j->hold, &j->out);
	buf_free(&j->out);
	free(j);
}

/* One domain is done with: its line is in the job's answer. */
static void
dom_done(struct dom *d)
{
	struct job *j = d->job;

	dom_free(d);
	if (--j->pending == 0)
		job_answer(j);
}

static void
job_line(struct job *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
job_line(struct job *j, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_info("tls-report %s", line);
	buf_printf(&j->out, "%s\n", line);
}

static void	dom_stored(struct store_op *);

/* d's rows go (reported elsewhere, or no address to report them to). */
static void
dom_drop(struct dom *d)
{
	struct store_op *op = store_op_new();

	op->rpt_sent_domain = xstrdup(d->domain);
	op->rpt_sent_day = d->job->day;
	op->done = dom_stored;
	op->arg = d;
	store_submit(op);
}

/* One delivery of d's report (a mail queued, a POST answered) is over,
 * reached or not.  After the last: d's rows go when one reached and the
 * mail's commit did not take them already. */
static void
part_done(struct dom *d, int reached)
{
	d->reached += reached;
	if (--d->parts > 0)
		return;
	if (d->reached > 0 && !d->rows_gone)
		dom_drop(d);
	else
		dom_done(d);
}

static void
dom_stored(struct store_op *op)
{
	struct dom *d = op->arg;
	int mail = op->insert != NULL, ok = !op->failed;

	if (op->failed) {
		d->job->failed++;
		job_line(d->job, "domain %s %s: %s", d->domain, mail ?
		    "report not queued" : "counts not dropped", op->error);
	} else {
		d->rows_gone = 1;
		if (mail) {
			d->job->sent++;
			job_line(d->job, "domain %s queued as %s", d->domain,
			    op->insert->qid);
		}
	}
	queue_notice_stored(op);
	store_op_free(op);
	if (mail)
		part_done(d, ok);
	else
		dom_done(d);
}

/* d's report, gzipped, into d->gz; its id and file name into d.  0, or
 * -1 when it does not build. */
static int
dom_build(struct dom *d)
{
	struct tlsrpt_policy pol[2];
	struct tlsrpt_failure *fail = xcalloc((size_t)d->nrows + 1,
	    sizeof(*fail));
	struct mtasts_policy sts;
	const char *mx[MTASTS_MAX_MX];
	struct buf json;
	unsigned char rb[6];
	char rhex[13], contact[300];
	time_t start = (time_t)(d->job->day * DAY_S);
	int npol = tlsrpt_policies(d->domain, d->rows, d->nrows,
	    d->sts_text, pol, fail, &sts, mx), rc;

	random_bytes(rb, sizeof(rb));
	hex_encode(rb, sizeof(rb), rhex);
	snprintf(d->rid, sizeof(d->rid), "%lld.%s.%s@%s",
	    (long long)d->job->day, rhex, d->domain, gcfg->hostname);
	snprintf(d->name, sizeof(d->name), "%s!%s!%lld!%lld!%s.json.gz",
	    gcfg->hostname, d->domain, (long long)start,
	    (long long)(start + DAY_S), rhex);
	if (gcfg->tls_rpt.contact)
		gw_strlcpy(contact, gcfg->tls_rpt.contact, sizeof(contact));
	else
		snprintf(contact, sizeof(contact), "postmaster@%s",
		    gcfg->hostname);
	buf_init(&json, RPT_JSON_MAX);
	rc = tlsrpt_json(&json, &(struct tlsrpt_report){ rpt_org(), contact,
	    d->rid, start, start + DAY_S, pol, npol });
	if (rc == 0)
		rc = tlsrpt_gzip(buf_ptr(&json), buf_len(&json), &d->gz,
		    &d->gzlen);
	buf_free(&json);
	free(fail);
	return rc;
}

/* Queue d's report to the nto addresses to; its commit takes d's rows. */
static void
dom_mail(struct dom *d, char **to, int nto)
{
	struct store_op *op;
	char from[300], subject[800], hdr[700], text[900], day[16];
	time_t start = (time_t)(d->job->day * DAY_S);
	struct tm tm;

	snprintf(from, sizeof(from), "tlsrpt-noreply@%s", gcfg->hostname);
	snprintf(subject, sizeof(subject), "Report Domain: %s Submitter: %s "
	    "Report-ID: <%s>", d->domain, gcfg->hostname, d->rid);
	snprintf(hdr, sizeof(hdr), "TLS-Report-Domain: %s\r\n"
	    "TLS-Report-Submitter: %s\r\n", d->domain, gcfg->hostname);
	gmtime_r(&start, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	snprintf(text, sizeof(text), "This is an aggregate TLS report (RFC "
	    "8460) from %s for the sessions to %s on %s (UTC).\n", rpt_org(),
	    d->domain, day);
	op = store_op_new();
	queue_notice_report(op, &(struct notice){ from, NULL, to, nto, NULL,
	    subject, text, "TLS-RPT report by gwd" },
	    &(struct notice_report){ "tlsrpt", hdr,
	    "application/tlsrpt+gzip", d->name, d->gz, d->gzlen });
	op->rpt_sent_domain = xstrdup(d->domain);
	op->rpt_sent_day = d->job->day;
	op->done = dom_stored;
	op->arg = d;
	queue_notice_submit(op, from);
}

/* A POST of p->d's report answered status (0: not at all, err says
 * why): one part of its delivery is done. */
static void
post_done(struct post *p, long status, const char *err)
{
	int ok = status >= 200 && status < 300;

	if (ok)
		p->d->job->sent++;
	else
		p->d->job->failed++;
	if (status == 0)
		job_line(p->d->job, "domain %s not posted to %s: %s",
		    p->d->domain, p->url, err);
	else
		job_line(p->d->job, "domain %s posted to %s: HTTP %ld",
		    p->d->domain, p->url, status);
	part_done(p->d, ok);
	free(p);
}

/* httpc's done(), on the loop. */
static void
on_posted(void *arg, const struct httpc_reply *hr)
{
	if (hr->stopping) {		/* gwd is stopping: nobody to tell */
		free(arg);
		return;
	}
	post_done(arg, hr->status, hr->error ? hr->error : "no reply");
}

/* POST d's report to url (RFC 8460 3: application/tlsrpt+gzip). */
static void
dom_post(struct dom *d, const char *url)
{
	static const char *const hdrs[] = {
		"Content-Type: application/tlsrpt+gzip", NULL };
	struct post *p = xcalloc(1, sizeof(*p));
	struct httpc_request rq;

	p->d = d;
	gw_strlcpy(p->url, url, sizeof(p->url));
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.url = url;
	rq.headers = hdrs;
	rq.body = d->gz;
	rq.body_len = d->gzlen;
	rq.timeout_ms = 60000;
	rq.ca_file = gcfg->tls_rpt.ca_file;
	rq.connect_to = gcfg->tls_rpt.connect_to;
	rq.done = on_posted;
	rq.arg = p;
	if (httpc_submit(&rq) == -1)
		post_done(p, 0, "cannot start the request");
}

static void
txt_cb(void *arg, enum dns_status st, const struct dns_answer *a,
    const char *why)
{
	struct dom *d = arg;
	char rua[TLSRPT_MAX_RUA][TLSRPT_RUA_MAX], *to[TLSRPT_MAX_RUA];
	const char *url[TLSRPT_MAX_RUA], *err;
	int n = -1, nto = 0, nurl = 0;

	d->dq = NULL;
	if (st == DNS_TEMPFAIL) {
		d->job->failed++;
		job_line(d->job, "domain %s not sent: _smtp._tls.%s: %s",
		    d->domain, d->domain, why ? why : dns_status_name(st));
		dom_done(d);
		return;
	}
	for (int i = 0; st == DNS_OK && i < a->ntxt && n < 0; i++)
		n = tlsrpt_txt_rua(a->txt[i], rua, &err);
	for (int i = 0; i < n; i++) {
		char *p = rua[i];

		if (strncasecmp(p, "https://", 8) == 0) {
			url[nurl++] = p;
			continue;
		}
		p += 7;				/* mailto: */
		p[strcspn(p, "?")] = '\0';
		if (strchr(p, '@') != NULL)
			to[nto++] = p;
	}
	if (nto == 0 && nurl == 0) {
		job_line(d->job, "domain %s: no report address at "
		    "_smtp._tls.%s, its counts dropped", d->domain, d->domain);
		dom_drop(d);
		return;
	}
	if (dom_build(d) == -1) {
		d->job->failed++;
		job_line(d->job, "domain %s not sent: the report does not "
		    "build (too large)", d->domain);
		dom_done(d);
		return;
	}
	d->parts = (nto > 0) + nurl;
	for (int i = 0; i < nurl; i++)
		dom_post(d, url[i]);
	if (nto > 0)
		dom_mail(d, to, nto);
}

/* The rows of day in queue.db, one dom per domain, into *out. */
static int
read_day(sqlite3 *db, int64_t day, struct job *j, struct dom ***out)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT domain, policy, result,"
	    " sending_ip, mx_host, receiving_ip, count FROM tls_rpt"
	    " WHERE day = ? ORDER BY domain LIMIT ?");
	sqlite3_stmt *pst = db_prepare(db, "SELECT policy FROM mta_sts"
	    " WHERE domain = ?");
	struct dom **v = NULL, *d = NULL;
	int nd = 0;

	sqlite3_bind_int64(st, 1, day);
	sqlite3_bind_int(st, 2, RPT_ROWS_MAX);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *dom = (const char *)sqlite3_column_text(st, 0);
		struct tlsrpt_row *r;

		if (dom == NULL)
			continue;
		if (d == NULL || strcmp(d->domain, dom) != 0) {
			d = xcalloc(1, sizeof(*d));
			d->job = j;
			gw_strlcpy(d->domain, dom, sizeof(d->domain));
			sqlite3_bind_text(pst, 1, dom, -1, SQLITE_TRANSIENT);
			if (sqlite3_step(pst) == SQLITE_ROW)
				d->sts_text = dupe((const char *)
				    sqlite3_column_text(pst, 0));
			sqlite3_reset(pst);
			v = xreallocarray(v, (size_t)nd + 1, sizeof(*v));
			v[nd++] = d;
		}
		d->rows = xreallocarray(d->rows, (size_t)d->nrows + 1,
		    sizeof(*d->rows));
		r = &d->rows[d->nrows++];
		r->policy = dupe((const char *)sqlite3_column_text(st, 1));
		r->result = dupe((const char *)sqlite3_column_text(st, 2));
		r->sip = dupe((const char *)sqlite3_column_text(st, 3));
		r->mx = dupe((const char *)sqlite3_column_text(st, 4));
		r->rip = dupe((const char *)sqlite3_column_text(st, 5));
		r->count = sqlite3_column_int64(st, 6);
	}
	sqlite3_finalize(st);
	sqlite3_finalize(pst);
	*out = v;
	return nd;
}

/* Send day's reports; hold (or NULL) gets the answer. */
static void
job_run(int64_t day, struct ctl_wait *hold)
{
	struct job *j = xcalloc(1, sizeof(*j));
	struct dom **v = NULL;
	char err[300], name[300];
	sqlite3 *db;
	int nd = 0;

	j->hold = hold;
	j->day = day;
	buf_init(&j->out, 1 << 20);
	if ((db = db_open(gcfg->state_dir, DB_QUEUE, DB_RDONLY, err,
	    sizeof(err))) == NULL) {
		j->failed++;
		job_line(j, "error queue.db: %s", err);
	} else {
		nd = read_day(db, day, j, &v);
		db_close(db);
	}
	if (nd == 0) {
		job_answer(j);
		return;
	}
	j->pending = nd;
	for (int i = 0; i < nd; i++) {
		snprintf(name, sizeof(name), "_smtp._tls.%s", v[i]->domain);
		v[i]->dq = dns_query(name, DNS_T_TXT, txt_cb, v[i]);
		if (v[i]->dq == NULL) {
			j->failed++;
			job_line(j, "domain %s not sent: cannot look up %s",
			    v[i]->domain, name);
			dom_done(v[i]);
		}
	}
	free(v);
}

/* Every day before today still in queue.db, then again after the next
 * midnight (and a few minutes, for the sessions ending then). */
static void
daily_cb(struct ev_timer *t)
{
	int64_t now = (int64_t)time(NULL), today = now / DAY_S;
	char err[300];
	sqlite3 *db;

	if (gcfg->tls_rpt.enable && (db = db_open(gcfg->state_dir, DB_QUEUE,
	    DB_RDONLY, err, sizeof(err))) != NULL) {
		sqlite3_stmt *st = db_prepare(db, "SELECT DISTINCT day FROM"
		    " tls_rpt WHERE day < ? ORDER BY day LIMIT 31");
		int64_t days[31];
		int n = 0;

		sqlite3_bind_int64(st, 1, today);
		while (n < 31 && sqlite3_step(st) == SQLITE_ROW)
			days[n++] = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		db_close(db);
		for (int i = 0; i < n; i++)
			job_run(days[i], NULL);
	}
	timer_add(t, ((today + 1) * DAY_S - now + 300) * 1000);
}

void
tls_report_start(void)
{
	timer_init(&daily, daily_cb, NULL);
	timer_add(&daily, 10 * 1000);
}

void
tls_report_control(struct conn *c, const char *args)
{
	int y, mo, dd, n = 0;
	int64_t day = (int64_t)time(NULL) / DAY_S;

	if (strcmp(args, "send") != 0) {
		struct tm tm;

		if (sscanf(args, "send %4d-%2d-%2d%n", &y, &mo, &dd, &n) !=
		    3 || args[n] != '\0' || mo < 1 || mo > 12 || dd < 1 ||
		    dd > 31) {
			conn_printf(c, "error usage: tls-report send "
			    "[YYYY-MM-DD]\n");
			conn_close_after_flush(c);
			return;
		}
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = dd;
		day = (int64_t)timegm(&tm) / DAY_S;
	}
	job_run(day, control_hold(c));
}
