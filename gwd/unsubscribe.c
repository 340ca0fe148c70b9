/*
 * unsubscribe.c - one-click unsubscribe links, and the requests for
 * them on the HTTPS listener (https.c; see unsubscribe.h).
 * Standards: RFC 8058 (one-click), RFC 2369 (List-Unsubscribe).
 * Exposure: URL paths and POST bodies from anyone on the internet.  A
 * token is believed only when its HMAC verifies (unsubkey.c); anything
 * else is a 404 that says nothing of why.  A body is read up
 * to BODY_MAX bytes (more: 413).  The recipient a page shows is HTML-
 * escaped.
 * Diagnostics: nothing fatal; refusals at debug level, each unsubscribe
 * as an "unsubscribed" event and a log line.
 */
#include <netinet/in.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "auth.h"
#include "buf.h"
#include "cidr.h"
#include "ctlproto.h"
#include "event.h"
#include "gwd.h"
#include "http.h"
#include "log.h"
#include "retpath.h"
#include "store.h"
#include "suppress.h"
#include "unsubkey.h"
#include "unsubscribe.h"
#include "unsubtok.h"
#include "util.h"

/* RFC 8058's body is 26 bytes; a browser's form a little more. */
#define BODY_MAX	1024
#define ONE_CLICK	"List-Unsubscribe=One-Click"
/* Whatever is wrong with a link, the same answer. */
#define UNKNOWN		"unknown link\n"

/* One request on the HTTPS listener. */
struct unsub_req {
	int		 api;		/* 0: struct https_req (http.h) */
	struct http_server *srv;
	struct buf	 body;
	int		 too_big;
	int		 waiting;	/* suspended until the commit */
	int		 stored;	/* the commit is done */
	int		 failed;	/* and it is not on disk */
	char		 sub[CTL_NAME_MAX + 1];
	char		 rcpt[UNSUBTOK_RCPT_MAX + 1];
	struct MHD_Connection *c;
};

int
unsub_fields(const struct subaccount *sa, const char *rcpt, const char *qid,
    unsigned idx, struct buf *out)
{
	char tok[UNSUBTOK_MAX], mailto[ADDR_PATH_MAX + 1];

	if (retpath_unsub(sa->name, qid, idx, mailto, sizeof(mailto)) == -1)
		mailto[0] = '\0';
	/* No https link to POST to: the mailto: alone, and no
	 * List-Unsubscribe-Post (RFC 8058 3.1 asks for an https URI). */
	if (gcfg->http_public_host == NULL && mailto[0])
		return buf_printf(out, "List-Unsubscribe: <mailto:%s>\r\n",
		    mailto) == -1 ? -1 : 1;
	if (gcfg->http_public_host == NULL) {
		log_warnx("bulk mail of %s without List-Unsubscribe: set "
		    "http.public_host in %s, or give it a bounce domain",
		    sa->name, gcfg->path);
		return 0;
	}
	if (unsubkey_make(sa->id, rcpt, tok, sizeof(tok)) == -1) {
		log_warnx("bulk mail of %s to %s without List-Unsubscribe: no "
		    "unsubscribe key in gw.db, or not an address a link can "
		    "carry", sa->name, rcpt);
		return 0;
	}
	/* RFC 2369 2: the URIs in order of preference, the https one first
	 * (the one RFC 8058 POSTs to). */
	return buf_printf(out, "List-Unsubscribe: <https://%s/u/%s>%s%s%s\r\n"
	    "List-Unsubscribe-Post: " ONE_CLICK "\r\n",
	    gcfg->http_public_host, tok, mailto[0] ? ",\r\n <mailto:" : "",
	    mailto, mailto[0] ? ">" : "") == -1 ? -1 : 1;
}

/* The subaccount and recipient a path names, or NULL. */
static const struct subaccount *
unsub_token(const char *url, struct unsubtok *t)
{
	const char *tok;

	if (strncmp(url, "/u/", 3) != 0)
		return NULL;
	tok = url + 3;
	if (unsubkey_check(tok, strlen(tok), t) == -1) {
		log_debug("http.listen: a token that does not verify");
		return NULL;
	}
	accounts_poll();	/* a subaccount gwctl added just now */
	return account_by_id(t->subaccount);
}

static enum MHD_Result
text_reply(struct MHD_Connection *c, unsigned status, const char *msg)
{
	return http_reply(c, status, "text/plain; charset=utf-8", msg,
	    strlen(msg), 0);
}

static void
html_escaped(struct buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': buf_puts(b, "&lt;"); break;
		case '>': buf_puts(b, "&gt;"); break;
		case '&': buf_puts(b, "&amp;"); break;
		case '"': buf_puts(b, "&quot;"); break;
		case '\'': buf_puts(b, "&#39;"); break;
		default: buf_putc(b, *s);
		}
	}
}

/* For people who click: what the button does, and the button (which
 * POSTs the one-click body to this same URL). */
static enum MHD_Result
unsub_page(struct MHD_Connection *c, const char *rcpt)
{
	struct buf b;
	enum MHD_Result r;

	buf_init(&b, 16384);
	buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\"><title>Unsubscribe</title></head>\n"
	    "<body><p>Stop this sender's mail to ");
	html_escaped(&b, rcpt);
	buf_puts(&b, "?</p>\n<form method=\"post\"><input type=\"hidden\" "
	    "name=\"List-Unsubscribe\" value=\"One-Click\">"
	    "<button type=\"submit\">Unsubscribe</button></form>"
	    "</body></html>\n");
	r = http_reply(c, MHD_HTTP_OK, "text/html; charset=utf-8",
	    buf_ptr(&b), buf_len(&b), HTTP_NOSTORE);
	buf_free(&b);
	return r;
}

