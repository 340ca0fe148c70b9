/*
 * queue.c - gwctl queue ...: look at and act on gwd's queue, through the
 * control socket (gwd owns queue.db; gwctl never writes it).
 *
 * list and show ask gwd for what it holds in memory; show adds the
 * message's history from log.db (read-only).  The actions send at most
 * CTL_MAX_IDS queue ids a request, and print a count of what was done
 * to stderr, as postsuper(1) does.  Requests and replies: see
 * gwd/control.c and common/ctlproto.h.
 * Diagnostics: each command returns a sysexits status and says why on
 * stderr (69 when gwd is not running, 76 when its reply is cut short);
 * dies only when memory runs out. Completion (queue_ids()) fails
 * quietly.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "buf.h"
#include "ctlclient.h"
#include "ctlproto.h"
#include "db.h"
#include "event.h"
#include "gwctl.h"
#include "log.h"
#include "output.h"
#include "queue_info.h"
#include "util.h"

#define REPLY_TIMEOUT_MS	(10 * 60 * 1000)	/* ALL on a big queue */
#define COMPLETE_MS		500	/* the shell's TAB waits no longer */
#define REPLY_MAX		CTL_REPLY_MAX


/* Next "key value" line of the reply; 0 at the end. */
static int
queue_line(char **p, char **key, char **val)
{
	char *nl;

	if (**p == '\0')
		return 0;
	*key = *p;
	if ((nl = strchr(*p, '\n')) != NULL) {
		*nl = '\0';
		*p = nl + 1;
	} else
		*p += strlen(*p);
	if ((*val = strchr(*key, ' ')) != NULL)
		*(*val)++ = '\0';
	else
		*val = *key + strlen(*key);
	return 1;
}

/*
 * Ask, and check the reply is whole (its last line is "end") or say
 * what gwd refused.  *text is the reply, NUL-terminated.
 */
int
queue_ask(struct ctx *ctx, const char *req, struct buf *reply, char **text)
{
	size_t n;
	char *t;
	int r;

	buf_init(reply, REPLY_MAX);
	if ((r = control_exchange(ctx, req, reply, REPLY_TIMEOUT_MS)) != EX_OK)
		return r;
	t = *text = buf_cstr(reply);
	n = strlen(t);
	if (strncmp(t, "error ", 6) == 0) {
		t[strcspn(t, "\n")] = '\0';
		log_warnx("gwd: %s", t + 6);
		return EX_DATAERR;
	}
	if (n < 4 || strcmp(t + n - 4, "end\n") != 0) {
		log_warnx("gwd closed the connection before its reply ended");
		return EX_PROTOCOL;
	}
	return EX_OK;
}

static void
qmsg_info_free(struct qmsg_info *m)
{
	for (int i = 0; i < m->nrcpt; i++) {
		free(m->rcpt[i].address);
		free(m->rcpt[i].state);
		free(m->rcpt[i].last_reply);
	}
	free(m->rcpt);
	free(m->qid);
	free(m->sender);
	free(m->subaccount);
	free(m->message_id);
	free(m->state);
	output_strv_free(&m->headers);
	memset(m, 0, sizeof(*m));
}

/* One key of a message or of its last recipient. */
static void
qmsg_info_set(struct qmsg_info *m, const char *k, const char *v)
{
	struct qrcpt_info *r = m->nrcpt ? &m->rcpt[m->nrcpt - 1] : NULL;
	static const struct { const char *key; size_t off; } strs[] = {
		{ "sender", offsetof(struct qmsg_info, sender) },
		{ "subaccount", offsetof(struct qmsg_info, subaccount) },
		{ "message_id", offsetof(struct qmsg_info, message_id) },
		{ "state", offsetof(struct qmsg_info, state) },
	};

	if (strcmp(k, "recipient") == 0) {
		m->rcpt = xreallocarray(m->rcpt, (size_t)m->nrcpt + 1,
		    sizeof(*m->rcpt));
		r = &m->rcpt[m->nrcpt++];
		memset(r, 0, sizeof(*r));
		r->address = xstrdup(v);
	} else if (r && strcmp(k, "rcpt_state") == 0)
		r->state = xstrdup(v);
	else if (r && strcmp(k, "attempts") == 0)
		r->attempts = strtoll(v, NULL, 10);
	else if (r && strcmp(k, "next_attempt") == 0)
		r->next_attempt = strtoll(v, NULL, 10);
	else if (r && strcmp(k, "last_reply") == 0)
		r->last_reply = xstrdup(v);
	else if (strcmp(k, "arrival") == 0)
		m->arrival = strtoll(v, NULL, 10);
	else if (strcmp(k, "size") == 0)
		m->size = strtoll(v, NULL, 10);
	else if (strcmp(k, "header") == 0)
		output_strv_add(&m->headers, v);
	else
		for (size_t i = 0; i < nitems(strs); i++)
			if (strcmp(k, strs[i].key) == 0) {
				char **f = (char **)(void *)((char *)m +
				    strs[i].off);

				free(*f);
				*f = xstrdup(v);
			}
}

