/*
 * event.c - the table of audit event actions (see event.h).
 * Diagnostics: none; pure lookups.
 */
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "util.h"

static const struct event_kind kinds[EV_COUNT] = {
	/* name, ECS event.outcome, CEF severity, gwsearch show's part,
	 * gwtop's colour, routine (most messages have one), CEF's name,
	 * ECS event.category and event.type */
#define MAIL	"email", "info"
	[EV_RECEIVED] = { "received", EO_SUCCESS, 3, EP_RECEIVED, ET_PLAIN, 0,
	    "Message received", MAIL },
	[EV_DELIVERED] = { "delivered", EO_SUCCESS, 3, EP_ATTEMPT, ET_GOOD, 0,
	    "Message delivered", MAIL },
	[EV_DEFERRED] = { "deferred", EO_UNKNOWN, 5, EP_ATTEMPT, ET_WARN, 0,
	    "Delivery deferred", MAIL },
	[EV_BOUNCED] = { "bounced", EO_FAILURE, 7, EP_ATTEMPT, ET_BAD, 0,
	    "Message bounced", MAIL },
	[EV_EXPIRED] = { "expired", EO_FAILURE, 7, EP_ATTEMPT, ET_BAD, 0,
	    "Message expired in the queue", MAIL },
	[EV_REJECTED] = { "rejected", EO_FAILURE, 5, EP_POLICY, ET_BAD, 0,
	    "Message rejected", MAIL },
	/* A recipient's abuse report (ARF) came back through a feedback
	 * loop (issue 12). */
	[EV_COMPLAINED] = { "complained", EO_FAILURE, 7, EP_OTHER, ET_BAD, 0,
	    "Recipient complained", MAIL },
	[EV_QUARANTINED] = { "quarantined", EO_UNKNOWN, 7, EP_POLICY,
	    ET_PLAIN, 0, "Message quarantined", MAIL },
	[EV_SIGNED] = { "signed", EO_UNKNOWN, 3, EP_SIGNING, ET_PLAIN, 1,
	    "Message DKIM-signed", MAIL },
	[EV_UNSIGNED] = { "unsigned", EO_UNKNOWN, 5, EP_SIGNING, ET_PLAIN, 0,
	    "Message not DKIM-signed", MAIL },
	[EV_ROUTED] = { "routed", EO_UNKNOWN, 3, EP_OTHER, ET_PLAIN, 1,
	    "Message routed", MAIL },
	[EV_DSN] = { "dsn", EO_SUCCESS, 3, EP_OTHER, ET_PLAIN, 0,
	    "Delivery status notification sent", MAIL },
	/* The content policies' decision (issue 11). */
	[EV_SCANNED] = { "scanned", EO_UNKNOWN, 3, EP_POLICY, ET_PLAIN, 1,
	    "Message scanned by content policies", MAIL },
	/* A next hop of an attempt that could not be used; the attempt
	 * went on to the next one. */
	[EV_HOST_FAILED] = { "host_failed", EO_FAILURE, 5, EP_ATTEMPT,
	    ET_WARN, 0, "Next hop failed", MAIL },
	[EV_HELD] = { "held", EO_UNKNOWN, 3, EP_OTHER, ET_PLAIN, 0,
	    "Message held by an administrator", MAIL },
	[EV_RELEASED] = { "released", EO_UNKNOWN, 3, EP_OTHER, ET_PLAIN, 0,
	    "Message released by an administrator", MAIL },
	[EV_FLUSHED] = { "flushed", EO_UNKNOWN, 3, EP_OTHER, ET_PLAIN, 0,
	    "Message flushed by an administrator", MAIL },
	/* A recipient deleted from the queue ends like a bounce. */
	[EV_DELETED] = { "deleted", EO_FAILURE, 3, EP_ATTEMPT, ET_PLAIN, 0,
	    "Message deleted by an administrator", MAIL },
	[EV_AUTH] = { "auth", EO_FAILURE, 5, EP_OTHER, ET_PLAIN, 0,
	    "Login failed", "authentication", "start" },
	[EV_PAUSED] = { "paused", EO_UNKNOWN, 3, EP_OTHER, ET_PLAIN, 0,
	    "Subaccount paused", "iam", "change" },
	[EV_RESUMED] = { "resumed", EO_UNKNOWN, 3, EP_OTHER, ET_PLAIN, 0,
	    "Subaccount resumed", "iam", "change" },
	/* The recipient asked for no more of the subaccount's mail: it
	 * is suppressed for that subaccount. */
	[EV_UNSUBSCRIBED] = { "unsubscribed", EO_SUCCESS, 3, EP_OTHER,
	    ET_PLAIN, 0, "Recipient unsubscribed", MAIL },
	[EV_SMARTHOST_DOWN] = { "smarthost_down", EO_FAILURE, 7, EP_OTHER,
	    ET_BAD, 0, "Smarthost marked down", "network", "info" },
	[EV_SMARTHOST_UP] = { "smarthost_up", EO_SUCCESS, 3, EP_OTHER,
	    ET_GOOD, 0, "Smarthost marked up", "network", "info" },
	[EV_WEBHOOK_DROPPED] = { "webhook_dropped", EO_FAILURE, 7, EP_OTHER,
	    ET_BAD, 0, "Webhook events dropped", "network", "info" },
	[EV_ALERT_FIRING] = { "alert_firing", EO_UNKNOWN, 7, EP_OTHER, ET_BAD,
	    0, "Alert firing", "process", "info" },
	[EV_ALERT_RESOLVED] = { "alert_resolved", EO_UNKNOWN, 3, EP_OTHER,
	    ET_GOOD, 0, "Alert resolved", "process", "info" },
	[EV_STS_FETCH_FAILED] = { "sts_fetch_failed", EO_FAILURE, 5,
	    EP_OTHER, ET_WARN, 0, "MTA-STS policy fetch failed", "network",
	    "info" },
#undef MAIL
};

static const struct event_kind unknown = { NULL, EO_UNKNOWN, 3, EP_OTHER,
    ET_PLAIN, 0, "Unknown event", "email", "info" };

int
event_lookup(const char *s)
{
	for (int i = 0; s && i < EV_COUNT; i++)
		if (strcmp(s, kinds[i].name) == 0)
			return i;
	return -1;
}

const struct event_kind *
event_kind(int action)
{
	return action >= 0 && action < EV_COUNT ? &kinds[action] : &unknown;
}

const char *
event_name(enum event_action a)
{
	return event_kind((int)a)->name;
}

const char *
event_outcome_name(enum event_outcome o)
{
	static const char *const names[] = {
		[EO_UNKNOWN] = "unknown", [EO_SUCCESS] = "success",
		[EO_FAILURE] = "failure",
	};

	return (size_t)o < nitems(names) ? names[o] : names[EO_UNKNOWN];
}

int
event_names(char *out, size_t n)
{
	size_t o = 0;
	int r;

	for (int i = 0; i < EV_COUNT; i++) {
		r = snprintf(out + o, n - o, "%s%s", i == 0 ? "" :
		    i == EV_COUNT - 1 ? " or " : ", ", kinds[i].name);
		if (r < 0 || (size_t)r >= n - o)
			return -1;
		o += (size_t)r;
	}
	return 0;
}
