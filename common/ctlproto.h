/*
 * ctlproto.h - the control socket's queue commands (pure parsing, shared
 * by gwd, which obeys them, and gwctl, which writes them).
 *
 *   queue list [--domain D] [--subaccount S]
 *   queue show ID
 *   queue flush [ID ...|ALL|--domain D]	(nothing: every message)
 *   queue hold|release|delete|bounce ID ...|ALL
 *
 * An ID is a queue id: 16 upper-case hexadecimal digits.  ALL is written
 * in upper case only, as postsuper(1) wants it, and stands alone.
 */
#ifndef GW_CTLPROTO_H
#define GW_CTLPROTO_H

#include <stddef.h>

#define CTL_QID_LEN	16
#define CTL_MAX_IDS	100	/* per request; gwctl sends more in turns */
#define CTL_DOMAIN_MAX	255
#define CTL_SUBACCT_MAX	64

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
	char		 subaccount[CTL_SUBACCT_MAX + 1];	/* "": any */
};

/* 1 when s is a queue id. */
int	 ctl_qid_valid(const char *s);
/* The verb's name ("hold"), or NULL. */
const char *ctl_verb_name(enum ctl_verb);
/*
 * Parse a request line that starts with "queue".  0, or -1 with the
 * reason in err (naming the bad word).  Repeated IDs count once.
 */
int	 ctl_queue_parse(const char *line, struct ctl_queue_cmd *,
	    char *err, size_t errsz);

#endif