/*
 * Walk the messages of a list/show reply: cb() for each.  Returns the
 * number of messages; *unknown is the id gwd did not know (show).
 */
int
queue_messages(char *text, void (*cb)(struct qmsg_info *, void *),
    void *arg, char **unknown)
{
	struct qmsg_info m = { 0 };
	char *p = text, *k, *v;
	int n = 0;

	while (queue_line(&p, &k, &v)) {
		if (strcmp(k, "message") == 0 || strcmp(k, "end") == 0) {
			if (m.qid) {
				cb(&m, arg);
				n++;
			}
			qmsg_info_free(&m);
			if (*k == 'm')
				m.qid = xstrdup(v);
		} else if (strcmp(k, "unknown") == 0 && unknown)
			*unknown = v;
		else if (m.qid)
			qmsg_info_set(&m, k, v);
	}
	qmsg_info_free(&m);
	return n;
}

/* "deferred until T, 2 attempts: 451 ..." */
static void
queue_rcpt_why(const struct qrcpt_info *r, struct buf *b)
{
	char t[32];

	if (r->state && strcmp(r->state, "deferred") == 0) {
		output_time(r->next_attempt, t, sizeof(t));
		buf_printf(b, "deferred, next attempt %s", t);
	} else if (r->state && strcmp(r->state, "held") == 0)
		buf_puts(b, "held, not attempted until released");
	else if (r->state && strcmp(r->state, "active") == 0)
		buf_puts(b, "being delivered now");
	else if (r->state && strcmp(r->state, "ready") == 0)
		buf_puts(b, "ready, waiting for a connection");
	else
		buf_puts(b, r->state ? r->state : "-");
	if (r->attempts)
		buf_printf(b, ", %lld attempt%s", r->attempts,
		    r->attempts == 1 ? "" : "s");
	if (r->last_reply)
		buf_printf(b, " (%s)", r->last_reply);
}

struct list_tally {
	int	json, messages, rcpts, held;
};

static void
list_table(struct qmsg_info *m, void *arg)
{
	struct list_tally *t = arg;
	const char *mark = strcmp(m->state, "held") == 0 ||
	    strcmp(m->state, "quarantined") == 0 ? "!" :
	    strcmp(m->state, "active") == 0 ? "*" : "";
	char at[32];
	struct buf b;

	if (t->messages == 0)
		printf("%-17s %8s  %-20s  %s\n", "QUEUE ID", "SIZE", "ARRIVAL",
		    "SENDER/RECIPIENTS");
	output_time(m->arrival, at, sizeof(at));
	printf("%s%-*s %8lld  %-20s  %s\n", m->qid, 17 - (int)strlen(m->qid),
	    mark, m->size, at, m->sender);
	for (int i = 0; i < m->nrcpt; i++) {
		buf_init(&b, 0);
		queue_rcpt_why(&m->rcpt[i], &b);
		printf("%50s%s  %s\n", "", m->rcpt[i].address, buf_cstr(&b));
		buf_free(&b);
	}
	t->messages++;
	t->rcpts += m->nrcpt;
	t->held += *mark == '!';
}

static void
list_json(struct qmsg_info *m, void *arg)
{
	struct list_tally *t = arg;
	struct json_obj o, ro;
	struct buf b, rb, one;

	buf_init(&rb, 0);
	buf_putc(&rb, '[');
	for (int i = 0; i < m->nrcpt; i++) {
		struct qrcpt_info *r = &m->rcpt[i];

		buf_init(&one, 0);
		json_obj_begin(&ro, &one);
		json_obj_str(&ro, "address", r->address);
		json_obj_str(&ro, "state", r->state);
		json_obj_int(&ro, "attempts", r->attempts);
		json_obj_int(&ro, "next_attempt", r->next_attempt);
		json_obj_str(&ro, "delay_reason", r->last_reply);
		if (json_obj_end(&ro) == -1 || (i && buf_putc(&rb, ',')) ||
		    buf_append(&rb, buf_ptr(&one), buf_len(&one)) == -1)
			fatalx("output too long");
		buf_free(&one);
	}
	buf_putc(&rb, ']');
	buf_init(&b, 0);
	json_obj_begin(&o, &b);
	json_obj_str(&o, "queue_id", m->qid);
	json_obj_int(&o, "arrival_time", m->arrival);
	json_obj_int(&o, "message_size", m->size);
	json_obj_str(&o, "sender", strcmp(m->sender, "<>") ? m->sender : "");
	json_obj_str(&o, "subaccount", m->subaccount);
	json_obj_str(&o, "message_id", m->message_id);
	json_obj_str(&o, "state", m->state);
	json_obj_bool(&o, "held", strcmp(m->state, "held") == 0 ||
	    strcmp(m->state, "quarantined") == 0);
	json_obj_raw(&o, "recipients", buf_cstr(&rb));
	if (json_obj_end(&o) == -1)
		fatalx("output too long");
	printf("%s\n", buf_cstr(&b));
	buf_free(&b);
	buf_free(&rb);
	t->messages++;
}

