/*
 * session_priv.h - what the parts of the inbound SMTP server share, and
 * nothing else of gwd sees (session.h is their public face):
 *
 *   listener.c   listening sockets, accept, who is let in
 *   proxy_accept.c  the PROXY header a load balancer sends first
 *   session.c    a session's life: I/O, line framing, timers
 *   session_reply.c  replies, refusals (and their audit events), bad
 *                commands
 *   smtp_cmd.c   the commands, each checked then carried out
 *   smtp_envelope.c  MAIL and RCPT, the rows smtp_cmd.c's table calls
 *   sasl.c       AUTH PLAIN and LOGIN
 *   data_end.c   the end of DATA (or of the LAST BDAT chunk): the message
 *                handed to submit_message() (submit.h, shared with the
 *                HTTP API), the answer sent when it comes
 *   data_store.c  that message on: content policies, signing, the
 *                store thread, the answer to its waiter
 *
 * Connection state lives in struct session, the transaction (MAIL to the
 * end of DATA) in struct tx.
 */
#ifndef GW_SESSION_PRIV_H
#define GW_SESSION_PRIV_H

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>

#include "bounce.h"
#include "config.h"
#include "conn.h"
#include "ctlproto.h"
#include "loop.h"
#include "metrics.h"
#include "msg.h"
#include "smtp_proto.h"
#include "submit.h"

#define SASL_LINE_MAX	(12288 + 2)	/* RFC 4954 4: 12288 octets + CRLF */
/*
 * A user name as tried in AUTH: longer than any subaccount name
 * (CTL_NAME_MAX) can be, yet kept up to this so a failed login shows the
 * admin what was tried.
 */
#define SASL_USER_MAX	255
#define REPLY_MAX	512	/* RFC 5321 4.5.3.1.5: a reply line, CRLF
				 * included */

enum sstate {
	SS_TLS_HANDSHAKE,	/* implicit TLS or after STARTTLS */
	SS_STARTTLS,		/* 220 sent; start TLS once it is flushed */
	SS_CMD,
	SS_SASL,		/* waiting for a SASL response line */
	SS_DATA,
	SS_BDAT,		/* reading a BDAT chunk's octets */
	SS_WAIT,		/* credential check, delayed reply, or commit */
	SS_CLOSING
};

enum sasl_step { SASL_PLAIN, SASL_LOGIN_USER, SASL_LOGIN_PASS };
enum authed { AUTH_NONE, AUTH_SASL, AUTH_IP };

struct auth_req;
struct qmsg;
struct rcpt_route;
struct rule;
struct sign_job;
struct store_op;
struct subaccount;

struct listener {
	struct gw_listen	*cfg;
	int			 fd;
	struct ev_io		 io;
};

struct session {
	uint64_t		 id;
	struct conn		*c;
	struct listener		*l;
	char			 ip[INET6_ADDRSTRLEN];
	enum sstate		 state;
	int			 helo;
	int			 esmtp;
	char			*helo_name;	/* sized to the name; NULL before
						   the first HELO/EHLO */
	int			 tls;
	enum authed		 authed;
	char			 subaccount[CTL_NAME_MAX + 1];
	struct line_reader	 lr;
	int			 errors;
	int			 accepted;	/* messages queued */
	struct ev_timer		 timer;		/* command/DATA deadline */
	struct ev_timer		 delay;		/* a failed AUTH's 535 */
	enum sasl_step		 sasl;
	char			*sasl_user;	/* AUTH LOGIN's user name until
						   its password comes */
	char			 key_id[24];	/* AUTH_SASL with an API
						   key; "": the password */
	const char		*stage;		/* the command being answered
						   ("MAIL"), NULL: none */
	struct auth_req		*authreq;
	struct store_op		*op;		/* commit in flight */
	struct submit_waiter	 w;		/* for data_end.c's commit */
	int			 close_after_delay;
	size_t			 mem;		/* counted in session_memory */
	struct tx		 tx;
	struct session		*prev, *next;
};


/* listener.c */
void		 listener_admit(struct listener *, int fd,
		    const struct sockaddr_storage *client);

/* proxy_accept.c */
void		 proxy_accept(struct listener *, int fd);
void		 proxy_close_all(void);

/* session.c */
void		 sessions_init(void);
/* client: the address a proxy reported; NULL: the socket's peer. */
struct session	*session_new(struct listener *, int fd,
		    const struct sockaddr_storage *client);
void		 session_start(struct session *);
int		 sessions_from(const char *ip);
void		 session_close(struct session *, const char *why);
void		 session_resume(struct session *);
void		 session_arm(struct session *, int64_t ms);
void		 session_tx_reset(struct session *);
void		 session_mem_update(struct session *);
const struct subaccount *session_account(struct session *);

/* session_reply.c */
void		 session_reply(struct session *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
void		 session_refuse(struct session *, const char *sender,
		    const char *rcpt, enum bounce_class, const char *fmt, ...)
		    __attribute__((format(printf, 5, 6)));
int		 session_bad_command(struct session *, const char *r);

/* smtp_cmd.c */
void		 smtp_dispatch(struct session *, const char *line, size_t len);
void		 smtp_bdat_chunk_end(struct session *);

/* smtp_envelope.c */
int		 smtp_check_mail(struct session *, const struct smtp_cmd *);
void		 smtp_proceed_mail(struct session *, const struct smtp_cmd *);
int		 smtp_check_rcpt(struct session *, const struct smtp_cmd *);
void		 smtp_proceed_rcpt(struct session *, const struct smtp_cmd *);

/* sasl.c */
void		 sasl_init(struct session *);
int		 sasl_check_auth(struct session *, const struct smtp_cmd *);
void		 sasl_proceed_auth(struct session *, const struct smtp_cmd *);
void		 sasl_line(struct session *, const char *line, size_t len);

/* data_end.c: the end of DATA, handed to submit_message() (submit.h) */
void		 data_end(struct session *);

/*
 * data_store.c: a message past its verdict, to the store.
 * data_store_begin: the content policies that apply to op's message, on
 * their worker, then signing and the store; NULL, or the refusal when
 * the scan cannot even start (*sj: the signing plan to give back to
 * data_store_drop()).  data_store_committed: op->done of the commit.
 * data_store_drop: the message is not stored after all: reply r to the
 * waiter, count it under rej, log why, give back memory and quota.
 */
const char	*data_store_begin(struct incoming *, struct store_op *,
		    struct sign_job **);
void		 data_store_committed(struct store_op *);
void		 data_store_drop(struct store_op *, struct sign_job *,
		    enum gm_reject, const char *r, const char *why);

#endif
