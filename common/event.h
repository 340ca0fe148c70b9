/*
 * event.h - the actions of audit events (log.db's event.action), one
 * row each: the name gwd writes, the ECS event.outcome and CEF severity
 * gwsearch exports, the part of a message's life gwsearch show files it
 * under, the colour gwtop gives it and whether gwtop hides it as
 * routine.  gwd, gwsearch and gwtop all
 * read this table, so a new action is one new row.  It also holds the
 * readable name CEF shows and ECS's event.category and event.type, from
 * the values ECS allows (category email: type info; authentication:
 * start; iam: change; network: info).
 * Diagnostics: none; an unknown name is -1, and its row is that of an
 * unknown action.
 */
#ifndef GW_EVENT_H
#define GW_EVENT_H

#include <stddef.h>

enum event_action {
	/* The outcomes gwtop and `gwsearch stats` count, in their column
	 * order (the first EV_NTALLY actions). */
	EV_RECEIVED, EV_DELIVERED, EV_DEFERRED, EV_BOUNCED, EV_EXPIRED,
	EV_REJECTED,
	/* The rest of a message's life.  complained: an abuse report
	 * matched to a recipient (gwtop and gwsearch stats count it
	 * against the delivered, beside the columns above). */
	EV_COMPLAINED, EV_QUARANTINED, EV_SIGNED, EV_UNSIGNED, EV_ROUTED, EV_DSN,
	EV_SCANNED, EV_HOST_FAILED,
	/* An admin's queue actions (gwctl queue). */
	EV_HELD, EV_RELEASED, EV_FLUSHED, EV_DELETED,
	/* Not about one message. */
	EV_AUTH, EV_PAUSED, EV_RESUMED,
	/* A recipient's one-click unsubscribe (RFC 8058). */
	EV_UNSUBSCRIBED,
	/* A smarthost's health changed (gwd/smarthost.c). */
	EV_SMARTHOST_DOWN, EV_SMARTHOST_UP,
	/* Events a webhook's receiver never acknowledged in its retry
	 * time (gwd/webhook.c): given up. */
	EV_WEBHOOK_DROPPED,
	/* An alert (gw.db's, gwctl alert) fired or resolved (gwd/alert.c). */
	EV_ALERT_FIRING, EV_ALERT_RESOLVED,
	/* A domain's MTA-STS policy could not be fetched (gwd/sts.c). */
	EV_STS_FETCH_FAILED,
	EV_COUNT
};
#define EV_NTALLY	(EV_REJECTED + 1)

/* The actions a webhook may ask for (gwctl webhook add --events;
 * gwd/hookset.c), comma-separated. */
#define EVENT_WEBHOOK_ACTIONS	"delivered,bounced,deferred,complained," \
	"unsubscribed,quarantined,rejected,expired"

/* Elastic Common Schema event.outcome. */
enum event_outcome { EO_UNKNOWN, EO_SUCCESS, EO_FAILURE };
/* gwsearch show's parts of a message's life. */
enum event_phase {
	EP_RECEIVED, EP_POLICY, EP_SIGNING, EP_ATTEMPT, EP_OTHER
};
/* gwtop's colour: final failures stand out, retries are a warning. */
enum event_tone { ET_PLAIN, ET_GOOD, ET_WARN, ET_BAD };

struct event_kind {
	const char		*name;	/* NULL: an unknown action */
	enum event_outcome	 outcome;
	int			 cef_severity;	/* 0 (low) .. 10 */
	enum event_phase	 phase;
	enum event_tone		 tone;
	int			 routine;	/* most messages have one:
						   gwtop's recent events
						   leave it out unless asked */
	const char		*title;	/* CEF's Name: "Message delivered" */
	const char		*ecs_category;	/* ECS event.category */
	const char		*ecs_type;	/* ECS event.type */
};

/* The action named s, or -1. */
int	 event_lookup(const char *s);
/* The row of an action; for -1 (or any value out of range) the row of
 * an unknown action: outcome unknown, severity 3, phase other, plain. */
const struct event_kind *event_kind(int action);
/* "received", ...; never NULL for a valid action. */
const char *event_name(enum event_action);
/* "success", "failure", "unknown". */
const char *event_outcome_name(enum event_outcome);
/* Every name, "received, delivered, ... or resumed", into out (n
 * bytes): 0, or -1 when it does not fit. */
int	 event_names(char *out, size_t n);

#endif
