/*
 * evjson.h - one audit event as a JSON object with Elastic Common
 * Schema field names: the schema of gwsearch's jsonl and of the events
 * gwd's webhooks post (man/gw-events.7).  One writer for both, so the
 * two cannot drift apart.
 * Diagnostics: none; a failed append is remembered by the json_obj and
 * reported by json_obj_end().
 */
#ifndef GW_EVJSON_H
#define GW_EVJSON_H

#include <stdint.h>

struct buf;
struct json_obj;

/* One row of log.db's event table; strings are NULL when the column is. */
struct event {
	int64_t		 id, ts;
	char		*qid, *action, *subaccount, *client_ip, *sender;
	char		*recipient, *message_id, *subject, *from_addr, *tls;
	char		*remote_host, *remote_ip, *reply_status;
	char		*reply_text;
	char		*detail;
	char		*bounce_class;	/* bounce.h's name */
	char		*tls_policy;	/* of a delivery attempt */
	char		*tls_note;	/* why not verified, or no TLS */
	char		*username;	/* auth: the name a client tried */
	int64_t		 size, reply_code, duration_ms, tls_verified;
	int		 has_size, has_reply_code, has_duration;
	int		 has_tls_verified;
};

/* The ECS version whose field names and values the JSON follows. */
#define EVJSON_ECS_VERSION	"8.11.0"

/* e's fields into the object o has open; host: observer.hostname. */
void	 evjson_fields(struct json_obj *o, const struct event *e,
	    const char *host);
/* ECS event.outcome of an action: "success", "failure", "unknown". */
const char *evjson_outcome(const char *action);
/* "a@x, b@y" -> ["a@x","b@y"], appended to b. */
void	 evjson_addresses(const char *list, struct buf *b);

#endif
