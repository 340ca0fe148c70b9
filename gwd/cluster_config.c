/*
 * cluster_config.c - gw.db's configuration shared by every node (see
 * cluster.h): subaccounts with their password and API key hashes,
 * domains, networks, pools, routing rules, throttles, content
 * policies, webhooks, alerts, HMAC keys, DKIM domain options (the
 * tables of cshare_config_tables).
 * Exposure: changesets come from Redis (written by the other nodes' gwd,
 * from their gwctl); SQLite checks each one's form as it applies it, and
 * gw.db's own constraints hold.  A node trusts the cluster's Redis as it
 * trusts gwctl: whoever can write CK_CONFIG can change the configuration
 * (gwd.conf(5): Redis needs a password and a private network).
 * Diagnostics: none fail; a changeset SQLite refuses is logged and
 * skipped, a gw.db that is busy is tried again at the next poll.
 *
 * The design: an append-only log of changes, not a copy of gw.db.
 * gwctl records each transaction's change of the shared tables as an
 * SQLite changeset (gwctl/cluster.c) in gw.db's cluster_outbox, in the
 * same transaction; this node's gwd sends the oldest waiting one to the
 * Redis stream CK_CONFIG (XADD, one at a time, so a node's changes keep
 * their order) and deletes it once Redis has it.  Every node (the one
 * that made the change too) reads the stream and applies each entry to
 * its gw.db in one transaction with cluster_applied's last id, so an
 * entry is applied exactly once and a node that was down, or whose
 * Redis was, goes on from there.  account.c sees the commit (PRAGMA
 * data_version) at its next poll or the next AUTH: a change reaches
 * every node within POLL_MS twice and a few round trips.
 *
 * Conflicts: the stream's order is the cluster's.  A change applied to
 * a row that differs from what the change expected (another node
 * changed it meanwhile) replaces it, an insert of a key that exists
 * replaces that row, an update or delete of a row that is not there is
 * skipped: the last writer in stream order wins on every node, and
 * the node that made a change applies it again in that order, so all
 * converge.  A change that would break a constraint other than the key
 * (two subaccounts of one name made at once on two nodes with
 * different ids) is skipped and logged: the first one wins.  Nodes
 * must start from the same gw.db (a new node: a copy of an existing
 * node's gw.db, or an empty one, which replays the stream).
 *
 * Redis away: gwctl's changes wait in cluster_outbox (on disk: a gwd
 * restart loses nothing) and go when it is back; the node keeps its own
 * configuration meanwhile.  Redis restarted empty: the stream starts
 * again, the nodes go on from their last ids (later, by time), and
 * what is in the outboxes is sent; changes a node had not read before
 * the loss are lost to it (run Redis with appendonly for the stream).
 *
 * gw.db is written on the loop: a changeset is a few rows, and a
 * busy gw.db (gwctl writing) waits at most BUSY_MS, then the next poll.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "cluster.h"
#include "cluster_priv.h"
#include "db.h"
#include "log.h"
#include "util.h"

#define POLL_MS		200
#define READ_COUNT	100
#define BUSY_MS		100
#define CS_MAX		(16 * 1024 * 1024)	/* a changeset, decoded */

static sqlite3		*wdb;		/* gw.db, to write */
static char		 last_id[64] = "0-0";
static int		 following, reading, sending;
static uintptr_t	 gen;
static struct ev_timer	 poll_timer;

static void	 poll_cb(struct ev_timer *);

void
config_stream_init(void)
{
	timer_init(&poll_timer, poll_cb, NULL);
}

/* Opened on the loop, once privileges are dropped. */
static int
wdb_open(void)
{
	char err[512];
	sqlite3_stmt *st;

	if (wdb != NULL)
		return 0;
	if ((wdb = db_open(cl.state_dir, DB_GW, 0, err, sizeof(err))) ==
	    NULL) {
		log_warnx("cluster: configuration: %s", err);
		return -1;
	}
	sqlite3_busy_timeout(wdb, BUSY_MS);
	if (sqlite3_prepare_v2(wdb, "SELECT last_id FROM cluster_applied "
	    "WHERE stream = '" CK_CONFIG "'", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW &&
		    sqlite3_column_text(st, 0) != NULL)
			gw_strlcpy(last_id, (const char *)sqlite3_column_text(
			    st, 0), sizeof(last_id));
		sqlite3_finalize(st);
	}
	return 0;
}

/* Last writer (in stream order) wins; see the header comment. */
static int
on_conflict(void *arg, int why, sqlite3_changeset_iter *it)
{
	const char *tab = "?";
	int ncol, op, ind;

	switch (why) {
	case SQLITE_CHANGESET_DATA:
	case SQLITE_CHANGESET_CONFLICT:
		return SQLITE_CHANGESET_REPLACE;
	case SQLITE_CHANGESET_NOTFOUND:
		return SQLITE_CHANGESET_OMIT;
	default:
		sqlite3changeset_op(it, &tab, &ncol, &op, &ind);
		log_warnx("cluster: configuration change %s: a change of %s "
		    "breaks a constraint here: skipped", (const char *)arg,
		    tab);
		return SQLITE_CHANGESET_OMIT;
	}
}

