/*
 * show.c - the whole life of one message, found by queue id (in either
 * case) or Message-ID: what was received, policy decisions, signatures, each
 * delivery attempt per recipient with the remote reply and TLS, and
 * where each recipient ended up.
 * Diagnostics: never dies (memory aside); an id that matches nothing is
 * 1 with a message, an unreadable log.db 69.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "buf.h"
#include "event.h"
#include "gwsearch.h"
#include "log.h"
#include "util.h"

/* Which part of the life an action belongs to (event.h). */
static enum event_phase
show_part(const char *action)
{
	return event_kind(event_lookup(action))->phase;
}

static void
show_field(const char *label, const char *v)
{
	struct buf b;

	if (v == NULL)
		return;
	buf_init(&b, 0);
	format_clean(&b, v);
	printf("  %-12s %s\n", label, buf_cstr(&b));
	buf_free(&b);
}

/*
 * "TLSv1.3 TLS_AES_256_GCM_SHA384  tls=verify verified",
 * "tls=opportunistic not verified (self-signed certificate)",
 * "tls=required (STARTTLS not offered)": the session, the policy, the
 * verdict on the certificate, and why it was not verified or not used.
 */
static void
show_tls(struct buf *b, const struct event *e)
{
	if (e->tls) {
		buf_puts(b, "  ");
		format_clean(b, e->tls);
	}
	if (e->tls_policy == NULL)
		return;
	buf_puts(b, "  tls=");
	format_clean(b, e->tls_policy);
	if (e->has_tls_verified)
		buf_puts(b, e->tls_verified ? " verified" : " not verified");
	if (e->tls_note) {
		buf_puts(b, " (");
		format_clean(b, e->tls_note);
		buf_putc(b, ')');
	}
}

/* "  RCPT" or "  RCPT (padded to 30) STATE", RCPT made safe for a terminal. */
static void
show_rcpt(const char *rcpt, const char *state)
{
	struct buf b;

	buf_init(&b, 0);
	format_clean(&b, rcpt);
	if (state)
		printf("  %-30s %s\n", buf_cstr(&b), state);
	else
		printf("  %s\n", buf_cstr(&b));
	buf_free(&b);
}

/* "  2026-...Z  action  peer [ip]  reply  tls  (N ms)" */
static void
show_event(const char *indent, const struct event *e)
{
	struct buf b;
	char t[40];

	buf_init(&b, 0);
	format_time(e->ts, t, sizeof(t));
	buf_printf(&b, "%s%s  %-9s", indent, t, e->action);
	if (e->remote_host || e->remote_ip || e->client_ip) {
		buf_puts(&b, "  ");
		format_clean(&b, e->remote_host ? e->remote_host :
		    e->remote_ip ? e->remote_ip : e->client_ip);
		if (e->remote_host && e->remote_ip) {
			buf_puts(&b, " [");
			format_clean(&b, e->remote_ip);
			buf_puts(&b, "]");
		}
	}
	if (e->has_reply_code)
		buf_printf(&b, "  %lld", (long long)e->reply_code);
	if (e->reply_status) {
		buf_putc(&b, ' ');
		format_clean(&b, e->reply_status);
	}
	if (e->reply_text) {
		buf_putc(&b, ' ');
		format_clean(&b, e->reply_text);
	}
	show_tls(&b, e);
	if (e->has_duration)
		buf_printf(&b, "  (%lld ms)", (long long)e->duration_ms);
	if (e->bounce_class) {
		buf_puts(&b, "  class=");
		format_clean(&b, e->bounce_class);
	}
	if (e->detail) {
		buf_puts(&b, "  ");
		format_clean(&b, e->detail);
	}
	printf("%s\n", buf_cstr(&b));
	buf_free(&b);
}

static const struct event *
show_received(const struct message *m)
{
	for (int i = 0; i < m->nev; i++)
		if (show_part(m->ev[i].action) == EP_RECEIVED)
			return &m->ev[i];
	return NULL;
}

static void
show_header(const struct message *m)
{
	const struct event *r = show_received(m);
	char size[24];

	printf("Message %s\n", m->ev[0].qid);
	show_field("Node:", format_node());
	if (r == NULL)
		return;
	show_field("Message-ID:", r->message_id);
	show_field("Sender:", r->sender ? (*r->sender ? r->sender : "<>") :
	    NULL);
	show_field("From:", r->from_addr);
	show_field("Subject:", r->subject);
	show_field("Subaccount:", r->subaccount);
	show_field("Recipients:", r->recipient);
	if (r->has_size) {
		snprintf(size, sizeof(size), "%lld bytes", (long long)r->size);
		show_field("Size:", size);
	}
}

static void
show_part_events(const struct message *m, enum event_phase p,
    const char *title)
{
	int first = 1;

	for (int i = 0; i < m->nev; i++) {
		if (show_part(m->ev[i].action) != p)
			continue;
		if (first)
			printf("%s\n", title);
		first = 0;
		show_event("  ", &m->ev[i]);
	}
}

