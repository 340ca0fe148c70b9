/*
 * api_int.h - what the request files of the send API share (api.c, the
 * requests; api_reply.c, the answers; api_submit.c, the message handed
 * to submit_message()): the request and the calls between them.
 */
#ifndef GW_API_INT_H
#define GW_API_INT_H

#include "api_priv.h"
#include "auth.h"
#include "ctlproto.h"
#include "gwd.h"
#include "http.h"
#include "pwhash.h"
#include "submit.h"

#define PROBLEM		"application/problem+json"
#define RETRY_QUOTA	60	/* Retry-After for quota and pauses, s */
#define RETRY_BUSY	30	/* ... for a short store or memory */

enum api_route { RT_JSON, RT_RAW, RT_GET, RT_NONE };

struct api_req {
	int			 api;	/* 1: struct https_req (http.h) */
	struct http_server	*srv;
	struct MHD_Connection	*c;
	enum api_route		 route;
	char			 qid[QID_LEN + 1];	/* RT_GET */
	char			 ip[64];
	char			 sub[CTL_NAME_MAX + 1];
	char			 key_id[APIKEY_ID_LEN + 1];
	int			 authed;	/* the key is good */
	struct auth_req		*authreq;	/* its check, under way */
	struct buf		 body;
	size_t			 counted;	/* in session_memory */
	int			 too_big;
	int			 body_8bit;	/* BODY=8BITMIME */
	/* The answer: ready (a refusal found while the body was still
	 * coming, or the commit's or the lookup's result), sent at the
	 * next call of the handler. */
	int			 ready;
	unsigned		 status;
	char			*resp;
	const char		*ctype;
	int			 retry_after;	/* seconds; 0: none */
	int			 suspended;
	struct submit_waiter	 w;
	struct tx		 tx;
	struct api_env		 env;
};

/* api.c */
extern int	 api_stopping;	/* api_stop(): answers close connections */
uint64_t	 api_max_body(void);
/* MHD stops (or starts again) calling for the suspended request. */
void		 api_suspend(struct api_req *);
void		 api_resume(struct api_req *);

/* api_reply.c: the answer, sent at the next call of the handler. */
void		 api_set_answer(struct api_req *, unsigned status,
		    const char *ctype, char *body, int retry_after);
void		 api_set_problem(struct api_req *, unsigned status,
		    const char *reason, const char *detail, const char *smtp,
		    int retry_after);
enum MHD_Result	 api_send_answer(struct api_req *);
/* A refusal SMTP would give (reply r, about rcpt or NULL), as HTTP;
 * logged as a "rejected" event when `log`. */
void		 api_refuse_smtp(struct api_req *, enum gm_reject,
		    enum bounce_class, const char *r, const char *rcpt, int log);
void		 api_bad_request(struct api_req *, const char *why);

/* api_submit.c: the whole request is read: its message built (JSON, on
 * a worker), checked and handed to submit_message(); the answer is set
 * and the request resumed when it is known. */
void		 api_send_message(struct api_req *);
/* The transaction is over (a quota token it holds goes back). */
void		 api_tx_end(struct api_req *);

#endif
