/*
 * evjson.c - an audit event as ECS JSON (see evjson.h).
 *
 * The envelope sender is ECS's email.sender, the From: header's
 * mailboxes email.from; what ECS has no name for is under gw.*.
 * Exposure: subjects, addresses and remote replies were written by
 * strangers; json.c escapes them (control characters and bytes that are
 * not UTF-8 included).
 */
#include <stdio.h>
#include <string.h>

#include "addrlist.h"
#include "buf.h"
#include "event.h"
#include "evjson.h"
#include "json.h"
#include "util.h"

/* ECS event.outcome: final good, final bad, or not known yet. */
const char *
evjson_outcome(const char *action)
{
	return event_outcome_name(event_kind(event_lookup(action))->outcome);
}

/* "a@x, b@y" -> ["a@x","b@y"] */
void
evjson_addresses(const char *list, struct buf *b)
{
	const char *p = list;
	int first = 1;

	buf_putc(b, '[');
	while (*p) {
		size_t n;

		p += strspn(p, ", ");
		if ((n = strcspn(p, ",")) == 0)
			break;
		while (n > 0 && p[n - 1] == ' ')
			n--;
		buf_puts(b, first ? "\"" : ",\"");
		json_escape(b, p, n);
		buf_putc(b, '"');
		first = 0;
		p += n;
		p += strcspn(p, ",");
	}
	buf_putc(b, ']');
}

/* "TLSv1.3 TLS_AES_256_GCM_SHA384" -> tls.version 1.3, tls.cipher ... */
static void
evjson_tls(struct json_obj *o, const char *tls)
{
	char ver[64];
	const char *sp = strchr(tls, ' ');
	size_t n = sp ? (size_t)(sp - tls) : strlen(tls);

	snprintf(ver, sizeof(ver), "%.*s", (int)n, tls);
	if (strncmp(ver, "TLSv", 4) == 0 || strncmp(ver, "SSLv", 4) == 0) {
		json_obj_str(o, "tls.version", ver + 4);
		json_obj_str(o, "tls.version_protocol",
		    ver[0] == 'T' ? "tls" : "ssl");
	} else
		json_obj_str(o, "tls.version", ver);
	if (sp && sp[1])
		json_obj_str(o, "tls.cipher", sp + 1);
}

static const char *
evjson_from_one(void *arg, const char *addr, size_t at)
{
	struct buf *b = arg;

	buf_puts(b, buf_len(b) > 1 ? ",\"" : "\"");
	json_escape(b, addr, strlen(addr));
	buf_putc(b, '"');
	return NULL;
}

/* ECS email.from.address: the mailboxes of the From: header, ["a@x"];
 * a header gw cannot read (gwd refused it) is left out. */
static void
evjson_from(struct json_obj *o, const char *from)
{
	const char *why;
	struct buf b;

	if (from == NULL)
		return;
	buf_init(&b, 0);
	buf_putc(&b, '[');
	if (addrlist_parse(from, strlen(from), evjson_from_one, &b, &why) > 0) {
		buf_putc(&b, ']');
		json_obj_raw(o, "email.from.address", buf_cstr(&b));
	}
	buf_free(&b);
}

/* The envelope sender is ECS's email.sender; From: is email.from. */
static void
evjson_email(struct json_obj *o, const struct event *e)
{
	struct buf to;

	json_obj_str(o, "email.local_id", e->qid);
	json_obj_str(o, "email.sender.address", e->sender);
	evjson_from(o, e->from_addr);
	if (e->recipient) {
		buf_init(&to, 0);
		evjson_addresses(e->recipient, &to);
		json_obj_raw(o, "email.to.address", buf_cstr(&to));
		buf_free(&to);
	}
	json_obj_str(o, "email.subject", e->subject);
	json_obj_str(o, "email.message_id", e->message_id);
}

static void
evjson_gw(struct json_obj *o, const struct event *e)
{
	json_obj_int(o, "gw.event_id", e->id);
	json_obj_str(o, "gw.subaccount", e->subaccount);
	if (e->has_size)
		json_obj_int(o, "gw.size", e->size);
	json_obj_str(o, "gw.header_from", e->from_addr);
	json_obj_str(o, "gw.detail", e->detail);
	if (e->has_reply_code)
		json_obj_int(o, "gw.smtp.code", e->reply_code);
	json_obj_str(o, "gw.smtp.status", e->reply_status);
	json_obj_str(o, "gw.smtp.text", e->reply_text);
	json_obj_str(o, "gw.bounce_class", e->bounce_class);
	json_obj_str(o, "gw.tls.policy", e->tls_policy);
	if (e->has_tls_verified)
		json_obj_bool(o, "gw.tls.verified", e->tls_verified != 0);
	json_obj_str(o, "gw.tls.note", e->tls_note);
}

/* event.kind, .category, .type, .dataset and .action. */
static void
evjson_kind(struct json_obj *o, const char *action)
{
	const struct event_kind *k = event_kind(event_lookup(action));
	char v[64];

	json_obj_str(o, "event.kind", "event");
	snprintf(v, sizeof(v), "[\"%s\"]", k->ecs_category);
	json_obj_raw(o, "event.category", v);
	snprintf(v, sizeof(v), "[\"%s\"]", k->ecs_type);
	json_obj_raw(o, "event.type", v);
	json_obj_str(o, "event.dataset", "gw.events");
	json_obj_str(o, "event.action", action);
}

/*
 * event.id is ECS's unique id of an event: the id log.db and the outbox
 * give it, as a string (ECS's keyword), which a webhook receiver
 * de-duplicates on; gw.event_id is the same number, kept for readers
 * of the first jsonl.
 */
void
evjson_fields(struct json_obj *o, const struct event *e, const char *host)
{
	char t[40], id[24];

	fmt_rfc3339(e->ts, t, sizeof(t));
	snprintf(id, sizeof(id), "%lld", (long long)e->id);
	json_obj_str(o, "@timestamp", t);
	json_obj_str(o, "ecs.version", EVJSON_ECS_VERSION);
	json_obj_str(o, "event.id", id);
	evjson_kind(o, e->action);
	json_obj_str(o, "event.outcome", evjson_outcome(e->action));
	if (e->has_duration)
		json_obj_int(o, "event.duration", e->duration_ms * 1000000);
	evjson_email(o, e);
	json_obj_str(o, "observer.hostname", host);
	json_obj_str(o, "observer.product", "gwd");
	json_obj_str(o, "observer.vendor", "gw");
	json_obj_str(o, "observer.version", GW_VERSION);
	json_obj_str(o, "source.ip", e->client_ip);
	json_obj_str(o, "user.name", e->username);
	json_obj_str(o, "destination.domain", e->remote_host);
	json_obj_str(o, "destination.ip", e->remote_ip);
	if (e->tls)
		evjson_tls(o, e->tls);
	evjson_gw(o, e);
}
