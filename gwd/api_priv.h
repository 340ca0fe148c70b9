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

/* api_msg.c reads a JSON request into a draft (pointers into the JSON,
 * attachments decoded), api_mime.c writes it. */
struct api_hdr {
	const char	*name, *value;
};
struct api_att {
	const char	*name, *ctype;	/* "type/subtype" */
	unsigned char	*data;
	size_t		 len;
};
struct api_draft {
	const char	*from, *reply_to, *subject;	/* NULL: none */
	const char	*text, *html;			/* NULL: none */
	const char	**to, **cc;	/* address lists, as given */
	size_t		 nto, ncc;
	struct api_hdr	*hdr;
	size_t		 nhdr;
	struct api_att	*att;
	size_t		 natt;
};

/* api_mime.c: the draft d (a text, an html or an attachment at least)
 * as a message of CRLF lines within 998 octets appended to out: 0, or
 * -1 with err (out as it was). */
int	 api_mime_write(const struct api_draft *d, struct buf *out, char *err,
	    size_t errsz);

/* What api_mime_write() is made of, for the tests. */
enum api_cte { API_CTE_7BIT, API_CTE_QP, API_CTE_BASE64 };
/* The encoding of text s[0..n) (UTF-8, line breaks LF, CRLF or CR):
 * 7bit for ASCII without a line over 998 octets, quoted-printable when
 * at most a sixth of its bytes are 8-bit, else base64; *ascii set. */
enum api_cte api_mime_choose(const char *s, size_t n, int *ascii);
/* Text s[0..n) with CRLF line breaks, encoded by cte, appended to out. */
int	 api_mime_text(struct buf *out, const char *s, size_t n,
	    enum api_cte cte);
/* p[0..n) in base64 lines of 76 characters (no CRLF after the last). */
int	 api_mime_base64(struct buf *out, const void *p, size_t n);
/* "name: value" CRLF, folded; an 8-bit value (or one with a word too
 * long for a line) as RFC 2047 encoded-words. */
int	 api_mime_field(struct buf *out, const char *name, const char *value);
/* The same for an address list (addrlist.c reads it): as given when
 * ASCII, else each mailbox rewritten with its display name encoded. */
int	 api_mime_addr_field(struct buf *out, const char *name,
	    const char *value);

/* api_get.c: the events of message qid of subaccount sub, looked up
 * on a thread of its own; done(arg, status, body) on the main thread
 * with 200 and {"id": ..., "events": [...]}, or 404 (no such message of
 * sub's) or 503 with a problem+json body (the callee frees body).  0,
 * or -1 when the lookup cannot start (too many waiting). */
int	 api_get_start(const char *sub, const char *qid,
	    void (*done)(void *arg, unsigned status, char *body), void *arg);

#endif