/*
 * The POST's op is committed, or failed.  Ops commit in the order they
 * were submitted: when a POST found the address suppressed already (a
 * POST before it, perhaps still on its way to disk), its empty op is
 * done only after that one, and then the entry is still in memory only
 * if it reached the disk.
 */
static void
unsub_stored(struct store_op *op)
{
	struct unsub_req *rq = op->arg;

	if (op->failed) {
		log_warnx("unsubscribe not stored: %s", op->error);
		if (op->nsupp > 0)
			suppress_forget(op->supp[0].subaccount,
			    op->supp[0].address);
	}
	rq->failed = op->failed || suppress_find(rq->sub, rq->rcpt) == NULL;
	rq->stored = 1;
	MHD_resume_connection(rq->c);
	http_kick(rq->srv);
	store_op_free(op);
}

int
unsub_record(struct store_op *op, const char *sub, const char *rcpt,
    const char *qid, const char *ip, const char *via)
{
	struct audit_event *ev;

	if (suppress_find(sub, rcpt) != NULL)
		return 0;
	if (suppress_unsubscribe(op, sub, rcpt) == -1)
		return -1;
	ev = store_op_event(op, event_name(EV_UNSUBSCRIBED), qid);
	ev->subaccount = xstrdup(sub);
	ev->recipient = xstrdup(rcpt);
	ev->client_ip = ip[0] ? xstrdup(ip) : NULL;
	ev->detail = xasprintf("via=%s", via);
	log_info("unsubscribed subaccount=%s rcpt=%s ip=%s via=%s%s%s", sub,
	    rcpt, ip, via, qid ? " qid=" : "", qid ? qid : "");
	return 1;
}

/* Suppress, log, and answer once it is on disk (the connection waits,
 * suspended); 503 when it could not be stored (the sender retries).
 * Already suppressed: nothing new, the same answer. */
static enum MHD_Result
unsub_post(struct unsub_req *rq, const struct subaccount *sa,
    const char *rcpt)
{
	const union MHD_ConnectionInfo *ci;
	struct store_op *op;
	char ip[64] = "";
	int r;

	ci = MHD_get_connection_info(rq->c,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr)
		sockaddr_ntop(ci->client_addr, ip, sizeof(ip));
	op = store_op_new();
	if ((r = unsub_record(op, sa->name, rcpt, NULL, ip,
	    "https one-click")) == -1) {
		store_op_free(op);
		return text_reply(rq->c, MHD_HTTP_NOT_FOUND, UNKNOWN);
	}
	/* Done now (1) or before (0): either way the answer waits until
	 * it is on disk, so a second POST racing the first is not told
	 * 200 before the first's commit (it logs no second event). */
	gw_strlcpy(rq->sub, sa->name, sizeof(rq->sub));
	gw_strlcpy(rq->rcpt, rcpt, sizeof(rq->rcpt));
	op->done = unsub_stored;
	op->arg = rq;
	rq->waiting = 1;
	MHD_suspend_connection(rq->c);
	store_submit(op);
	return MHD_YES;
}

enum MHD_Result
unsub_answer(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **req_cls)
{
	struct unsub_req *rq = *req_cls;
	const struct subaccount *sa;
	struct unsubtok t;
	int post = strcmp(method, "POST") == 0;

	if (rq == NULL) {
		/* The headers: the body, if any, comes in later calls. */
		rq = xcalloc(1, sizeof(*rq));
		rq->srv = cls;
		buf_init(&rq->body, BODY_MAX);
		rq->c = c;
		*req_cls = rq;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!rq->too_big && buf_append(&rq->body, upload_data,
		    *upload_data_size) == -1)
			rq->too_big = 1;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rq->waiting)	/* resumed: the suppression is on disk, or not */
		return rq->failed ? text_reply(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "not stored; try again later\n") :
		    http_reply(c, MHD_HTTP_OK, NULL, "", 0, 0);
	if (!post && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return text_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "only GET and POST\n");
	if ((sa = unsub_token(url, &t)) == NULL)
		return text_reply(c, MHD_HTTP_NOT_FOUND, UNKNOWN);
	if (!post)
		return unsub_page(c, t.rcpt);
	if (rq->too_big)
		return text_reply(c, MHD_HTTP_CONTENT_TOO_LARGE,
		    "too large\n");
	/* RFC 8058 3.2: the body says one-click (a form's encoding, or a
	 * part of multipart/form-data). */
	if (memmem(buf_ptr(&rq->body), buf_len(&rq->body), "One-Click",
	    9) == NULL)
		return text_reply(c, MHD_HTTP_BAD_REQUEST, "expected "
		    ONE_CLICK "\n");
	return unsub_post(rq, sa, t.rcpt);
}

void
unsub_done(void *cls, struct MHD_Connection *c, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct unsub_req *rq = *req_cls;

	if (rq) {
		buf_free(&rq->body);
		free(rq);
		*req_cls = NULL;
	}
}
