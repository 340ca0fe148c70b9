/*
 * api_priv.h - what the files of the send API (api.h) share, and
 * nothing else of gwd sees.
 */
#ifndef GW_API_PRIV_H
#define GW_API_PRIV_H

#include <stddef.h>

#include "addr.h"
#include "buf.h"

/* A problem+json body (RFC 9457), to free: status, its title, detail;
 * a short reason and the SMTP reply it stands for (NULL: none) as
 * extension members. */
char	*api_problem(unsigned status, const char *reason, const char *detail,
	    const char *smtp);

/* api_msg.c: a message's envelope as a request gives it. */
struct api_env {
	char	  from[ADDR_PATH_MAX + 1];	/* "" : <> (raw only) */
	int	  has_from;
	char	**rcpt;		/* each once, in order */
	int	  nrcpt;
	int	  utf8;		/* an address is internationalized */
};

void	 api_env_free(struct api_env *);
/* Add each mailbox of the address list s[0..len) to the recipients:
 * the number added, or -1 with *err. */
int	 api_env_rcpts(struct api_env *, const char *s, size_t len,
	    const char **err);
/* Set the sender from s (one mailbox): 0, or -1 with *err. */
int	 api_env_from(struct api_env *, const char *s, size_t len,
	    const char **err);

/*
 * The JSON request body[0..len) ({from, to[], cc[], bcc[], reply_to,
 * subject, text, html, headers{}, attachments[]}) as an RFC 5322
 * message (CRLF lines) appended to out, its envelope in env: 0, or -1
 * with why in err (for a 400).
 */
int	 api_json_message(const char *body, size_t len, struct buf *out,
	    struct api_env *env, char *err, size_t errsz);
/* The envelope of the RFC 5322 message msg[0..len) (CRLF lines) where
 * the request did not give it: the sender from the only From: mailbox
 * (or Sender:), the recipients from To:, Cc: and Bcc:.  0, or -1 with
 * err. */
int	 api_raw_envelope(const char *msg, size_t len, struct api_env *env,
	    char *err, size_t errsz);

/* api_get.c: the events of message qid of subaccount sub, looked up
 * on a thread of its own; done(arg, status, body) on the main thread
 * with 200 and {"id": ..., "events": [...]}, or 404 (no such message of
 * sub's) or 503 with a problem+json body (the callee frees body).  0,
 * or -1 when the lookup cannot start (too many waiting). */
int	 api_get_start(const char *sub, const char *qid,
	    void (*done)(void *arg, unsigned status, char *body), void *arg);

#endif
