/*
 * quarantine.c - gwctl quarantine ...: the messages a content policy
 * quarantined (issue 11), held in gwd's queue until an admin releases
 * or deletes them, or policy.quarantine_days pass.
 *
 * gwd owns them (queue.db); these commands ask through the control
 * socket as `gwctl queue` does, with --quarantined so that no other
 * message is touched, and read the verdict from log.db (read-only):
 * the "quarantined" event names the policy, the "scanned" event the
 * counts and the matches, masked by gwd before they were logged.
 * Diagnostics: sysexits statuses as queue.c's (69 gwd not running, 65
 * an id not quarantined); dies only when memory runs out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "buf.h"
#include "ctlproto.h"
#include "db.h"
#include "gwctl.h"
#include "json.h"
#include "log.h"
#include "output.h"
#include "queue_info.h"
#include "util.h"

/* The "quarantined" event's detail, as data_end.c writes it. */
#define POLICY_PREFIX	"content policy "
#define POLICY_SUFFIX	" until released"

struct qlist {
	int		 json, n;
	sqlite3		*ldb;		/* NULL: log.db unreadable */
	sqlite3_stmt	*st;
};

/* "pci (card)": the policy of the message's "quarantined" event (a
 * detector may hold parentheses and spaces: up to the suffix). */
static char *
quarantine_policy(struct qlist *l, const char *qid)
{
	const char *d, *p, *e;
	char *out = NULL;

	if (l->st == NULL)
		return NULL;
	sqlite3_reset(l->st);
	sqlite3_bind_text(l->st, 1, qid, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(l->st) == SQLITE_ROW &&
	    (d = (const char *)sqlite3_column_text(l->st, 0)) != NULL &&
	    (p = strstr(d, POLICY_PREFIX)) != NULL) {
		p += strlen(POLICY_PREFIX);
		e = strstr(p, POLICY_SUFFIX);
		out = xstrndup(p, e ? (size_t)(e - p) : strlen(p));
	}
	return out;
}

static void
qlist_one(struct qmsg_info *m, void *arg)
{
	struct qlist *l = arg;
	char *pol = quarantine_policy(l, m->qid), at[32];
	struct json_obj o;
	struct buf b;

	if (l->json) {
		buf_init(&b, 0);
		json_obj_begin(&o, &b);
		json_obj_str(&o, "queue_id", m->qid);
		json_obj_int(&o, "arrival_time", m->arrival);
		json_obj_int(&o, "message_size", m->size);
		json_obj_str(&o, "sender", strcmp(m->sender, "<>") ?
		    m->sender : "");
		json_obj_str(&o, "subaccount", m->subaccount);
		json_obj_str(&o, "message_id", m->message_id);
		json_obj_str(&o, "policy", pol);
		json_obj_int(&o, "recipients", m->nrcpt);
		if (json_obj_end(&o) == -1)
			fatalx("output too long");
		printf("%s\n", buf_cstr(&b));
		buf_free(&b);
	} else {
		if (l->n == 0)
			printf("%-16s  %-20s  %-12s  %-28s  %s\n", "QUEUE ID",
			    "ARRIVAL", "SUBACCOUNT", "SENDER", "POLICY");
		output_time(m->arrival, at, sizeof(at));
		printf("%-16s  %-20s  %-12s  %-28s  %s\n", m->qid, at,
		    m->subaccount, m->sender, pol ? pol : "-");
	}
	free(pol);
	l->n++;
}

int
quarantine_list(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	struct qlist l = { 0 };
	const char *sub = args_get(a, "--subaccount");
	struct buf req, reply;
	char *text, err[1024];
	int r;

	if ((r = output_format(c, a, &l.json)) != EX_OK)
		return r;
	if (sub && (*sub == '\0' || strpbrk(sub, " \t") ||
	    str_has_ctl(sub, strlen(sub)) || strlen(sub) > CTL_NAME_MAX))
		return cmd_usage_error(c, "--subaccount: not a subaccount");
	buf_init(&req, 0);
	buf_printf(&req, "queue list --quarantined%s%s", sub ?
	    " --subaccount " : "", sub ? sub : "");
	if ((r = queue_ask(ctx, buf_cstr(&req), &reply, &text)) == EX_OK) {
		if ((l.ldb = db_open(ctx->cfg.state_dir, DB_LOG, DB_RDONLY,
		    err, sizeof(err))) == NULL)
			log_warnx("log.db: %s (policies not shown)", err);
		else if (sqlite3_prepare_v2(l.ldb, "SELECT detail FROM event "
		    "WHERE qid = ? AND action = 'quarantined' ORDER BY id DESC "
		    "LIMIT 1", -1, &l.st, NULL) != SQLITE_OK)
			log_warnx("log.db: %s", sqlite3_errmsg(l.ldb));
		queue_messages(text, qlist_one, &l, NULL);
		if (!l.json && l.n == 0)
			printf("quarantine is empty\n");
		else if (!l.json)
			printf("-- %d message%s quarantined\n", l.n,
			    l.n == 1 ? "" : "s");
		sqlite3_finalize(l.st);
		if (l.ldb)
			db_close(l.ldb);
	}
	buf_free(&req);
	buf_free(&reply);
	return r;
}

static void
qshow_state(struct qmsg_info *m, void *arg)
{
	*(int *)arg = strcmp(m->state, "quarantined") == 0;
	if (*(int *)arg)
		queue_show_one(m, NULL);
}

int
quarantine_show(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	struct buf reply;
	char req[64], *text, *unknown = NULL;
	int r, quarantined = 0;

	if (!ctl_qid_valid(a->argv[0]))
		return cmd_usage_error(c, "\"%s\" is not a queue id (16 "
		    "upper-case hex digits)", a->argv[0]);
	snprintf(req, sizeof(req), "queue show %s", a->argv[0]);
	if ((r = queue_ask(ctx, req, &reply, &text)) == EX_OK) {
		if (queue_messages(text, qshow_state, &quarantined,
		    &unknown) == 1 && quarantined)
			queue_show_history(ctx, a->argv[0]);
		else {
			log_warnx("queue id %s: not quarantined%s", a->argv[0],
			    unknown ? " (not in the queue)" : "");
			r = EX_DATAERR;
		}
	}
	buf_free(&reply);
	return r;
}

int
quarantine_release(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	return queue_act_opts(ctx, c, a, " --quarantined");
}

int
quarantine_delete(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	const char *why = args_get(a, "--reason");
	struct buf opts;
	int r;

	if (why == NULL || why[strspn(why, " \t")] == '\0')
		return cmd_usage_error(c, "--reason: say why (it goes into "
		    "each recipient's \"deleted\" event)");
	if (strlen(why) > CTL_REASON_MAX || str_has_ctl(why, strlen(why)))
		return cmd_usage_error(c, "--reason: at most %d printable "
		    "characters", CTL_REASON_MAX);
	buf_init(&opts, 0);
	buf_printf(&opts, " --quarantined --reason %s", why);
	r = queue_act_opts(ctx, c, a, buf_cstr(&opts));
	buf_free(&opts);
	return r;
}