/* Queued ids for the shell's completion; nothing, quietly, without gwd. */
int
queue_ids(struct ctx *ctx, void (*add)(void *, const char *), void *arg)
{
	struct buf reply;
	char *p, *k, *v;

	if (ctx_config(ctx) != EX_OK || ctx->cfg.control_socket == NULL)
		return 0;
	buf_init(&reply, REPLY_MAX);
	if (ctlclient_ask(ctx->cfg.control_socket, "queue list", &reply,
	    COMPLETE_MS, NULL) == 0)
		for (p = buf_cstr(&reply); queue_line(&p, &k, &v); )
			if (strcmp(k, "message") == 0)
				add(arg, v);
	buf_free(&reply);
	return 0;
}

/* A --domain or --subaccount value goes to gwd as one word. */
static int
queue_opt_word(const struct cmd *c, const struct args *a, const char *name,
    struct buf *req)
{
	const char *v = args_get(a, name);

	if (v == NULL)
		return EX_OK;
	if (*v == '\0' || strpbrk(v, " \t") || str_has_ctl(v, strlen(v)) ||
	    strlen(v) > CTL_DOMAIN_MAX)
		return cmd_usage_error(c, "%s: not a %s", name, name + 2);
	buf_printf(req, " %s %s", name, v);
	return EX_OK;
}

int
queue_list(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	struct list_tally t = { 0 };
	struct buf req, reply;
	char *text;
	int r;

	if ((r = output_format(c, a, &t.json)) != EX_OK)
		return r;
	buf_init(&req, 1024);
	buf_puts(&req, "queue list");
	if ((r = queue_opt_word(c, a, "--domain", &req)) != EX_OK ||
	    (r = queue_opt_word(c, a, "--subaccount", &req)) != EX_OK) {
		buf_free(&req);
		return r;
	}
	if ((r = queue_ask(ctx, buf_cstr(&req), &reply, &text)) == EX_OK) {
		/* Just started: gwd has not read its whole queue yet. */
		if (strncmp(text, "loading ", 8) == 0)
			log_warnx("gwd is still reading its queue: %lld more "
			    "messages are not listed", strtoll(text + 8, NULL,
			    10));
		queue_messages(text, t.json ? list_json : list_table, &t,
		    NULL);
		if (!t.json && t.messages == 0)
			printf("queue is empty\n");
		else if (!t.json)
			printf("-- %d message%s, %d recipient%s, %d held\n",
			    t.messages, t.messages == 1 ? "" : "s", t.rcpts,
			    t.rcpts == 1 ? "" : "s", t.held);
	}
	buf_free(&req);
	buf_free(&reply);
	return r;
}

static void
show_field(const char *label, const char *v)
{
	if (v && *v)
		printf("  %-12s %s\n", label, v);
}

void
queue_show_one(struct qmsg_info *m, void *arg)
{
	char t[32], size[32];
	struct buf b;

	printf("Message %s\n", m->qid);
	show_field("State:", strcmp(m->state, "held") == 0 ? "held (never "
	    "attempted until released)" : strcmp(m->state, "quarantined") ==
	    0 ? "quarantined by a content policy (never attempted until "
	    "released: gwctl quarantine release)" :
	    strcmp(m->state, "active") == 0 ?
	    "active (being delivered now)" : m->state);
	show_field("Sender:", m->sender);
	show_field("Subaccount:", m->subaccount);
	output_time(m->arrival, t, sizeof(t));
	show_field("Arrival:", t);
	snprintf(size, sizeof(size), "%lld bytes", m->size);
	show_field("Size:", size);
	show_field("Message-ID:", m->message_id);
	printf("Headers\n");
	for (int i = 0; i < m->headers.n; i++)
		printf("  %s\n", m->headers.v[i]);
	printf("Recipients\n");
	for (int i = 0; i < m->nrcpt; i++) {
		buf_init(&b, 0);
		queue_rcpt_why(&m->rcpt[i], &b);
		printf("  %s  %s\n", m->rcpt[i].address, buf_cstr(&b));
		buf_free(&b);
	}
}