static int
note_applied(const char *id)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(wdb, "INSERT OR REPLACE INTO cluster_applied "
	    "(stream, last_id) VALUES ('" CK_CONFIG "', ?)", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * One stream entry: id, then node NODE cs BASE64.  0 applied (or
 * skipped for good), -1 gw.db is busy or failing: the entry is read
 * again at the next poll.
 */
static int
apply_entry(const redisReply *e)
{
	const redisReply *f;
	const char *node = "?", *b64 = NULL;
	char id[64];
	size_t b64len = 0, n = 0;
	unsigned char *cs = NULL;
	int rc;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    !cl_is_str(e->element[0]) || e->element[0]->len >= sizeof(id) ||
	    (f = e->element[1])->type != REDIS_REPLY_ARRAY)
		return 0;
	memcpy(id, e->element[0]->str, e->element[0]->len + 1);
	for (size_t i = 0; i + 1 < f->elements; i += 2) {
		if (!cl_is_str(f->element[i]) || !cl_is_str(f->element[i + 1]))
			continue;
		if (strcmp(f->element[i]->str, "node") == 0)
			node = f->element[i + 1]->str;
		else if (strcmp(f->element[i]->str, "cs") == 0) {
			b64 = f->element[i + 1]->str;
			b64len = f->element[i + 1]->len;
		}
	}
	if (b64 == NULL || b64len / 4 * 3 > CS_MAX ||
	    (cs = malloc(b64len / 4 * 3 + 3)) == NULL ||
	    base64_decode(b64, b64len, cs, b64len / 4 * 3 + 3, &n) == -1 ||
	    n == 0) {
		log_warnx("cluster: configuration change %s from %s: not a "
		    "changeset: skipped", id, node);
		free(cs);
		cs = NULL;
	}
	if (sqlite3_exec(wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		free(cs);
		return -1;	/* busy: next poll */
	}
	rc = cs ? sqlite3changeset_apply(wdb, (int)n, cs, NULL, on_conflict,
	    id) : SQLITE_OK;
	if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
		log_warnx("cluster: configuration change %s from %s: %s: "
		    "skipped", id, node, sqlite3_errstr(rc));
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED ||
	    note_applied(id) == -1 ||
	    sqlite3_exec(wdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_exec(wdb, "ROLLBACK", NULL, NULL, NULL);
		free(cs);
		return -1;
	}
	gw_strlcpy(last_id, id, sizeof(last_id));
	if (cs)
		log_info("cluster: configuration change %s from %s applied",
		    id, node);
	free(cs);
	return 0;
}

static void
read_done(redisReply *rep, void *arg)
{
	redisReply **e;
	size_t n = 0, i = 0;

	if ((uintptr_t)arg != gen)
		return;
	reading = 0;
	if (rep == NULL)
		return;
	e = cl_stream_entries(rep, &n, "configuration");
	for (i = 0; i < n; i++)
		if (apply_entry(e[i]) == -1)
			break;
	timer_add(&poll_timer, n >= READ_COUNT && i == n ? 0 : POLL_MS);
}

/* Sending: the oldest change gwctl made here. */

struct sent {
	uintptr_t	 gen;
	int64_t		 row;
};

static void
send_done(redisReply *rep, void *arg)
{
	struct sent *s = arg;
	sqlite3_stmt *st;

	if (s->gen == gen)
		sending = 0;	/* else a new connection's flag */
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
		if (rep)
			log_warnx("cluster: configuration change: %s",
			    rep->str);
		free(s);
		return;		/* again at the next poll while up */
	}
	/* Redis has it: it is the stream's now. */
	if (sqlite3_prepare_v2(wdb, "DELETE FROM cluster_outbox WHERE id = ?",
	    -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, s->row);
		if (sqlite3_step(st) != SQLITE_DONE)
			log_warnx("cluster: gw.db: %s (the change will be "
			    "sent again: harmless)", sqlite3_errmsg(wdb));
		sqlite3_finalize(st);
	}
	if (s->gen == gen)
		timer_add(&poll_timer, 0);
	free(s);
}

static void
send_oldest(void)
{
	sqlite3_stmt *st;
	const void *cs;
	char *b64;
	size_t cap;
	int n;
	struct sent *s;

	if (sqlite3_prepare_v2(wdb, "SELECT id, changeset FROM cluster_outbox "
	    "ORDER BY id LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		return;
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->gen = gen;
	s->row = sqlite3_column_int64(st, 0);
	cs = sqlite3_column_blob(st, 1);
	n = sqlite3_column_bytes(st, 1);
	cap = base64_encoded_size((size_t)n) + 1;
	b64 = xcalloc(1, cap);
	if (base64_encode(cs, (size_t)n, b64, cap) >= 0) {
		const char *argv[] = { "XADD", CK_CONFIG, "*", "node",
		    cl.node, "cs", b64 };

		sending = 1;
		cl_command(send_done, s, nitems(argv), argv);
	} else
		free(s);
	free(b64);
	sqlite3_finalize(st);
}

static void
poll_cb(struct ev_timer *t)
{
	char count[16];
	const char *argv[] = { "XREAD", "COUNT", count, "STREAMS", CK_CONFIG,
	    last_id };

	if (!following || wdb_open() == -1) {
		if (following)
			timer_add(&poll_timer, POLL_MS * 5);
		return;
	}
	if (!sending)
		send_oldest();
	if (reading)
		return;
	reading = 1;
	snprintf(count, sizeof(count), "%d", READ_COUNT);
	cl_command(read_done, (void *)gen, nitems(argv), argv);
}

void
config_stream_start(void)
{
	gen++;
	following = 1;
	reading = sending = 0;
	timer_add(&poll_timer, 0);
}

void
config_stream_stop(void)
{
	gen++;
	following = reading = sending = 0;
	timer_del(&poll_timer);
}
