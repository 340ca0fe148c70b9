/*
 * api_reply.c - the send API's answers (api_int.h): the one set for a
 * request and sent at the next call of its handler, problem+json
 * bodies (RFC 9457), and what an SMTP refusal is over HTTP.
 * Standards: RFC 9110 (status codes, Retry-After), RFC 6750 3
 * (WWW-Authenticate: Bearer), RFC 9457.
 * Exposure: none of its own; the SMTP replies it carries are gwd's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "gwd.h"
#include "json.h"
#include "log.h"
#include "util.h"

char *
api_problem(unsigned status, const char *reason, const char *detail,
    const char *smtp)
{
	struct json_obj o;
	struct buf b;
	const char *title = MHD_get_reason_phrase_for(status);

	buf_init(&b, 0);
	json_obj_begin(&o, &b);
	json_obj_str(&o, "type", "about:blank");
	json_obj_str(&o, "title", title && title[0] ? title : "Error");
	json_obj_int(&o, "status", status);
	json_obj_str(&o, "detail", detail);
	json_obj_str(&o, "reason", reason);
	json_obj_str(&o, "smtp_reply", smtp);
	json_obj_end(&o);
	buf_putc(&b, '\n');
	return buf_steal(&b, NULL);
}

/* The answer to send at the next call (replacing none set before). */
void
api_set_answer(struct api_req *rq, unsigned status, const char *ctype,
    char *body, int retry_after)
{
	if (rq->ready) {
		free(body);
		return;
	}
	rq->ready = 1;
	rq->status = status;
	rq->ctype = ctype;
	rq->resp = body;
	rq->retry_after = retry_after;
}

void
api_set_problem(struct api_req *rq, unsigned status, const char *reason,
    const char *detail, const char *smtp, int retry_after)
{
	api_set_answer(rq, status, PROBLEM, api_problem(status, reason, detail,
	    smtp), retry_after);
}

enum MHD_Result
api_send_answer(struct api_req *rq)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char ra[24];

	r = MHD_create_response_from_buffer(strlen(rq->resp), rq->resp,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rq->ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (rq->retry_after > 0) {
		snprintf(ra, sizeof(ra), "%d", rq->retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (rq->status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"gw\"");
	if (api_stopping)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION,
		    "close");
	ret = MHD_queue_response(rq->c, rq->status, r);
	MHD_destroy_response(r);
	return ret;
}

/*
 * What an SMTP refusal is over HTTP.  By the check that refused (rej):
 * the sender's domain 403, a suppressed recipient 422, quota and
 * pauses 429, the store 503; otherwise by the reply: 4xx 503, 5xx 422,
 * x.7.x (policy, authorship) 403, 552 413.
 */
static unsigned
http_status_of(enum gm_reject rej, const char *r, const char **reason,
    int *retry)
{
	*retry = 0;
	switch (rej) {
	case REJ_MAIL_SENDER:
		*reason = "foreign-sender-domain";
		return 403;
	case REJ_MAIL_DISABLED:
		*reason = "subaccount-disabled";
		return 403;
	case REJ_RCPT_SUPPRESSION:
		*reason = "suppressed-recipient";
		return 422;
	case REJ_MAIL_PAUSED:
		*reason = "paused";
		*retry = RETRY_QUOTA;
		return 429;
	case REJ_MAIL_QUOTA:
	case REJ_DATA_QUOTA:
		*reason = "quota";
		*retry = RETRY_QUOTA;
		return 429;
	case REJ_RCPT_LIMIT:
		*reason = "too-many-recipients";
		return 422;
	case REJ_MAIL_STORAGE:
	case REJ_DATA_STORAGE:
	case REJ_DATA_MEMORY:
		*reason = "storage";
		*retry = RETRY_BUSY;
		return 503;
	case REJ_DATA_CONTENT_POLICY:
	case REJ_DATA_POLICY:
	case REJ_RCPT_POLICY:
		*reason = "policy";
		break;
	default:
		*reason = "refused";
		break;
	}
	if (strncmp(r, "552", 3) == 0) {
		*reason = "too-large";
		return 413;
	}
	if (r[0] == '4') {
		*retry = RETRY_BUSY;
		return 503;
	}
	/* 500-504, 555: what SMTP calls syntax */
	if (strncmp(r, "50", 2) == 0 || strncmp(r, "555", 3) == 0)
		return 400;
	if (strlen(r) > 8 && r[6] == '7' && r[7] == '.')
		return 403;
	return rej == REJ_DATA_CONTENT ? 400 : 422;
}

/* The reply's text: "550 5.7.1 text" -> "text". */
static const char *
reply_text(const char *r)
{
	const char *p = r;

	if (strlen(p) > 4)
		p += 4;
	if (p[0] >= '2' && p[0] <= '5' && p[1] == '.')
		p += strcspn(p, " ");
	return p + strspn(p, " ");
}

/* A refusal SMTP would give: its HTTP form, and (unless it was logged
 * already) its "rejected" event. */
void
api_refuse_smtp(struct api_req *rq, enum gm_reject rej,
    enum bounce_class cls, const char *r, const char *rcpt, int log)
{
	const char *reason;
	int retry;
	unsigned st = http_status_of(rej, r, &reason, &retry);

	if (log)
		audit_refusal(r, "api", rq->ip, rq->sub, rq->env.has_from ?
		    rq->env.from : NULL, rcpt, cls == BC_NONE ? NULL :
		    bounce_class_name(cls));
	api_set_problem(rq, st, reason, reply_text(r), r, retry);
}

void
api_bad_request(struct api_req *rq, const char *why)
{
	api_set_problem(rq, MHD_HTTP_BAD_REQUEST, "bad-request", why, NULL, 0);
}
