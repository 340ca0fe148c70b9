/*
 * alert_priv.h - what alert.c (the rules, their evaluation, the
 * notifications of a change) and alert_notice.c (the texts of a
 * notification; "alert test NAME") share.
 */
#ifndef GW_ALERT_PRIV_H
#define GW_ALERT_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "alertrule.h"

struct target {
	enum alert_target_kind	 kind;
	char			*text;		/* as configured */
	const char		*value;		/* into text */
};

struct alert {
	char			*name;
	enum alert_metric	 metric;
	char			*sub, *dom;
	char			*scope;		/* alertstat's, or NULL */
	double			 above;
	int64_t			 for_us;
	int			 throttle;
	struct target		*t;
	int			 nt;
	struct alert_state	 st;
	double			 value;		/* the last evaluated */
};

/* How a notice came: the value crossed, or the rule went. */
enum alert_why { AW_RESOLVED, AW_FIRED, AW_DELETED };

/* alert.c */
/* The rule called name, or NULL; valid until the next reload. */
struct alert	*alert_named(const char *name);
/* Copy the name and the targets of a (not the scope); free the copy's
 * contents with alert_clear_rule(). */
void		 alert_copy(struct alert *to, const struct alert *a);
void		 alert_clear_rule(struct alert *);
/* The clear level: below it (held for --for) the alert resolves. */
double		 alert_clear(const struct alert *);

/* alert_notice.c */
/* The one-line summary of a change (Subject:, Slack's text, PagerDuty's
 * summary, the audit event's subject). */
void		 alert_summary(const struct alert *, enum alert_why, int test,
		    char *out, size_t n);
/* PagerDuty's dedup_key of the current firing. */
void		 alert_dedup(const struct alert *, char *out, size_t n);
/* The mailto: targets, into *to (the caller frees the array only). */
int		 alert_mail_targets(const struct alert *, char ***to);
/* alerts.sender, or gw-alerts@HOSTNAME. */
void		 alert_sender(char *out, size_t n);
/* The body of a notice mail (the caller frees it). */
char		*alert_mail_text(const struct alert *, const char *summary,
		    int fired);

#endif
