/*
 * mta_priv.h - what the parts of the delivery client share, and nothing
 * else of gwd sees (schedule.h is their face to the scheduler):
 *
 *   mta.c          a connection's life: the walk along the route's
 *                  targets, timers, I/O, the end; the hop of an attempt
 *   mta_session.c  the SMTP dialogue: greeting, EHLO and what it offers,
 *                  the transaction (MAIL, RCPT, DATA), a job's results
 *   mta_envelope.c  whether a job can go to this server; MAIL, RCPT
 *   mta_result.c   a recipient's result, from a reply or ours
 *   mta_body.c     the message body on the wire
 *   mta_tls.c      STARTTLS and the TLS policy of an attempt
 *   mta_auth.c     AUTH to a smarthost
 *   mta_8bit.c     8-bit content to a server without 8BITMIME
 *
 * One struct mta per outbound connection, reused for the next job to
 * the same destination.
 */
#ifndef GW_MTA_PRIV_H
#define GW_MTA_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "conn.h"
#include "loop.h"
#include "reply.h"
#include "route.h"
#include "schedule.h"

#define MTA_IN_MAX	(64 * 1024)
#define MTA_OUT_MAX	(4 * 1024 * 1024)
#define BODY_CHUNK	(256 * 1024)	/* refill when below BODY_LOW */
#define BODY_LOW	(64 * 1024)

/* Where a connection is; mta_session.c's on_reply[] says what each
 * does with a reply. */
enum mstate {
	M_CONNECT,		/* connecting */
	M_GREETING,		/* waiting for the 220 */
	M_EHLO, M_HELO,
	M_STARTTLS,		/* STARTTLS sent */
	M_TLS,			/* handshaking */
	M_AUTH, M_AUTH_LOGIN_USER, M_AUTH_LOGIN_PASS,
	M_READY,		/* idle, or about to take a job */
	M_TXN,			/* MAIL, RCPT, DATA */
	M_BODY,			/* the body is going out */
	M_DOT,			/* waiting for the reply to the dot (or
				   to BDAT LAST) */
	M_DOT_DISCARD,		/* an empty message ended: nobody took it */
	M_RSET,
	M_QUIT,
	M_FINISH,		/* a job that never started: end it from
				   the loop */
	M_SIGN,			/* the 7-bit form is being signed
				   (mta_8bit.c) */
	M_NSTATES
};

struct mta {
	struct dest		*dest;
	struct conn		*c;
	struct target		 targets[ROUTE_MAX_TARGETS];
	int			 ntargets;
	struct route_dane	 dane[ROUTE_MAX_MX];	/* by target.hi */
	int			 dane_active;	/* this handshake checks TLSA
						   records */
	int			 mx_secure;	/* route.mx_secure */
	int			 sts_on;	/* route.sts_on */
	struct mtasts_policy	 sts;		/* route.sts */
	/* No policy because its fetch failed, or what it brought was not
	 * valid (route.sts_why, "policy ..."): each session is a
	 * TLS-RPT failure of that type (mta_tls_report()). */
	char			 sts_failed[200];
	int			 ti;		/* current target */
	int			 retry_plain;	/* 1 asked, 2 doing: a target
						   again without STARTTLS */
	int			 authed;
	enum mstate		 state;
	struct reply_parser	 rp;
	struct ehlo_caps	 caps;
	int			 esmtp;
	int			 ready_once;
	struct ev_timer		 timer;
	struct job		*job;
	int			 reply_idx;	/* 0 MAIL, 1..n RCPT,
						   n+1 DATA */
	int			 sent_idx;	/* commands sent (no
						   pipelining) */
	int			 naccepted;
	int			*accepted;	/* per recipient */
	int			 mail_failed;
	size_t			 body_off;
	int			 body_bol;	/* at the start of a line */
	int			 bdat;		/* the body goes as one BDAT
						   LAST chunk (RFC 3030) */
	int			 messages;	/* delivered on this conn */
	int64_t			 born_ms;	/* connected at (loop time) */
	int			 eightbit;	/* BODY=8BITMIME if offered */
	struct buf		 body7;		/* what goes when not the stored
						   body: the recipient's prefix
						   and the body (mta_body.c), or
						   the 7-bit form (mta_8bit.c) */
	int			 has_body7;
	struct sign_job		*sign;		/* signing body7, or NULL */
	struct hop		 hop;		/* the current target */
	struct hop_fail		 tried[2 * ROUTE_MAX_TARGETS]; /* failed
						   ones, for the first job */
	int			 ntried;
	const struct dest_src	*src;		/* bound to; NULL: any */
	struct dest_src		 srcbuf;	/* src points here: the dest's
						   array goes on a policy
						   change */
	const char		*helo;		/* our name to the server */
	char			 lasterr[300];
	int			 greet_code;	/* a 4xx greeting, just now */
	char			 greet_status[16];
	struct mta		*next_idle;
	struct mta		*prev_all, *next_all;
};

/* mta.c */
const char	*mta_host(const struct mta *);
const struct route_dane *mta_dane(const struct mta *);
const struct mtasts_policy *mta_sts(const struct mta *);
int		 mta_sts_enforce(const struct mta *);
void		 mta_send(struct mta *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
void		 mta_arm(struct mta *, int64_t ms);
void		 mta_arm_idle(struct mta *);
int		 mta_worn_out(const struct mta *);
void		 mta_next_target(struct mta *, const char *why);
void		 mta_health(struct mta *, int ok, const char *why);
void		 mta_fail(struct mta *, const char *why);

/* mta_session.c */
void		 mta_session_reply(struct mta *, const struct smtp_reply *);
void		 mta_session_ehlo(struct mta *);
void		 mta_session_ready(struct mta *);
void		 mta_session_quit(struct mta *);
void		 mta_session_finish_job(struct mta *);
void		 mta_session_job_lost(struct mta *, const char *why);
void		 mta_session_abort(struct mta *, const char *why);
void		 mta_session_send_envelope(struct mta *);
void		 mta_session_fail_job(struct mta *, int code,
		    const char *status, const char *text);

/* mta_envelope.c: 0 when the job's message can go to this server as it
 * is, else -1 with every recipient's result set; MAIL FROM; RCPT TO. */
int		 mta_envelope_fits(struct mta *, struct job *);
void		 mta_envelope_mail(struct mta *);
void		 mta_envelope_rcpt(struct mta *, const struct qrcpt *);

/* mta_result.c */
void		 mta_result_set(struct job *, int i, int code,
		    const char *status, const char *text);
void		 mta_result_from_reply(struct job *, int i,
		    const struct smtp_reply *);
void		 mta_result_accepted(struct mta *, const struct smtp_reply *);
void		 mta_result_fill(struct job *, int code, const char *status,
		    const char *text);

/* mta_8bit.c */
struct sign_job;
int		 mta_8bit_prepare(struct mta *);
const char	*mta_8bit_body(const struct mta *, size_t *len);
void		 mta_8bit_reset(struct mta *);

/* mta_body.c */
int		 mta_body_prefix(struct mta *);
void		 mta_body_start(struct mta *);
void		 mta_body_fill(struct mta *);

/* mta_tls.c */
void		 mta_tls_report(struct mta *);
void		 mta_tls_note(struct mta *, int verified, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
void		 mta_tls_done(struct conn *, int ok);
int		 mta_tls_after_ehlo(struct mta *);
void		 mta_tls_reply(struct mta *, const struct smtp_reply *);

/* mta_auth.c */
int		 mta_auth_start(struct mta *);
void		 mta_auth_reply(struct mta *, const struct smtp_reply *);

#endif
