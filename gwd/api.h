/*
 * api.h - the HTTP send API (on http.listen, beside unsubscribe.c's
 * links); what its files share is in api_priv.h:
 *
 *   api.c       the requests: routes, the bearer API key, the per-key
 *               rate limit, the bounded body
 *   api_reply.c the answers: problem+json, SMTP refusals as HTTP
 *   api_submit.c the message handed to submit_message() (submit.h) as
 *               an SMTP submission is, answered 202 after its commit
 *               (api.c, api_reply.c and api_submit.c share api_int.h)
 *   api_msg.c   what a request says: a JSON message read into a draft,
 *               or an RFC 5322 one; the envelope either way
 *   api_mime.c  the draft written as RFC 5322 (our writer: encodings
 *               chosen from one scan of each text, RFC 2047 headers)
 *   api_get.c   GET /v1/messages/ID: a message's events from log.db, on
 *               a thread of its own
 */
#ifndef GW_API_H
#define GW_API_H

#include <stddef.h>

#include <microhttpd.h>


/* The HTTPS listener's handler and completion for paths under /v1/
 * (https.c; cls: the struct http_server). */
enum MHD_Result api_answer(void *cls, struct MHD_Connection *,
	    const char *url, const char *method, const char *version,
	    const char *upload_data, size_t *upload_data_size,
	    void **req_cls);
void	 api_done(void *cls, struct MHD_Connection *, void **req_cls,
	    enum MHD_RequestTerminationCode);

/* gwd is stopping: messages not yet handed to the commit are answered
 * 503 from now on, every answer closes its connection. */
void	 api_stop(void);
/* Requests begun and not yet answered in full (gwd waits for them). */
int	 api_requests(void);

#endif
