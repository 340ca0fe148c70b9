/*
 * gwsearch.h - searching log.db: terms and flags to filters (terms.c),
 * filters to matching messages (query.c), their events and how they are
 * printed (format.c), and the subcommands show, stats and export.
 */
#ifndef GWSEARCH_H
#define GWSEARCH_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "evjson.h"

struct buf;

#define QUERY_DEFAULT_LIMIT	100
#define QUERY_MAX_FILTERS	32
#define FILTER_MAX		998	/* an RFC 5322 line */

enum filter_kind {
	F_RECIPIENT, F_SENDER, F_SUBJECT, F_MSGID, F_STATUS, F_SUBACCOUNT,
	F_DOMAIN, F_CLIENT_IP, F_RESPONSE, F_TEXT, F_SINCE, F_UNTIL, F_CLASS,
	F_POLICY, F_TLS
};

struct filter {
	enum filter_kind	 kind;
	char			*val;	/* owned; F_TEXT: an FTS5 query */
	int64_t			 t;	/* F_SINCE, F_UNTIL: unix us */
};

/* Filters; all must match (AND). */
struct query {
	struct filter	 f[QUERY_MAX_FILTERS];
	int		 nf;
	int		 limit;		/* messages; 0 = no limit */
};

/* One matching message (qid), or one matching event without a qid. */
struct match {
	char		*qid;		/* NULL: only event `id` */
	int64_t		 id;
	int64_t		 first;	/* ts of its first event */
};

/* struct event: one row of the event table (evjson.h). */

struct message {
	struct event	*ev;
	int		 nev;
};

enum format { FMT_TABLE, FMT_JSON, FMT_CSV, FMT_CEF, FMT_SYSLOG };

#define EVENT_COLUMNS \
	"id, ts, qid, action, subaccount, client_ip, sender, recipient, " \
	"message_id, subject, from_addr, size, tls, remote_host, remote_ip, " \
	"reply_code, reply_status, reply_text, duration_ms, detail, class, " \
	"tls_policy, tls_verified, tls_note, username"

/* terms.c: 0, or -1 with a message in err. */
int	 terms_add(struct query *, enum filter_kind, const char *val,
	    char *err, size_t errsz);
int	 terms_parse(struct query *, const char *text, char *err,
	    size_t errsz);
int	 terms_time(const char *s, int64_t now, int64_t *out);
void	 terms_free(struct query *);
/* Every bounce class (bounce.h), "hard, mailbox_full, ... or other",
 * into out (n bytes): 0, or -1 when it does not fit. */
int	 terms_class_names(char *out, size_t n);
/*
 * Shell completion of the word cur: "key:" for every term key (when
 * keys), or after "status:" and "class:" their values; add(cur, word)
 * for each.  With no colon and keys 0: nothing.
 */
void	 terms_complete(const char *cur,
	    void (*add)(const char *cur, const char *w), int keys);

/* query.c */
int	 query_find(sqlite3 *, const struct query *, struct match **,
	    int *nmatch, int *truncated);
int	 query_events(sqlite3 *, const struct match *, struct message *);
/* Events with id > *after matching q, in id order, to fn; *after moves. */
int	 query_follow(sqlite3 *, const struct query *, int64_t *after,
	    void (*fn)(const struct event *, void *), void *arg);
int64_t	 query_max_id(sqlite3 *);
void	 query_event(sqlite3_stmt *, struct event *);
void	 query_event_free(struct event *);
void	 query_matches_free(struct match *, int);
void	 query_message_free(struct message *);

/* pager.c: like journalctl, a table for a terminal goes through
 * $PAGER (default "less" with LESS=FRSX); --no-pager or PAGER="" or
 * "cat" turn it off. */
void	 pager_start(void);
int	 pager_end(void);

/* format.c */
int	 format_columns(void);
void	 format_table(const struct message *);
void	 format_json(const struct message *);
void	 format_csv_header(void);
/* One RFC 4180 field into b (after a comma unless first); NULL empty. */
void	 format_csv_field(struct buf *, const char *, int first);
/* One event in a line format (not FMT_TABLE) into b, with its newline. */
void	 format_event(const struct event *, enum format, struct buf *);
/* gwd's hostname and the syslog enterprise number, from gwd.conf. */
void	 format_origin(const char *hostname, const char *node, int pen);
/* The node whose log.db this is: cluster.node, else the hostname. */
const char *format_node(void);
void	 format_time(int64_t us, char *out, size_t n);
void	 format_clean(struct buf *, const char *);
void	 format_table_event(const struct event *);

/* show.c, stats.c, export.c: exit statuses */
int	 show_main(sqlite3 *, const char *id, enum format);
int	 stats_main(sqlite3 *, int64_t since, int64_t until, const char *by,
	    enum format);
/* The --by groupings, one table: the index of name, or -1; the name
 * of index i (from 1), NULL past the last. */
int	 stats_by_parse(const char *name);
const char *stats_by_word(int i);
int	 export_main(sqlite3 *, const char *cursor, enum format,
	    const char *output);

#endif
