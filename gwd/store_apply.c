/*
 * store_apply.c - the record encoders: an op's changes into queue.db
 * (new messages and their recipients, deleted and updated recipients,
 * holds, suppressions, pauses, TLS-RPT counts), through statements
 * prepared once at start-up on the store thread's connection.  The
 * caller (store.c) owns the transaction.
 * Exposure: writes what sessions accepted, with bound parameters; no
 * network input is parsed.
 * Diagnostics: dies when a statement fixed at build fails to prepare
 * at start-up; a step queue.db refuses is a -1 return, and the store
 * thread rolls the batch back.
 */
#include <stddef.h>
#include <stdint.h>

#include "archive.h"
#include "db.h"
#include "store_priv.h"

static sqlite3_stmt	*st_ins_msg, *st_ins_rcpt, *st_del_rcpt, *st_upd_rcpt,
			*st_del_msg, *st_upd_held, *st_supp_put,
			*st_supp_del, *st_pause, *st_sts, *st_rpt,
			*st_rpt_del;
static sqlite3		*qdb;	/* the store thread's */

/* A new message and its recipients; their row ids go into m. */
static int
insert_msg(struct qmsg *m)
{
	sqlite3_bind_text(st_ins_msg, 1, m->qid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st_ins_msg, 2, m->subaccount ? m->subaccount : "",
	    -1, SQLITE_STATIC);
	sqlite3_bind_text(st_ins_msg, 3, m->sender, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st_ins_msg, 4, m->received_us);
	sqlite3_bind_int64(st_ins_msg, 5, (int64_t)m->size);
	sqlite3_bind_int(st_ins_msg, 6, m->flags);
	db_bind_text(st_ins_msg, 7, m->message_id);
	sqlite3_bind_blob64(st_ins_msg, 8, m->body, m->bodylen, SQLITE_STATIC);
	sqlite3_bind_int(st_ins_msg, 9, m->held);
	sqlite3_bind_int(st_ins_msg, 10, m->dsn_ret);
	db_bind_text(st_ins_msg, 11, m->dsn_envid);
	if (db_step_done(st_ins_msg) == -1)
		return -1;
	m->dbid = sqlite3_last_insert_rowid(qdb);
	for (int i = 0; i < m->nrcpt; i++) {
		struct qrcpt *r = &m->rcpt[i];

		sqlite3_bind_int64(st_ins_rcpt, 1, m->dbid);
		sqlite3_bind_text(st_ins_rcpt, 2, r->addr, -1, SQLITE_STATIC);
		sqlite3_bind_text(st_ins_rcpt, 3, r->domain, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st_ins_rcpt, 4, r->next_attempt);
		sqlite3_bind_int(st_ins_rcpt, 5, r->dsn_notify);
		db_bind_text(st_ins_rcpt, 6, r->dsn_orcpt);
		if (m->prefix && m->prefix[i].p)
			sqlite3_bind_blob64(st_ins_rcpt, 7, m->prefix[i].p,
			    m->prefix[i].len, SQLITE_STATIC);
		else
			sqlite3_bind_null(st_ins_rcpt, 7);
		if (db_step_done(st_ins_rcpt) == -1)
			return -1;
		r->dbid = sqlite3_last_insert_rowid(qdb);
	}
	return 0;
}

