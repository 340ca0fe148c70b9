/*
 * suppress.h - the suppression list as gwd sees it: recipients refused
 * at RCPT.
 *
 * Two owners, one list.  Admin entries (gwctl suppression add/import)
 * live in gw.db and come with the subaccount snapshot (auth.c), so a
 * change applies at the next RCPT.  Entries gwd adds itself after a
 * hard bounce or a one-click unsubscribe (unsubscribe.c) live in
 * queue.db, written through the store thread in the
 * same transaction that removes the bounced recipient; they are
 * deleted over the control socket, since only gwd writes queue.db.
 * In a cluster (cluster.h) both kinds are also published to Redis, and
 * the other nodes' entries come back from it into a third map, checked
 * after this node's own.
 */
#ifndef GW_SUPPRESS_H
#define GW_SUPPRESS_H

#include <sqlite3.h>
#include <stdint.h>

struct conn;
struct store_op;

#define SUPPRESS_REASON_MAX	200

struct suppression {
	char		*reason;
	char		*source;	/* "admin", "import", "bounce",
					   "unsubscribe", or suppress_add()'s
					   why; the entry's own copy */
	int64_t		 created;	/* unix seconds */
};

/* gwd's own entries from queue.db (after the store has migrated it). */
int	 suppress_init(const char *state_dir, char *err, size_t errsz);
/* Replace the admin entries from gw.db, inside the caller's read
 * transaction (the snapshot of auth.c): their number, or -1. */
int	 suppress_load_admin(sqlite3 *gdb);
/* The entry that refuses addr for subaccount: its own (bounce, then
 * admin), else a global one; NULL when addr may be sent to. */
const struct suppression *suppress_find(const char *subaccount,
	    const char *addr);
/* addr hard-bounced with `reply`: suppress it for the subaccount, in
 * memory now and in queue.db with op. */
void	 suppress_bounce(struct store_op *, const char *subaccount,
	    const char *addr, const char *reply);
/* The reason of an unsubscribe's entry (it tells them apart in
 * queue.db, whose table has no source column). */
#define SUPPRESS_UNSUBSCRIBE	"unsubscribe"
/* The recipient unsubscribed from the subaccount's mail: suppress it,
 * in memory now and in queue.db with op.  -1: not an address. */
int	 suppress_unsubscribe(struct store_op *, const char *subaccount,
	    const char *addr);
/* The op that carried gwd's entry for (subaccount, addr) failed: it is
 * not on disk, so it goes from memory too. */
void	 suppress_forget(const char *subaccount, const char *addr);
/* The same for another reason: why ("hard bounce", "complaint") and
 * text (a reply, a feedback type) make the entry's reason, "WHY
 * YYYY-MM-DD: TEXT". */
void	 suppress_add(struct store_op *, const char *subaccount,
	    const char *addr, const char *why, const char *text);
/* An entry of the cluster's list added (add 1) or deleted, as Redis
 * tells it (cluster_supp.c): key "SUBACCOUNT\nADDRESS", untrusted. */
void	 suppress_shared(int add, const char *key, const char *reason,
	    const char *source, int64_t created);
/* Control socket: "suppression delete SUBACCOUNT ADDRESS" (the text
 * after "suppression ").  Answers on c, perhaps after a commit. */
void	 suppress_control(struct conn *, const char *args);

#endif
