/*
 * auditlog.h - the audit event, and writing it into log.db: the event
 * row, its full-text index row, and the recipients of a received
 * message.  gwd's modules make events through store.h.
 *
 * The store thread is its one user in gwd; bench/logfill uses the same
 * writer to build large logs for bench/search.  The caller brackets
 * writes in transactions and calls auditlog_flush() before each COMMIT
 * (auditlog_forget() after a ROLLBACK): the events' counts go into
 * event_tally (tally.h) in the same transaction.
 */
#ifndef GW_AUDITLOG_H
#define GW_AUDITLOG_H

#include <stdint.h>

#include <sqlite3.h>

#include "tally.h"

/* One audit event (a row of log.db's event table).  Strings are owned. */
struct audit_event {
	struct audit_event *next;
	int64_t		 id;		/* 0 until the outbox gives one */
	int64_t		 ts;		/* unix microseconds */
	const char	*action;	/* static string */
	char		*qid;
	char		*subaccount;
	char		*client_ip;
	char		*sender;
	char		*recipient;
	char		*message_id;
	char		*subject;
	char		*from_addr;
	int64_t		 size;		/* -1 = none */
	char		*tls;
	const char	*tls_policy;	/* static string, or NULL */
	int		 tls_verified;	/* 1, 0; -1 = none (no TLS) */
	char		*tls_note;	/* why not verified, or no TLS */
	char		*username;	/* auth: the name a client tried */
	char		*remote_host;
	char		*remote_ip;
	int		 reply_code;	/* 0 = none */
	char		*reply_status;
	char		*reply_text;
	int64_t		 duration_ms;	/* -1 = none */
	char		*detail;
	const char	*bounce_class;	/* static string, or NULL */
	char		**rcpts;	/* event_rcpt rows (received only) */
	int		 nrcpts;
};

/* The columns of an event, as log.db's event table and queue.db's
 * outbox both have them, in audit_bind()'s order. */
#define AUDIT_COLUMNS	"ts, qid, action, subaccount, client_ip, sender, " \
	"recipient, message_id, subject, from_addr, size, tls, remote_host, " \
	"remote_ip, reply_code, reply_status, reply_text, duration_ms, " \
	"detail, class, tls_policy, tls_verified, tls_note, username"
#define AUDIT_PARAMS	"?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, " \
	"?, ?, ?, ?, ?, ?, ?, ?"
#define AUDIT_NCOLUMNS	24

struct auditlog {
	sqlite3		*db;
	sqlite3_stmt	*ins_ev;
	sqlite3_stmt	*ins_fts;
	sqlite3_stmt	*ins_rcpt;
	sqlite3_stmt	*last_id, *get;
	sqlite3_stmt	*received;	/* a delivery's message's reception */
	struct tally	 tally;		/* of the events written, unflushed */
};

/* Prepare the statements on ldb and set the index's merge policy (fatal
 * if the schema is not there). */
void	auditlog_open(struct auditlog *, sqlite3 *ldb);
void	auditlog_close(struct auditlog *);
/*
 * Write one event: 0, or -1 (sqlite3_errmsg(ldb) says why).  An event
 * with an id (ev->id, given by the outbox) keeps it; without one,
 * log.db gives the next.
 */
int	auditlog_write(struct auditlog *, const struct audit_event *);
/* Add the events written since the last flush to event_tally, inside
 * the caller's transaction (before its COMMIT): 0, or -1 (errmsg). */
int	auditlog_flush(struct auditlog *);
/* The transaction was rolled back: forget the events' counts. */
void	auditlog_forget(struct auditlog *);
/* The highest id log.db has ever given or taken (ids are never used
 * twice, even after pruning), 0 when none, or -1. */
int64_t	auditlog_last_id(struct auditlog *);
/* Is the row with ev->id this event (the same time, action and queue
 * id)?  1 or 0. */
int	auditlog_has(struct auditlog *, const struct audit_event *);
/* Bind ev's AUDIT_COLUMNS to parameters first.. of st, in order. */
void	audit_bind(sqlite3_stmt *st, int first, const struct audit_event *);

/*
 * Keep the full-text index quick: merge its segments, at most `pages`
 * leaf pages of work per call (FTS5 'merge'; auditlog_open() sets
 * usermerge 2, so every level is folded as soon as it holds two
 * segments).  Left alone, the
 * many small segments of a busy log made a two-word search on 10
 * million events take 3 s instead of 20 ms.  0, or -1.
 */
int	auditlog_maintain(sqlite3 *ldb, int pages);

#endif
