/*
 * cluster_config_send.c - this node's configuration changes to the
 * stream, for cluster_config.c: the oldest change gwctl made here that
 * waits in gw.db's cluster_outbox (cluster_outbox.c) goes to CK_CONFIG
 * (XADD, with this node's name, the row's seq and gw.db's origin), one
 * at a time so a node's changes keep their order, the next as soon as
 * Redis has taken one.  A row Redis took stays in the outbox until
 * cluster_config.c reads its entry back.
 * Exposure: what it sends is this node's gw.db (gwctl's changesets);
 * what it reads is Redis's answer to XADD, an id or an error (logged).
 * Runs in gwd's loop, unprivileged.
 * Diagnostics: none fail; a change Redis refused is logged and sent
 * again at the next poll, a sent row gw.db could not note is logged.
 *
 * cluster_config.c calls config_send_next() only once it has read the
 * stream to its end since it connected (its header comment says why),
 * and then at each poll; config_send_start() and config_send_stop()
 * come with its own start and stop, so an answer from an earlier
 * connection changes nothing.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base64.h"
#include "cluster_priv.h"
#include "log.h"
#include "util.h"

struct sent {
	uintptr_t	 gen;
	sqlite3		*db;
	int64_t		 row;
};

static uintptr_t	 gen;		/* the connection's */
static int		 sending;	/* an XADD waits for its answer */
static int64_t		 sent_row;	/* the last outbox row sent since up */

static void	send_oldest(sqlite3 *);

static void
send_done(redisReply *rep, void *arg)
{
	struct sent *s = arg;

	if (s->gen == gen)
		sending = 0;	/* else a new connection's flag */
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
		if (rep)
			log_warnx("cluster: configuration change: %s",
			    rep->str);
		free(s);
		return;		/* again at the next poll while up */
	}
	/* Redis has it: the row stays till it is read back (ours). */
	if (outbox_sent(s->db, s->row) == -1)
		log_warnx("cluster: gw.db: %s (a change sent, not noted so)",
		    sqlite3_errmsg(s->db));
	/* The next at once, not after the read's POLL_MS (this connection
	 * read the stream to its end before it sent the first). */
	if (s->gen == gen) {
		sent_row = s->row;
		send_oldest(s->db);
	}
	free(s);
}

static void
send_oldest(sqlite3 *db)
{
	sqlite3_stmt *st;
	const void *cs;
	char *b64;
	size_t cap;
	int n;
	struct sent *s;
	int64_t seqn;
	char seq[32];

	if (sqlite3_prepare_v2(db, "SELECT id, changeset FROM cluster_outbox "
	    "WHERE id > ? ORDER BY id LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(st, 1, sent_row);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->gen = gen;
	s->db = db;
	s->row = sqlite3_column_int64(st, 0);
	seqn = outbox_seq(db, s->row);
	cs = sqlite3_column_blob(st, 1);
	n = sqlite3_column_bytes(st, 1);
	cap = base64_encoded_size((size_t)n) + 1;
	b64 = xcalloc(1, cap);
	snprintf(seq, sizeof(seq), "%" PRId64, seqn);
	if (seqn > 0 && base64_encode(cs, (size_t)n, b64, cap) >= 0) {
		const char *argv[] = { "XADD", CK_CONFIG, "*", "node",
		    cl.node, "seq", seq, "origin", outbox_origin(db), "cs",
		    b64 };

		sending = 1;
		cl_command(send_done, s, nitems(argv), argv);
	} else
		free(s);
	free(b64);
	sqlite3_finalize(st);
}

void
config_send_next(sqlite3 *db)
{
	if (!sending)
		send_oldest(db);
}

int
config_send_busy(void)
{
	return sending;
}

void
config_send_emptied(void)
{
	sent_row = 0;	/* the next row's id may be 1 again */
}

void
config_send_start(void)
{
	gen++;
	sending = 0;
	sent_row = 0;
}

void
config_send_stop(void)
{
	gen++;
	sending = 0;
}