/* Attempts grouped per recipient, in the order recipients first appear. */
static void
show_attempts(const struct message *m)
{
	char *done = xcalloc((size_t)m->nev + 1, 1);
	int title = 0;

	for (int i = 0; i < m->nev; i++) {
		const struct event *e = &m->ev[i];
		const char *rcpt = e->recipient ? e->recipient : "";
		int n = 0;

		if (done[i] || show_part(e->action) != EP_ATTEMPT)
			continue;
		if (!title++)
			printf("Attempts\n");
		show_rcpt(*rcpt ? rcpt : "(no recipient)", NULL);
		for (int j = i; j < m->nev; j++) {
			const struct event *f = &m->ev[j];
			char ind[32];

			if (done[j] || show_part(f->action) != EP_ATTEMPT ||
			    strcmp(f->recipient ? f->recipient : "", rcpt))
				continue;
			done[j] = 1;
			snprintf(ind, sizeof(ind), "    %d  ", ++n);
			show_event(ind, f);
		}
	}
	free(done);
}

/* Where each recipient ended: its last attempt, or still queued. */
static void
show_final(const struct message *m)
{
	const struct event *r = show_received(m);
	int any = 0;

	printf("Final state\n");
	/* Recipients in the order of their first attempt, each with its
	 * last one. */
	for (int i = 0; i < m->nev; i++) {
		const struct event *e = &m->ev[i], *last = e;
		const char *rcpt = e->recipient ? e->recipient : "";
		int seen = 0;

		if (show_part(e->action) != EP_ATTEMPT)
			continue;
		for (int j = 0; j < m->nev; j++) {
			const struct event *f = &m->ev[j];

			if (show_part(f->action) != EP_ATTEMPT ||
			    strcmp(f->recipient ? f->recipient : "", rcpt))
				continue;
			if (j < i)
				seen = 1;
			last = f;
		}
		if (seen)
			continue;
		any = 1;
		show_rcpt(*rcpt ? rcpt : "-", event_lookup(last->action) ==
		    EV_DEFERRED ? "deferred (still queued)" : last->action);
	}
	if (!any)
		printf("  %s\n", r ? "queued, no delivery attempt yet" :
		    "no delivery");
}

static void
show_message(const struct message *m)
{
	show_header(m);
	show_part_events(m, EP_RECEIVED, "Received");
	show_part_events(m, EP_POLICY, "Policy");
	show_part_events(m, EP_SIGNING, "DKIM");
	show_attempts(m);
	show_part_events(m, EP_OTHER, "Other events");
	show_final(m);
}

/*
 * A queue id as gwd writes it: 16 hex digits in upper case, however it
 * was typed (copied from a lower-cased log, or typed by hand); anything
 * else as it is.
 */
static void
show_qid(const char *id, char *out, size_t n)
{
	size_t len = strlen(id);

	snprintf(out, n, "%s", id);
	if (len != 16 || strspn(id, "0123456789abcdefABCDEF") != len)
		return;
	for (char *p = out; *p; p++)
		*p = (char)toupper((unsigned char)*p);
}

/* The queue ids for a queue id or a Message-ID (with or without <>). */
static int
show_find(sqlite3 *db, const char *id, struct match **m, int *n)
{
	char bare[FILTER_MAX + 1], br[FILTER_MAX + 8], qid[FILTER_MAX + 1];
	sqlite3_stmt *st;
	size_t len = strlen(id);
	int rc;

	if (len >= 2 && id[0] == '<' && id[len - 1] == '>')
		snprintf(bare, sizeof(bare), "%.*s", (int)len - 2, id + 1);
	else
		snprintf(bare, sizeof(bare), "%s", id);
	snprintf(br, sizeof(br), "<%s>", bare);
	show_qid(id, qid, sizeof(qid));
	*m = NULL;
	*n = 0;
	rc = sqlite3_prepare_v2(db, "SELECT qid FROM event WHERE qid = ?1 "
	    "UNION SELECT qid FROM event WHERE message_id IN (?2, ?3) AND "
	    "qid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM event WHERE "
	    "qid = ?1) ORDER BY 1", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, qid, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, bare, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, br, -1, SQLITE_STATIC);
	}
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*m = xreallocarray(*m, (size_t)*n + 1, sizeof(**m));
		(*m)[*n].qid = xstrdup((const char *)sqlite3_column_text(st,
		    0));
		(*m)[(*n)++].id = 0;
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE)
		log_warnx("log.db: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
show_main(sqlite3 *db, const char *id, enum format f)
{
	struct message msg;
	struct match *m;
	struct buf b;
	int n, r = EX_OK;

	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	if (show_find(db, id, &m, &n) == -1)
		r = EX_UNAVAILABLE;
	buf_init(&b, 0);
	for (int i = 0; i < n && r == EX_OK; i++) {
		if (query_events(db, &m[i], &msg) == -1) {
			r = EX_UNAVAILABLE;
			break;
		}
		if (f == FMT_TABLE && msg.nev > 0) {
			if (i > 0)
				printf("\n");
			show_message(&msg);
		} else
			for (int j = 0; j < msg.nev; j++) {
				format_event(&msg.ev[j], f, &b);
				fwrite(buf_ptr(&b), 1, buf_len(&b), stdout);
				buf_reset(&b);
			}
		query_message_free(&msg);
	}
	buf_free(&b);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (r == EX_OK && n == 0) {
		log_warnx("%s: no such queue id or Message-ID", id);
		r = 1;
	}
	query_matches_free(m, n);
	return r;
}