int
store_apply(struct store_op *op)
{
	if (op->insert && insert_msg(op->insert) == -1)
		return -1;
	if (op->also && insert_msg(op->also) == -1)
		return -1;
	/* Archived in the transaction that acknowledges the message. */
	if (op->insert && op->archive && op->archive->store &&
	    archive_put(op->insert->qid, op->insert->dbid,
	    op->insert->received_us, op->archive->env,
	    op->archive->envlen) == -1)
		return -1;
	if (op->journal && insert_msg(op->journal) == -1)
		return -1;
	for (int i = 0; i < op->ndel_rcpt; i++) {
		sqlite3_bind_int64(st_del_rcpt, 1, op->del_rcpt[i]);
		if (db_step_done(st_del_rcpt) == -1)
			return -1;
	}
	for (int i = 0; i < op->nupd; i++) {
		struct rcpt_update *u = &op->upd[i];

		sqlite3_bind_int(st_upd_rcpt, 1, u->attempts);
		sqlite3_bind_int64(st_upd_rcpt, 2, u->next_attempt);
		db_bind_text(st_upd_rcpt, 3, u->last_reply);
		sqlite3_bind_int(st_upd_rcpt, 4, u->dsn_notify);
		sqlite3_bind_int64(st_upd_rcpt, 5, u->dbid);
		if (db_step_done(st_upd_rcpt) == -1)
			return -1;
	}
	if (op->held_msg) {
		sqlite3_bind_int(st_upd_held, 1, op->held);
		sqlite3_bind_int64(st_upd_held, 2, op->held_msg);
		if (db_step_done(st_upd_held) == -1)
			return -1;
	}
	if (op->del_msg) {
		if (archive_keep_body(op->del_msg) == -1)
			return -1;
		sqlite3_bind_int64(st_del_msg, 1, op->del_msg);
		if (db_step_done(st_del_msg) == -1)
			return -1;
	}
	for (int i = 0; i < op->nsupp; i++) {
		struct supp_change *s = &op->supp[i];
		sqlite3_stmt *st = s->del ? st_supp_del : st_supp_put;

		db_bind_text(st, 1, s->subaccount);
		db_bind_text(st, 2, s->address);
		if (!s->del) {
			db_bind_text(st, 3, s->reason);
			sqlite3_bind_int64(st, 4, s->created);
		}
		if (db_step_done(st) == -1)
			return -1;
	}
	if (op->nhook_ack > 0 && outbox_ack_hook(&store_obx, op->hook_ack,
	    op->nhook_ack) == -1)
		return -1;
	if (op->hook_sweep && outbox_hook_sweep(&store_obx) == -1)
		return -1;
	if (op->pause_sub) {
		db_bind_text(st_pause, 1, op->pause_sub);
		sqlite3_bind_int(st_pause, 2, op->pause_paused);
		sqlite3_bind_int64(st_pause, 3, op->pause_since);
		db_bind_text(st_pause, 4, op->pause_reason ? op->pause_reason :
		    "");
		if (db_step_done(st_pause) == -1)
			return -1;
	}
	if (op->sts_domain) {
		db_bind_text(st_sts, 1, op->sts_domain);
		db_bind_text(st_sts, 2, op->sts_id);
		db_bind_text(st_sts, 3, op->sts_policy);
		sqlite3_bind_int64(st_sts, 4, op->sts_fetched);
		sqlite3_bind_int64(st_sts, 5, op->sts_expires);
		if (db_step_done(st_sts) == -1)
			return -1;
	}
	if (op->rpt.domain) {
		sqlite3_bind_int64(st_rpt, 1, op->rpt.day);
		db_bind_text(st_rpt, 2, op->rpt.domain);
		db_bind_text(st_rpt, 3, op->rpt.policy);
		db_bind_text(st_rpt, 4, op->rpt.result);
		db_bind_text(st_rpt, 5, op->rpt.sending_ip);
		db_bind_text(st_rpt, 6, op->rpt.mx_host);
		db_bind_text(st_rpt, 7, op->rpt.receiving_ip);
		if (db_step_done(st_rpt) == -1)
			return -1;
	}
	if (op->rpt_sent_domain) {
		sqlite3_bind_int64(st_rpt_del, 1, op->rpt_sent_day);
		db_bind_text(st_rpt_del, 2, op->rpt_sent_domain);
		if (db_step_done(st_rpt_del) == -1)
			return -1;
	}
	return 0;
}

static sqlite3_stmt *
prep(sqlite3 *db, const char *sql)
{
	return db_prepare(db, sql);
}

void
store_apply_prepare(sqlite3 *db)
{
	qdb = db;
	st_ins_msg = prep(qdb, "INSERT INTO message (qid, subaccount, sender,"
	    " received, size, flags, message_id, body, held, dsn_ret,"
	    " dsn_envid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	st_ins_rcpt = prep(qdb, "INSERT INTO recipient (message, address,"
	    " domain, next_attempt, dsn_notify, dsn_orcpt, prefix)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?)");
	st_del_rcpt = prep(qdb, "DELETE FROM recipient WHERE id = ?");
	st_upd_rcpt = prep(qdb, "UPDATE recipient SET attempts = ?,"
	    " next_attempt = ?, last_reply = ?, dsn_notify = ? WHERE id = ?");
	st_del_msg = prep(qdb, "DELETE FROM message WHERE id = ?");
	st_upd_held = prep(qdb, "UPDATE message SET held = ? WHERE id = ?");
	st_supp_put = prep(qdb, "INSERT OR REPLACE INTO suppression"
	    " (subaccount, address, reason, created) VALUES (?, ?, ?, ?)");
	/* Every spelling of the address (rows of older versions too). */
	st_supp_del = prep(qdb, "DELETE FROM suppression WHERE subaccount = ?"
	    " AND gw_addr_key(address) = gw_addr_key(?)");
	st_pause = prep(qdb, "INSERT OR REPLACE INTO subaccount_pause"
	    " (subaccount, paused, since, reason) VALUES (?, ?, ?, ?)");
	st_sts = prep(qdb, "INSERT OR REPLACE INTO mta_sts"
	    " (domain, id, policy, fetched, expires) VALUES (?, ?, ?, ?, ?)");
	st_rpt = prep(qdb, "INSERT INTO tls_rpt (day, domain, policy, result,"
	    " sending_ip, mx_host, receiving_ip, count)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, 1)"
	    " ON CONFLICT DO UPDATE SET count = count + 1");
	st_rpt_del = prep(qdb, "DELETE FROM tls_rpt WHERE day = ? AND"
	    " domain = ?");
}
