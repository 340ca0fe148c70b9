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
 *   data_end.c   the end of DATA (or of the LAST BDAT chunk): the verdict
 *                on a message, its "received" event, then queueing
 *   data_assemble.c  the stored form of an accepted message: our
 *                Received:, the fields a submission server adds
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
struct store_op;
struct subaccount;

struct listener {
	struct gw_listen	*cfg;
	int			 fd;
	struct ev_io		 io;
};

struct tx {
	int			 active;	/* MAIL accepted */
	struct mail_args	 mail;
	char			**rcpt;
	struct dsn_rcptp	*rdsn;		/* each one's NOTIFY, ORCPT */
	int			 nrcpt;
	struct buf		 data;
	struct data_parser	 dp;
	/* BDAT (RFC 3030): the message so far came in chunks; the chunk
	 * being read, its LAST, and the refusal it gets once its octets
	 * are read (they are skipped, never read as commands). */
	int			 bdat;
	uint64_t		 bdat_size;
	uint64_t		 bdat_left;
	int			 bdat_last;
	const char		*bdat_refusal;
	/* A token of the cluster's quota is held for this transaction
	 * (cluster.h): spent when its message is accepted. */
	int			 cq_held;
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
	int			 close_after_delay;
	size_t			 mem;		/* counted in session_memory */
	struct tx		 tx;
	struct session		*prev, *next;
};

/*
 * Memory held for inbound mail, against limits.memory: every session's
 * buffers (the message so far, input, replies not yet sent) and the
 * messages between the end of DATA and their commit.
 */
extern uint64_t	 session_memory;

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
const struct rule *session_rule(struct session *, const char *rcpt,
		    int64_t size, const char *msg, size_t len);

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

/* data_end.c: the verdict stages' answer */
enum verdict { V_CONTINUE, V_REPLY, V_QUARANTINE };

/* The message at the end of DATA, as the stages see it. */
struct incoming {
	struct session		*s;
	struct tx		*t;
	struct msg_info		 mi;
	int64_t			 now;	/* unix microseconds */
	/* V_REPLY: the refusal, the recipient it names (or NULL), and why
	 * delivery would have failed (BC_NONE: not said). */
	const char		*reply;
	const char		*rcpt;
	enum bounce_class	 cls;
	enum gm_reject		 rej;	/* for the metrics */
	char			 rbuf[600];	/* a composed reply */
	/* V_QUARANTINE: the rule that holds the message, and for whom. */
	const struct rule	*hold;
	const char		*hold_rcpt;
	struct rcpt_route	*route;	/* each recipient's routing decision */
	int			 bulk;	/* a --bulk rule took one */
	int			 archive; /* the compliance archive keeps it */
	char			*rcpt_list;	/* for the "received" event */
};

void		 data_end(struct session *);

/* data_assemble.c */
struct qmsg	*data_assemble(struct incoming *, char *tlsdesc,
		    size_t tlsdescsz);

#endif
