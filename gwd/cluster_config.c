/*
 * cluster_config.c - gw.db's configuration shared by every node (see
 * cluster.h): subaccounts with their password and API key hashes,
 * domains, networks, pools, routing rules, throttles, content
 * policies, webhooks, alerts, HMAC keys, DKIM domain options (the
 * tables of cshare_config_tables); the HMAC keys each node's gw.db was
 * made with give way to the first node's (cluster_hmac.c).  This node's
 * changes go to the stream from cluster_config_send.c.
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
 * their order) with its name and the row's id, once it has read the
 * stream to its end since it connected (cluster_config_send.c), and
 * deletes the row when it reads the entry back (cluster_outbox.c).
 * Every node (the one that made the change too) reads the stream and
 * applies each entry to its gw.db in one transaction with
 * cluster_applied's last id, so an entry is applied exactly once and a
 * node that was down, or whose Redis was, goes on from there.
 * account.c sees the commit (PRAGMA data_version) at its next poll or
 * the next AUTH: a change reaches every node within POLL_MS twice and
 * a few round trips.
 *
 * Conflicts: the stream's order is the cluster's.  A change applied to
 * a row that differs from what the change expected (another node
 * changed it meanwhile) replaces it, an insert of a key that exists
 * replaces that row (unless the row is the insert's already), an
 * update or delete of a row that is not there is skipped: the last
 * writer in stream order wins on every node.  The node that made a
 * change has it already: applied again when it comes back, it would
 * undo for a moment whatever this node changed since (an insert
 * replacing a subaccount deletes its IP allowlist by cascade until the
 * later allow-ip comes back too).  So an entry that names this node
 * and an outbox row holding the same changeset is ours, before a
 * restart or after it, and is only noted as applied, unless another
 * node's change was applied here while some of ours were waiting in
 * cluster_outbox: that change may have overwritten ours, which stream
 * order puts after it, so ours are applied again in that order, and
 * all converge.  Applied again, ours change only the rows those other
 * changes touched (cluster_conflict.c): any other row that differs from
 * what ours expect differs because of a later change of ours, which
 * stays.  Those rows are known in memory only: a node that restarts
 * while that is so (gw.db notes it) applies ours again on every row,
 * as its later ones come back too.  Sending only once at the stream's
 * end makes an entry that went just before gwd stopped (Redis had it,
 * the row was not yet marked sent) come back before its row could go
 * again.  An entry that names this node but is none of its rows
 * (another node with the same cluster.node: gwd.conf(5)) is applied as
 * anyone's, with a warning.  A change that would break a constraint
 * other than the key (two subaccounts of one name made at once on two
 * nodes with different ids) is skipped and logged: the first one wins.
 * Nodes must start from the same gw.db (a new node: a copy of an
 * existing node's gw.db, its cluster_outbox emptied, or a fresh one,
 * which takes the last snapshot if the stream was trimmed, then
 * replays the rest: see "Snapshots" below).
 *
 * Redis away: gwctl's changes wait in cluster_outbox (on disk: a gwd
 * restart loses nothing) and go when it is back; the node keeps its own
 * configuration meanwhile.  Redis restarted empty: the stream starts
 * again, the nodes go on from their last ids (later, by time), and
 * what is in the outboxes is sent (changes sent but not read back yet
 * too); changes a node had not read before the loss are lost to it
 * (run Redis with appendonly for the stream).
 *
 * gw.db is written on the loop: a changeset is a few rows, and a
 * busy gw.db (gwctl writing) waits at most BUSY_MS, then the next poll.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base64.h"
#include "cluster.h"
#include "cshare.h"
#include "cluster_priv.h"
#include "db.h"
#include "log.h"
#include "util.h"

#define POLL_MS		200
#define READ_COUNT	100
#define BUSY_MS		100
#define CS_MAX		(16 * 1024 * 1024)	/* a changeset, decoded */
#define SNAP_LOCK_MS	30000	/* a node publishing a snapshot, at most */

static sqlite3		*wdb;		/* gw.db, to write */
static char		 last_id[64] = "0-0";
static int		 following, reading;
static int		 adopted;	/* the cluster's HMAC keys are ours */
static int		 since_snap;	/* entries applied since a snapshot */
static char		 snap_seen[64];	/* where the stream was trimmed */
static int		 behind;	/* last_id is older than that */
static int		 snapping;	/* a snapshot is being published */
static int		 offered;	/* ours offered since up */
static uintptr_t	 gen;
static int		 mixed;		/* others' changes among ours */
static int		 caught_up;	/* read to the end since up */
static int		 snapped;	/* a snapshot taken since up */
static char		 snap_at[64];	/* the snapshot's id, as last seen */
static unsigned long	 claims;
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

	if (wdb != NULL)
		return 0;
	if ((wdb = db_open(cl.state_dir, DB_GW, 0, err, sizeof(err))) ==
	    NULL) {
		log_warnx("cluster: configuration: %s", err);
		return -1;
	}
	sqlite3_busy_timeout(wdb, BUSY_MS);
	config_applied_get(wdb, CK_CONFIG, last_id, sizeof(last_id));
	adopted = config_applied_get(wdb, CK_HMAC, NULL, 0) == 0;
	/* What ours waiting met before a restart is not known: all. */
	if ((mixed = outbox_mixed(wdb)))
		conflict_touched_all();
	return 0;
}