/* Every event of qid in log.db: the attempts and the admin actions. */
void
queue_show_history(struct ctx *ctx, const char *qid)
{
	char err[1024], t[32];
	sqlite3_stmt *st;
	sqlite3 *db;
	int n = 0;

	printf("History\n");
	if ((db = db_open(ctx->cfg.state_dir, DB_LOG, DB_RDONLY, err,
	    sizeof(err))) == NULL) {
		printf("  (log.db unreadable: %s)\n", err);
		return;
	}
	if (sqlite3_prepare_v2(db, "SELECT ts, action, recipient, "
	    "remote_host, reply_code, reply_status, reply_text, detail "
	    "FROM event WHERE qid = ? ORDER BY id", -1, &st, NULL) !=
	    SQLITE_OK) {
		printf("  (log.db: %s)\n", sqlite3_errmsg(db));
		db_close(db);
		return;
	}
	sqlite3_bind_text(st, 1, qid, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct buf b;

		buf_init(&b, 0);
		output_time(sqlite3_column_int64(st, 0) / 1000000, t,
		    sizeof(t));
		buf_printf(&b, "  %s  %-9s", t, sqlite3_column_text(st, 1));
		for (int i = 2; i <= 7; i++)
			if (sqlite3_column_type(st, i) != SQLITE_NULL)
				buf_printf(&b, "  %s",
				    sqlite3_column_text(st, i));
		for (char *p = buf_cstr(&b); *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		printf("%s\n", buf_cstr(&b));
		buf_free(&b);
		n++;
	}
	if (n == 0)
		printf("  (no events)\n");
	sqlite3_finalize(st);
	db_close(db);
}

int
queue_show(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	struct buf reply;
	char req[64], *text, *unknown = NULL;
	int r;

	if (!ctl_qid_valid(a->argv[0]))
		return cmd_usage_error(c, "\"%s\" is not a queue id (16 "
		    "upper-case hex digits)", a->argv[0]);
	snprintf(req, sizeof(req), "queue show %s", a->argv[0]);
	if ((r = queue_ask(ctx, req, &reply, &text)) == EX_OK) {
		if (queue_messages(text, queue_show_one, NULL, &unknown) == 1)
			queue_show_history(ctx, a->argv[0]);
		else {
			log_warnx("queue id %s: not in the queue", a->argv[0]);
			r = EX_DATAERR;
		}
	}
	buf_free(&reply);
	return r;
}

/* What the replies to one action said, all requests together. */
struct act_tally {
	int	 named;	/* ids were named (not ALL, --domain) */
	int	 done, unchanged, unknown, busy, failed;
};

static void
act_reply(char *text, const char *word, struct act_tally *t)
{
	char *p = text, *k, *v;

	while (queue_line(&p, &k, &v)) {
		if (strcmp(k, word) == 0) {
			t->done++;
			if (strchr(v, ' '))	/* "QID note" */
				fprintf(stderr, "gwctl: %s\n", v);
		}
		else if (strcmp(k, "unchanged") == 0) {
			t->unchanged++;
			if (t->named)
				fprintf(stderr, "gwctl: %s\n", v);
		} else if (strcmp(k, "unknown") == 0) {
			t->unknown++;
			log_warnx("queue id %s: not in the queue", v);
		} else if (strcmp(k, "busy") == 0) {
			t->busy++;
			log_warnx("%s", v);
		} else if (strcmp(k, "failed") == 0) {
			t->failed++;
			log_warnx("not done: %s", v);
		}
	}
}

static const char *act_word(const char *);

static int
act_send(struct ctx *ctx, const char *verb, struct buf *ids,
    const char *opts, struct act_tally *t)
{
	struct buf req, reply;
	char *text;
	int r;

	buf_init(&req, 0);
	buf_printf(&req, "queue %s%s%s", verb, buf_cstr(ids), opts);
	if ((r = queue_ask(ctx, buf_cstr(&req), &reply, &text)) == EX_OK)
		act_reply(text, act_word(verb), t);
	buf_free(&req);
	buf_free(&reply);
	buf_reset(ids);
	return r;
}

/* Check one id (from argv or stdin) and keep it. */
static int
act_id(const struct cmd *c, const char *id, struct output_strv *ids)
{
	char esc[64];

	if (!ctl_qid_valid(id)) {
		log_escape(id, strlen(id), esc, sizeof(esc));
		log_warnx("queue %s: \"%s\" is not a queue id (16 upper-case "
		    "hex digits)%s", c->verb, esc, strcmp(id, "ALL") == 0 ?
		    "; ALL stands alone on the command line" :
		    strcasecmp(id, "ALL") == 0 ? "; ALL must be upper case" :
		    "");
		return EX_DATAERR;
	}
	output_strv_add(ids, id);
	return EX_OK;
}

static int
act_stdin(const struct cmd *c, struct output_strv *ids)
{
	char *line = NULL, *p;
	size_t cap = 0;
	int r = EX_OK;

	while (r == EX_OK && getline(&line, &cap, stdin) != -1) {
		p = line + strspn(line, " \t");
		p[strcspn(p, " \t\r\n")] = '\0';
		if (*p)
			r = act_id(c, p, ids);
	}
	free(line);
	return r;
}

/* Every id checked first, so a typo stops the lot; then in turns. */
static int
act_ids(struct ctx *ctx, const struct cmd *c, const struct args *a,
    const char *opts, struct act_tally *t)
{
	struct output_strv ids = { 0 };
	struct buf req;
	int r = EX_OK;

	for (int i = 0; i < a->argc && r == EX_OK; i++)
		r = strcmp(a->argv[i], "-") == 0 ? act_stdin(c, &ids) :
		    act_id(c, a->argv[i], &ids);
	buf_init(&req, 0);
	for (int i = 0; i < ids.n && r == EX_OK; i++) {
		buf_printf(&req, " %s", ids.v[i]);
		if ((i + 1) % CTL_MAX_IDS == 0 || i + 1 == ids.n)
			r = act_send(ctx, c->verb, &req, opts, t);
	}
	buf_free(&req);
	output_strv_free(&ids);
	return r;
}

/* "held" for hold: the word gwd's result lines start with. */
static const char *
act_word(const char *verb)
{
	const char *v;

	for (int i = 0; (v = ctl_verb_name((enum ctl_verb)i)) != NULL; i++)
		if (strcmp(v, verb) == 0 && ctl_verb_event((enum ctl_verb)i) !=
		    -1)
			return event_name(ctl_verb_event((enum ctl_verb)i));
	return verb;
}

/* flush, hold, release, delete, bounce. */
int
queue_act(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	return queue_act_opts(ctx, c, a, "");
}

int
queue_act_opts(struct ctx *ctx, const struct cmd *c, struct args *a,
    const char *opts)
{
	struct act_tally t = { 0 };
	const char *word = act_word(c->verb), *dom = args_get(a, "--domain");
	struct buf ids;
	int r = EX_OK, all = 0;

	for (int i = 0; i < a->argc; i++) {
		all |= strcmp(a->argv[i], "ALL") == 0;
		/* The shell reads its own commands from stdin. */
		if (ctx->interactive && strcmp(a->argv[i], "-") == 0)
			return cmd_usage_error(c, "- (ids from standard input) "
			    "works on the command line, not in the shell");
	}
	if (all && a->argc > 1)
		return cmd_usage_error(c, "ALL stands alone");
	if (dom && a->argc > 0)
		return cmd_usage_error(c, "give queue ids or --domain, not "
		    "both");
	buf_init(&ids, 0);
	t.named = !all && !dom && a->argc > 0;
	if (t.named)
		r = act_ids(ctx, c, a, opts, &t);
	else {
		/* ALL, --domain D, or (flush) nothing: one request. */
		if (dom && (r = queue_opt_word(c, a, "--domain", &ids)) !=
		    EX_OK)
			goto out;
		if (all)
			buf_puts(&ids, " ALL");
		r = act_send(ctx, c->verb, &ids, opts, &t);
	}
	/* postsuper's habit: what was done, counted on stderr. */
	if (t.unchanged)
		fprintf(stderr, "gwctl: %s %d message%s (unchanged: %d)\n",
		    word, t.done, t.done == 1 ? "" : "s", t.unchanged);
	else if (t.done || r == EX_OK)
		fprintf(stderr, "gwctl: %s %d message%s\n", word, t.done,
		    t.done == 1 ? "" : "s");
	if (r == EX_OK && t.unknown)
		r = EX_DATAERR;
	else if (r == EX_OK && (t.busy || t.failed))
		r = EX_TEMPFAIL;
out:
	buf_free(&ids);
	return r;
}
