/*
 * rules.h - routing rules: what a rule matches and what it decides, and
 * the small parsers their arguments need.  Pure: no I/O, so gwd, gwctl's
 * `route test`, the unit tests and a fuzzer share it.
 *
 * Rules are tried in order; the first whose every condition holds
 * decides.  Conditions: subaccount, sender domain, recipient domain
 * (shell wildcards: "*.example.com"), one header's value (wildcards,
 * case-insensitive) and the message size.  Decisions: route (priority
 * class, IP pool, smarthost or MX with a TLS policy), hold, or reject
 * with a given reply.
 */
#ifndef GW_RULES_H
#define GW_RULES_H

#include <stddef.h>
#include <stdint.h>

struct shlist;

#define RULE_HEADER_MAX	998	/* a header value, unfolded, as compared */

enum rule_action { RULE_ROUTE, RULE_HOLD, RULE_REJECT };

/* Priority classes; the transactional class is the default. */
enum prio { PRIO_TRANSACTIONAL, PRIO_BULK, PRIO_COUNT };

struct rule {
	int64_t		 id;
	/* Conditions; NULL or -1: any. */
	char		*subaccount;
	char		*from_domain;	/* pattern */
	char		*to_domain;	/* pattern */
	char		*header;	/* a header name ... */
	char		*header_value;	/* ... and a pattern for its value */
	int64_t		 size_over;	/* size > this */
	int64_t		 size_under;	/* size < this */
	/* Decision. */
	enum rule_action action;
	int		 prio;		/* -1: the default class */
	char		*pool;		/* NULL: no pool (gwd's own address) */
	char		*smarthost;	/* a smarthost list (shlist.h), */
					/* "mx"; NULL: default */
	struct shlist	*via;		/* smarthost parsed (policy_load); */
					/* NULL for "mx", none or bad */
	int		 tls;		/* enum tls_policy; -1: relay.tls */
	char		*auth_user;	/* AUTH to the smarthost; NULL: */
	char		*auth_password;	/* none (or relay.username's) */
	char		*reply;		/* RULE_REJECT: "550 5.7.1 text" */
	int		 bulk;		/* bulk mail: List-Unsubscribe */
	int		 archive;	/* 1 archived, 0 not; -1: archive.all */
};

/* What is known of a message when rules are tried. */
struct rule_msg {
	const char	*subaccount;	/* "" or NULL: none */
	const char	*sender;	/* "" for <> */
	const char	*rcpt;
	int64_t		 size;		/* -1: not known yet (before DATA) */
	const char	*headers;	/* the message; NULL: not known yet */
	size_t		 hlen;
};

#define RULES_NONE	(-1)	/* no rule matches: the defaults */
#define RULES_UNKNOWN	(-2)	/* the first rule that may match needs
				   the headers or size, not known yet */

/* Index of the rule that decides, RULES_NONE or RULES_UNKNOWN. */
int	 rules_match(const struct rule *, int n, const struct rule_msg *);
int	 rules_domain_match(const char *pattern, const char *domain);

/*
 * The value of the first `name` header in the header section of msg,
 * unfolded and trimmed, at most outsz - 1 bytes: 1 found, 0 not.
 */
int	 rules_header_get(const char *msg, size_t len, const char *name,
	    char *out, size_t outsz);

/* Argument parsers; each returns 0 or -1 with a reason in err. */
int	 rules_parse_header(const char *arg, char *name, size_t namesz,
	    char *value, size_t valuesz, char *err, size_t errsz);
int	 rules_parse_reply(const char *s, int *code, char *status,
	    size_t statussz, const char **text, char *err, size_t errsz);
int	 rules_parse_hostport(const char *s, char *host, size_t hostsz,
	    int *port, char *err, size_t errsz);
int	 rules_parse_domain_pattern(const char *s, char *err, size_t errsz);
int	 rules_prio_parse(const char *);
const char *rules_prio_name(int);
const char *rules_action_name(enum rule_action);

#endif