/* A changeset in base64 (NULL: none), decoded into *n bytes (free());
 * NULL when it is not one. */
static unsigned char *
cs_decode(const redisReply *b, size_t *n)
{
	unsigned char *cs;

	*n = 0;
	if (b == NULL || b->len / 4 * 3 > CS_MAX ||
	    (cs = malloc(b->len / 4 * 3 + 3)) == NULL)
		return NULL;
	if (base64_decode(b->str, b->len, cs, b->len / 4 * 3 + 3, n) == -1 ||
	    *n == 0) {
		free(cs);
		return NULL;
	}
	return cs;
}

/* Apply changeset cs (NULL: nothing) as what stream id brings (row:
 * the outbox row of ours it is, read back, else 0), in one transaction
 * with the note of id and of the marks in f (an entry's fields, or
 * with dropped a snapshot's hash: ours in it dropped, how many): 0, or
 * -1 when gw.db is busy or failing (to be tried again). */
static int
apply_cs(const char *id, const char *what, const unsigned char *cs,
    size_t n, int64_t row, const redisReply *f, int *dropped)
{
	struct cs_applying a = { id, row != 0 };
	int rc, waiting, now_mixed, d;

	if (sqlite3_exec(wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return -1;	/* busy: next poll */
	rc = cs ? sqlite3changeset_apply(wdb, (int)n, (void *)cs, NULL,
	    conflict_resolve, &a) : SQLITE_OK;
	if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
		log_warnx("cluster: configuration %s %s: %s: skipped", what,
		    id, sqlite3_errstr(rc));
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED ||
	    config_note_applied(wdb, CK_CONFIG, id) == -1 ||
	    (row && outbox_done(wdb, row) == -1) ||
	    (d = outbox_marks_note(wdb, f, dropped != NULL)) == -1)
		goto fail;
	if (dropped)
		*dropped = d;
	/* Ours waiting besides this one (gwctl's are committed or not:
	 * gw.db is ours till COMMIT); whether others' may have overwritten
	 * them is kept in gw.db too, for after a restart. */
	waiting = !outbox_empty(wdb);
	now_mixed = waiting && (mixed || cs != NULL);
	if (now_mixed != mixed && (now_mixed ? outbox_mixed_set(wdb, id) :
	    outbox_mixed_clear(wdb)) == -1)
		goto fail;
	if (sqlite3_exec(wdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	gw_strlcpy(last_id, id, sizeof(last_id));
	if (!waiting) {
		mixed = 0;
		config_send_emptied();
		conflict_touched_clear();
	} else if (cs) {
		mixed = 1;
		if (!row)
			conflict_touched_add(cs, n);
	}
	return 0;
fail:
	sqlite3_exec(wdb, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/*
 * One stream entry: id, then node NODE seq ROW cs BASE64 (no seq: an
 * older gwd's).  0 applied (or skipped for good), -1 gw.db is busy or
 * failing: the entry is read again at the next poll.
 */
static int
apply_entry(const redisReply *e)
{
	const redisReply *f, *nr;
	const char *node;
	char id[64];
	size_t n = 0;
	unsigned char *cs;
	int64_t row;
	int rc, mine;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    !cl_is_str(e->element[0]) || e->element[0]->len >= sizeof(id) ||
	    (f = e->element[1])->type != REDIS_REPLY_ARRAY)
		return 0;
	memcpy(id, e->element[0]->str, e->element[0]->len + 1);
	node = (nr = cl_field(f, "node")) ? nr->str : "?";
	if ((cs = cs_decode(cl_field(f, "cs"), &n)) == NULL)
		log_warnx("cluster: configuration change %s from %s: not a "
		    "changeset: skipped", id, node);
	/* Ours, here already (see the header comment): noted only. */
	row = outbox_ours(wdb, f, cs, n);
	if (!row && strcmp(node, cl.node) == 0 && cl_field(f, "seq"))
		log_warnx("cluster: configuration change %s names this node "
		    "(%s) but is none of its changes waiting here: is "
		    "cluster.node \"%s\" set on another node too?", id, node,
		    node);
	mine = row && !mixed;
	if ((rc = apply_cs(id, "change", mine ? NULL : cs, n, row, f,
	    NULL)) == 0) {
		if (snap_id_cmp(id, snap_at) > 0)	/* not in it */
			since_snap++;
		if (cs)
			log_info("cluster: configuration change %s from %s "
			    "%s", id, node, mine ? "ours, here already" :
			    "applied");
	}
	free(cs);
	return rc;
}

/*
 * Snapshots.  The stream would grow for ever, and a new node would
 * replay every change ever made.  So a node that has applied
 * cl.snapshot_every entries since the last snapshot, is at the
 * stream's end and has nothing of its own waiting, asks for the right
 * to publish (CS_SNAPCLAIM: a lock with a TTL, granted only to a node
 * that saw the snapshot there now, so one node of the many that get
 * there at once publishes, and none again for an interval another
 * published), then publishes its shared tables as one changeset of
 * inserts with the id of the last entry applied (the script
 * CS_SNAPSHOT keeps it only if it is newer than the snapshot there,
 * and gives the lock back; a node that dies holding it holds it for
 * SNAP_LOCK_MS), and the stream is trimmed below the snapshot it
 * replaces (XTRIM MINID): one generation is kept, so a node that is
 * merely a little behind never needs a snapshot, which would undo for
 * a moment the changes it made since.  At each poll a node asks the
 * snapshot's id and where the stream was trimmed with its read
 * (pipelined: no extra round trip); when its own last id is older than
 * the trim (a new node, one that was down), it drops what it read,
 * takes the snapshot, applies the difference between it and its own
 * tables (rows the cluster deleted are deleted here) with the
 * snapshot's id, and reads on from there.  Our rows in the snapshot
 * (its marks: cluster_outbox.c) are deleted, not sent again.
 */
static void
snap_loaded(redisReply *rep, void *arg)
{
	const redisReply *idr, *nr;
	unsigned char *snap = NULL;
	void *cs = NULL;
	size_t n = 0;
	int csn = 0, ours = 0;

	if ((uintptr_t)arg != gen)
		return;
	reading = 0;
	if (rep == NULL)
		return;
	timer_add(&poll_timer, POLL_MS);
	if (rep->type != REDIS_REPLY_ARRAY || (idr = cl_field(rep, "id")) ==
	    NULL || idr->len >= sizeof(last_id) ||
	    (snap = cs_decode(cl_field(rep, "cs"), &n)) == NULL) {
		log_warnx("cluster: configuration snapshot: unexpected reply");
		return;
	}
	nr = cl_field(rep, "node");
	if (snap_diff(sqlite3_db_filename(wdb, "main"), snap, (int)n, &cs,
	    &csn) == 0 && apply_cs(idr->str, "snapshot", csn ? cs : NULL,
	    (size_t)csn, 0, rep, &ours) == 0) {
		snapped = 1;
		log_info("cluster: configuration snapshot %s from %s applied "
		    "(%d bytes of changes here)", idr->str, nr ? nr->str : "?",
		    csn);
		if (ours > 0)
			log_info("cluster: %d configuration change(s) of ours "
			    "in the snapshot taken: not sent again", ours);
		behind = 0;
		since_snap = 0;
		timer_add(&poll_timer, 0);
	}
	sqlite3_free(cs);
	free(snap);
}

/* The snapshot's id and where the stream was trimmed (each nil while
 * there is none). */
static void
snap_id_done(redisReply *rep, void *arg)
{
	const redisReply *at, *tr;
	const char *id;

	if ((uintptr_t)arg != gen || rep == NULL ||
	    rep->type != REDIS_REPLY_ARRAY || rep->elements != 2)
		return;
	at = rep->element[0];
	tr = rep->element[1];
	/* None (Redis emptied): "", or no node could claim the next. */
	id = at->type == REDIS_REPLY_NIL ? "" : cl_is_str(at) &&
	    at->len < sizeof(snap_at) ? at->str : NULL;
	if (id != NULL && strcmp(id, snap_at) != 0) {
		gw_strlcpy(snap_at, id, sizeof(snap_at));
		since_snap = 0;		/* a node made a snapshot */
	}
	if (!cl_is_str(tr) || tr->len >= sizeof(snap_seen))
		return;
	gw_strlcpy(snap_seen, tr->str, sizeof(snap_seen));
	behind = snap_id_cmp(last_id, snap_seen) < 0;
}

static void
snap_published(redisReply *rep, void *arg)
{
	if ((uintptr_t)arg == gen)
		snapping = 0;
	if (cl_is_str(rep))
		log_info("cluster: configuration snapshot at %s published, "
		    "the stream trimmed below it", rep->str);
}

static char	 claim_token[128];	/* the lock's value, ours */

/* The lock is ours (CS_SNAPCLAIM): publish, and give it back. */
static void
snap_publish(redisReply *rep, void *arg)
{
	void *cs = NULL;
	char *b64, *marks;
	size_t cap;
	int n;

	if ((uintptr_t)arg != gen)
		return;
	snapping = 0;
	if (rep == NULL || rep->type != REDIS_REPLY_INTEGER ||
	    rep->integer != 1)
		return;		/* another node's, or not at the one seen */
	since_snap = 0;
	if ((marks = outbox_marks(wdb)) == NULL ||
	    snap_make(sqlite3_db_filename(wdb, "main"), &cs, &n) == -1) {
		free(marks);
		return;		/* the lock lapses */
	}
	cap = base64_encoded_size((size_t)n) + 1;
	b64 = xcalloc(1, cap);
	if (n > 0 && base64_encode(cs, (size_t)n, b64, cap) >= 0) {
		snapping = 1;
		cl_eval(CS_SNAPSHOT, snap_published, (void *)gen, 3, 8,
		    CK_CONFIG_SNAP, CK_CONFIG, CK_CONFIG_SNAP_LOCK, last_id,
		    b64, cl.node, claim_token, marks);
	}
	free(marks);
	free(b64);
	sqlite3_free(cs);
}

/* One node publishes each snapshot: the one that takes the lock while
 * the snapshot there is the one it saw (see "Snapshots"). */
static void
snap_claim(void)
{
	char ttl[16];

	snprintf(claim_token, sizeof(claim_token), "%s %ld %lu", cl.node,
	    (long)getpid(), ++claims);
	snprintf(ttl, sizeof(ttl), "%d", SNAP_LOCK_MS);
	snapping = 1;
	cl_eval(CS_SNAPCLAIM, snap_publish, (void *)gen, 2, 5,
	    CK_CONFIG_SNAP_LOCK, CK_CONFIG_SNAP, claim_token, ttl, snap_at);
}

/* At the stream's end for the first time since up: what is in the
 * outbox now goes (in order); rows sent before a snapshot taken
 * meanwhile whose entries did not come back were trimmed into it. */
static void
read_caught_up(void)
{
	int n;

	caught_up = 1;
	if (snapped && (n = outbox_drop_sent(wdb)) > 0)
		log_info("cluster: %d configuration change(s) of ours in the "
		    "snapshot taken: not sent again", n);
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
	if (behind) {
		const char *argv[] = { "HGETALL", CK_CONFIG_SNAP };

		reading = 1;
		cl_command(snap_loaded, (void *)gen, nitems(argv), argv);
		return;
	}
	e = cl_stream_entries(rep, &n, "configuration");
	for (i = 0; i < n; i++)
		if (apply_entry(e[i]) == -1)
			break;
	if (i == n && n < READ_COUNT && rep->type != REDIS_REPLY_ERROR) {
		if (!caught_up)
			read_caught_up();
		if (since_snap >= cl.snapshot_every && !snapping &&
		    !config_send_busy() && outbox_empty(wdb))
			snap_claim();
	}
	timer_add(&poll_timer, n >= READ_COUNT && i == n ? 0 : POLL_MS);
}

static void
hmac_done(redisReply *rep, void *arg)
{
	if ((uintptr_t)arg != gen)
		return;
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
		offered = 0;	/* again at the next poll */
		timer_add(&poll_timer, POLL_MS);
		return;
	}
	if (!adopted && hmac_adopt(wdb, rep) == 0)
		adopted = 1;
	if (!adopted)
		offered = 0;
	timer_add(&poll_timer, adopted ? 0 : POLL_MS);
}

static void
poll_cb(struct ev_timer *t)
{
	char count[16];
	const char *argv[] = { "XREAD", "COUNT", count, "STREAMS", CK_CONFIG,
	    last_id };
	const char *snap_argv[] = { "HMGET", CK_CONFIG_SNAP, "id",
	    "trimmed" };

	if (!following || wdb_open() == -1 || outbox_origin(wdb) == NULL) {
		if (following)
			timer_add(&poll_timer, POLL_MS * 5);
		return;
	}
	if (!offered) {
		offered = 1;
		hmac_offer(wdb, hmac_done, (void *)gen);
	}
	if (!adopted)
		return;		/* hmac_done() comes back */
	if (caught_up)
		config_send_next(wdb);
	if (reading)
		return;
	reading = 1;
	snprintf(count, sizeof(count), "%d", READ_COUNT);
	cl_command(snap_id_done, (void *)gen, nitems(snap_argv), snap_argv);
	cl_command(read_done, (void *)gen, nitems(argv), argv);
}

void
config_stream_start(void)
{
	gen++;
	following = 1;
	reading = offered = snapping = behind = 0;
	caught_up = snapped = 0;
	config_send_start();
	timer_add(&poll_timer, 0);
}

void
config_stream_stop(void)
{
	gen++;
	following = reading = offered = snapping = behind = 0;
	config_send_stop();
	timer_del(&poll_timer);
}
