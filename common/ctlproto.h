/*
 * ctlproto.h - gwd's control socket: the request grammar and its limits
 * (shared by gwd, which obeys, and gwctl and gwtop, which ask), and the
 * queue commands (pure parsing).
 *
 * A request is one line shorter than CTL_REQ_MAX bytes, "[vN ]COMMAND
 * [ARGS]": the protocol version word (clients send CTL_VERSION_WORD; a
 * line without one is version 1, as clients before the word wrote), a
 * command, its arguments.  gwd answers with lines and closes; a reply
 * is at most CTL_REPLY_MAX bytes.
 *
 *   queue list [--domain D] [--subaccount S] [--quarantined]
 *   queue show ID
 *   queue flush [ID ...|ALL|--domain D]	(nothing: every message)
 *   queue hold|release|delete|bounce ID ...|ALL
 *   queue release|delete --quarantined ID ... [--reason TEXT]
 *
 * --quarantined: only messages a content policy quarantined (list), or
 * the action leaves any other message unchanged.  --reason ends the
 * line: the rest of it, words and spaces, goes into the audit event.
 *
 * An ID is a queue id: 16 upper-case hexadecimal digits.  ALL is written
 * in upper case only, as postsuper(1) wants it, and stands alone.
 */
#ifndef GW_CTLPROTO_H
#define GW_CTLPROTO_H

#include <stddef.h>

#define CTL_VERSION		1
#define CTL_VERSION_WORD	"v1"
#define CTL_REQ_MAX		2048
#define CTL_REPLY_MAX		((size_t)64 << 20)	/* a whole queue list */

#define CTL_QID_LEN	16
#define CTL_MAX_IDS	100	/* per request; gwctl sends more in turns */

/*
 * Limits of the names the control socket carries, for every buffer
 * that holds one (gwd, gwctl, gwtop).  A name's length without its NUL:
 *
 * CTL_NAME_MAX: a subaccount or IP pool name.  gwctl, the only writer
 * of gw.db, admits no longer, so no longer one exists.
 * CTL_DOMAIN_MAX: a domain (RFC 1035 2.3.4, RFC 5321 4.5.3.1.2).
 * CTL_DEST_NAME_MAX: a delivery destination as gwd names it: a domain,
 * or a smarthost "[HOST:PORT]" (HOST up to 253 or "[IPv6]"), then
 * "/tls=POLICY" when not relay.tls's, then "@POOL" when sent from one.
 */
#define CTL_NAME_MAX		64
#define CTL_DOMAIN_MAX		255
#define CTL_DEST_NAME_MAX	346
/* An admin's reason for an action (--reason), for its audit event. */
#define CTL_REASON_MAX		200
_Static_assert(CTL_DEST_NAME_MAX == sizeof("[[]:65535]") - 1 + 253 +
    sizeof("/tls=opportunistic") - 1 + 1 + CTL_NAME_MAX,
    "the longest destination name");

/*
 * `destinations [N]`: at most CTL_DEST_MAX domains, the most queued
 * first, each with its queued recipients in CTL_AGES buckets by age:
 * bucket i holds those queued less than ctl_age_min[i] minutes (qshape's
 * doubling steps), the last one the rest.
 */
#define CTL_DEST_MAX		200
#define CTL_AGES		6
extern const int ctl_age_min[CTL_AGES - 1];	/* 5 10 20 40 80 */

/* "%" CTL_STR(CTL_NAME_MAX) "s": a limit as a scanf width. */
#define CTL_STR_(x)	#x
#define CTL_STR(x)	CTL_STR_(x)

enum ctl_verb {
	CTL_Q_LIST, CTL_Q_SHOW, CTL_Q_FLUSH, CTL_Q_HOLD, CTL_Q_RELEASE,
	CTL_Q_DELETE, CTL_Q_BOUNCE
};

struct ctl_queue_cmd {
	enum ctl_verb	 verb;
	int		 all;		/* ALL, or flush with nothing named */
	int		 nids;
	char		 ids[CTL_MAX_IDS][CTL_QID_LEN + 1];
	char		 domain[CTL_DOMAIN_MAX + 1];	/* "": any */
	char		 subaccount[CTL_NAME_MAX + 1];	/* "": any */
	int		 quarantined;	/* --quarantined */
	char		 reason[CTL_REASON_MAX + 1];	/* "": none */
};

/*
 * Step *line past its protocol version word, if any (and the spaces
 * after it).  0, or -1 with the reason in err when the word names a
 * version this side does not speak.
 */
int	 ctl_version(const char **line, char *err, size_t errsz);
/* 1 when s is a queue id. */
int	 ctl_qid_valid(const char *s);
/* The verb's name ("hold"), or NULL. */
const char *ctl_verb_name(enum ctl_verb);
/* The audit event an action writes (event.h), whose name starts its
 * result lines ("held QID"); -1 for list, show and unknown verbs. */
int	 ctl_verb_event(enum ctl_verb);
/*
 * Parse a request line that starts with "queue".  0, or -1 with the
 * reason in err (naming the bad word).  Repeated IDs count once.
 */
int	 ctl_queue_parse(const char *line, struct ctl_queue_cmd *,
	    char *err, size_t errsz);

#endif
