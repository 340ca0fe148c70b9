/*
 * logfill.c - build a large log.db with gwd's own event writer
 * (gwd/auditlog.c), for bench/search.
 *
 *   logfill STATE_DIR EVENTS [DAYS]
 *
 * Messages of 1 to 3 recipients, each with the events gwd writes:
 * received, signed, and one attempt per recipient (mostly delivered,
 * some deferred then delivered, some bounced), spread evenly over the
 * last DAYS days (default 20, inside the default retention).  Names
 * are derived from the message number n, so a benchmark can ask for
 * ones that exist: sender app<n%1000>@sender<n%50>.test, recipients
 * user<k>@dom<k%5000>.test with k = (n*7919+i) % 1000000, Message-ID
 * <m<n>@bench.test>, queue id Q<n as 15 digits>, subaccount
 * sub<n%40>, named on the reception and on each attempt as gwd does
 * (outcome.c).  DAYS 1 is one busy day (bench/logday).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "auditlog.h"
#include "db.h"
#include "event.h"
#include "log.h"
#include "util.h"

#define MERGE_PAGES	2000

static const char *const words[] = {
	"invoice", "order", "shipped", "password", "reset", "welcome",
	"report", "weekly", "receipt", "account", "update", "security",
	"alert", "meeting", "reminder", "newsletter", "offer", "delivery",
	"confirm", "statement",
};

int
main(int argc, char **argv)
{
	struct auditlog al;
	struct audit_event ev;
	char err[512], qid[32], mid[64], from[64], subj[128], rcpt[3][64];
	char reply[256], sub[32], *rc[3];
	const char *state;
	int64_t target, written = 0, n, now, span, t;
	int days, nr;
	sqlite3 *db;
	double t0;

	if (argc < 3) {
		fprintf(stderr, "usage: logfill STATE_DIR EVENTS [DAYS]\n");
		return 64;
	}
	state = argv[1];
	target = strtoll(argv[2], NULL, 10);
	days = argc > 3 ? atoi(argv[3]) : 20;
	log_init("logfill", LOG_DEST_STDERR, 0);
	if (mkdir_p(state, 0750) == -1 ||
	    (db = db_open(state, DB_LOG, DB_NOSYNC, err, sizeof(err))) == NULL) {
		fprintf(stderr, "logfill: %s\n", err);
		return 1;
	}
	auditlog_open(&al, db);
	now = now_us();
	span = (int64_t)days * 86400 * 1000000;
	t0 = (double)now_us();
	for (n = 0; written < target; n++) {
		if (n % 20000 == 0) {
			if (n > 0 && (auditlog_flush(&al) == -1 ||
			    sqlite3_exec(db, "COMMIT", 0, 0, 0) != SQLITE_OK))
				fatalx("commit: %s", sqlite3_errmsg(db));
			/* What gwd's checkpointer does once a second. */
			if (n > 0 && auditlog_maintain(db, MERGE_PAGES) == -1)
				fatalx("merge: %s", sqlite3_errmsg(db));
			if (sqlite3_exec(db, "BEGIN", 0, 0, 0) != SQLITE_OK)
				fatalx("begin: %s", sqlite3_errmsg(db));
			if (n % 200000 == 0 && n > 0)
				fprintf(stderr, "logfill: %lld events\n",
				    (long long)written);
		}
		/* Message n arrives at t; estimate the count so the spread
		 * covers the whole span. */
		t = now - span + (int64_t)((double)span * (double)written /
		    (double)target);
		snprintf(qid, sizeof(qid), "Q%015lld", (long long)n);
		snprintf(mid, sizeof(mid), "<m%lld@bench.test>", (long long)n);
		snprintf(from, sizeof(from), "app%lld@sender%lld.test",
		    (long long)(n % 1000), (long long)(n % 50));
		snprintf(subj, sizeof(subj), "%s %s %lld",
		    words[n % 20], words[(n / 20) % 20], (long long)n);
		snprintf(sub, sizeof(sub), "sub%lld", (long long)(n % 40));
		nr = 1 + (int)(n % 3);
		for (int i = 0; i < nr; i++) {
			long k = (long)((n * 7919 + i) % 1000000);

			snprintf(rcpt[i], sizeof(rcpt[i]), "user%ld@dom%ld.test",
			    k, k % 5000);
			rc[i] = rcpt[i];
		}

		memset(&ev, 0, sizeof(ev));
		ev.size = ev.duration_ms = ev.tls_verified = -1;
		ev.ts = t;
		ev.qid = qid;
		ev.action = event_name(EV_RECEIVED);
		ev.subaccount = sub;
		ev.client_ip = "192.0.2.10";
		ev.sender = from;
		ev.recipient = rcpt[0];
		ev.message_id = mid;
		ev.subject = subj;
		ev.from_addr = from;
		ev.size = 4000 + n % 20000;
		ev.tls = "TLSv1.3 TLS_AES_256_GCM_SHA384";
		ev.rcpts = rc;
		ev.nrcpts = nr;
		if (auditlog_write(&al, &ev) == -1)
			fatalx("write: %s", sqlite3_errmsg(db));
		written++;

		memset(&ev, 0, sizeof(ev));
		ev.size = ev.duration_ms = ev.tls_verified = -1;
		ev.ts = t + 1000;
		ev.qid = qid;
		ev.action = event_name(EV_SIGNED);
		ev.sender = from;
		ev.detail = "d=sender.test s=2026r a=rsa-sha256";
		if (auditlog_write(&al, &ev) == -1)
			fatalx("write: %s", sqlite3_errmsg(db));
		written++;

		for (int i = 0; i < nr && written < target; i++) {
			int kind = n % 97 == 0 ? 2 : n % 13 == 0 ? 1 : 0;

			if (kind == 0)
				snprintf(reply, sizeof(reply), "250 2.0.0 Ok: "
				    "queued as %llX", (unsigned long long)n * 31);
			else if (kind == 1)
				snprintf(reply, sizeof(reply), "451 4.7.1 "
				    "Greylisted, try again later");
			else
				snprintf(reply, sizeof(reply), "550 5.1.1 <%s>: "
				    "Recipient address rejected: User unknown",
				    rcpt[i]);
			memset(&ev, 0, sizeof(ev));
			ev.size = -1;
			ev.tls_policy = "opportunistic";
			ev.tls_verified = 1;
			ev.ts = t + 200000 + i;
			ev.qid = qid;
			ev.action = event_name(kind == 0 ? EV_DELIVERED :
			    kind == 1 ? EV_DEFERRED : EV_BOUNCED);
			ev.subaccount = sub;
			ev.sender = from;
			ev.recipient = rcpt[i];
			ev.remote_host = "mx.example.net";
			ev.remote_ip = "198.51.100.25";
			ev.tls = "TLSv1.3";
			ev.reply_code = kind == 0 ? 250 : kind == 1 ? 451 : 550;
			ev.reply_status = kind == 0 ? "2.0.0" : kind == 1 ?
			    "4.7.1" : "5.1.1";
			ev.reply_text = reply;
			ev.bounce_class = kind == 0 ? NULL : kind == 1 ?
			    "soft" : "hard";
			ev.duration_ms = 120 + n % 400;
			if (auditlog_write(&al, &ev) == -1)
				fatalx("write: %s", sqlite3_errmsg(db));
			written++;
		}
	}
	if (auditlog_flush(&al) == -1 ||
	    sqlite3_exec(db, "COMMIT", 0, 0, 0) != SQLITE_OK)
		fatalx("commit: %s", sqlite3_errmsg(db));
	auditlog_close(&al);
	db_close(db);
	printf("events=%lld messages=%lld seconds=%.1f\n", (long long)written,
	    (long long)n, ((double)now_us() - t0) / 1e6);
	return 0;
}
