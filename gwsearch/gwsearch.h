/*
 * gwsearch.h - searching log.db: filters to matching messages
 * (query.c), their events, and how they are printed (format.c).
 */
#ifndef GWSEARCH_H
#define GWSEARCH_H

#include <sqlite3.h>
#include <stdint.h>

#define QUERY_DEFAULT_LIMIT	100

/* Filters; NULL = not given.  All given filters must match. */
struct query {
	const char	*recipient;	/* "user@domain", no <> */
	const char	*sender;	/* "" = the null sender <> */
	const char	*message_id;	/* without <> */
	int		 limit;		/* messages; 0 = no limit */
};

/* One matching message (qid), or one matching event without a qid. */
struct match {
	char		*qid;		/* NULL: only event `id` */
	int64_t		 id;
};

/* One row of the event table; strings are NULL when the column is. */
struct event {
	int64_t		 id, ts;
	char		*qid, *action, *subaccount, *client_ip, *sender;
	char		*recipient, *message_id, *subject, *from_addr, *tls;
	char		*remote_host, *remote_ip, *reply_status;
	char		*reply_text;
	char		*detail;
	int64_t		 size, reply_code, duration_ms;
	int		 has_size, has_reply_code, has_duration;
};

struct message {
	struct event	*ev;
	int		 nev;
};

/* query.c */
int	 query_find(sqlite3 *, const struct query *, struct match **,
	    int *nmatch, int *truncated);
int	 query_events(sqlite3 *, const struct match *, struct message *);
void	 query_matches_free(struct match *, int);
void	 query_message_free(struct message *);

/* format.c */
void	 format_table(const struct message *);
void	 format_json(const struct message *);

#endif
