/*
 * bounce.c - classify a failed delivery (see bounce.h).
 *
 * The enhanced status code says the most, but receivers use it loosely:
 * Spamhaus listings arrive as 5.7.1 like any policy refusal, and rate
 * limits as 4.7.0 or plain 421.  So words of the text that name a cause
 * unambiguously (greylisting, a rate, a blocklist, TLS) are looked at
 * first, then the status code by subject (RFC 3463 3.x), then softer
 * words, and last the reply code's first digit.
 *
 * BC_THROTTLED is the one class that slows a whole destination down
 * (gwd's throttle.c), so it is kept for replies that ask for less mail:
 * a rate or a volume named, too many connections, 421, X.7.28 (mail
 * flood), X.4.5 (congestion).  "Try again later" is not enough: any
 * temporary failure says it, greylisting too, and one greylisted
 * mailbox must not halve the connections to its whole domain.  Neither
 * is a rate about one mailbox (X.2.x: Gmail's 4.2.1 "receiving mail at
 * a rate"): that recipient waits, its neighbours go on.
 * Exposure: the text is a remote server's; it is only searched.
 * Diagnostics: never dies; every reply gets a class, and an unknown
 * class name is -1.
 */
#include <stdlib.h>
#include <string.h>

#include "bounce.h"

static const char *const names[BC_COUNT] = {
	[BC_NONE] = "",
	[BC_HARD] = "hard",
	[BC_MAILBOX_FULL] = "mailbox_full",
	[BC_SOFT] = "soft",
	[BC_GREYLIST] = "greylist",
	[BC_POLICY] = "policy",
	[BC_REPUTATION] = "reputation",
	[BC_THROTTLED] = "throttled",
	[BC_AUTH] = "auth",
	[BC_CONTENT] = "content",
	[BC_ROUTING] = "routing",
	[BC_TLS] = "tls",
	[BC_EXPIRED] = "expired",
	[BC_OTHER] = "other",
};

/* Words, matched case-insensitively anywhere in the text. */
static const char *const w_reputation[] = {
	"spamhaus", "blocklist", "block list", "blacklist", "black list",
	"denylist", "rbl", "dnsbl", "blocked using", "listed at",
	"listed on", "reputation", "spamcop", "barracuda", "sorbs",
	"proofpoint dynamic", "poor sender", NULL
};
static const char *const w_tls[] = {
	"starttls", "tls ", "tls.", "tls:", "tls required", "certificate", "encryption required", "must use encryption", NULL
};
/* The receiver asks for less mail (not "too many recipients": that is
 * one transaction's size, and the rest go in the next). */
static const char *const w_rate[] = {
	"rate limit", "rate-limit", "ratelimit", "unusual rate",
	"sending rate", "message rate", "connection rate", "rate exceed",
	"sending quota",
	"too many connections", "too many concurrent", "too many simultaneous",
	"too many sessions", "too many messages", "too many mails",
	"too many emails", "too much mail", "unexpected volume", "throttl",
	"slow down", "server busy", "server is busy", "flood", NULL
};
/* Greylisting names itself (postgrey, Exim, milter-greylist, rspamd's
 * "Greylisting in action"), or says only to come back later with a
 * temporary X.7.1 (rspamd's plain "Try again later"). */
static const char *const w_greylist[] = {
	"greylist", "graylist", "grey-list", "gray-list", "grey list",
	"gray list", "not yet authorized", NULL	/* greylistd's Exim ACL */
};
static const char *const w_later[] = {
	"later", "retry", NULL
};
static const char *const w_auth[] = {
	"dmarc", "spf", "dkim", "sender policy framework", "not "
	"authenticated", "unauthenticated", "authentication check", NULL
};
static const char *const w_full[] = {
	"quota", "mailbox full", "mailbox is full", "mailbox size",
	"insufficient storage", "out of storage", "storage space",
	"over its storage", NULL
};
static const char *const w_hard[] = {
	"user unknown", "unknown user", "no such user", "no such recipient",
	"no such mailbox", "does not exist", "doesn't exist",
	"doesn't have a", "invalid recipient", "recipient not found",
	"address not found", "mailbox unavailable", "unknown recipient",
	"mailbox not found", "account has been disabled",
	"account is disabled", "not a valid mailbox", "unrouteable address",
	NULL
};
static const char *const w_content[] = {
	"spam", "unsolicited", "content", "virus", "malware", "phishing",
	"attachment", "bulk mail", NULL
};
static const char *const w_policy[] = {
	"policy", "blocked", "not authorized", "not permitted", "denied",
	"relay", "prohibited", NULL
};
static const char *const w_routing[] = {
	"no route", "host not found", "domain not found", "connection "
	"refused", "connection timed out", "name service", "no mx", "dns",
	NULL
};

static int
has_word(const char *text, const char *const *w)
{
	for (; *w; w++)
		if (strcasestr(text, *w) != NULL)
			return 1;
	return 0;
}

/* "5.1.10" -> 5, 1, 10; -1 when it is not an enhanced status code (each
 * part 1-3 digits, the class 2, 4 or 5). */
static int
parse_status(const char *s, int *cls, int *subj, int *det)
{
	int v[3];
	const char *p = s;

	for (int i = 0; i < 3; i++) {
		int n = 0, len = 0;

		while (*p >= '0' && *p <= '9' && len < 4) {
			n = n * 10 + (*p++ - '0');
			len++;
		}
		if (len == 0 || len > 3 || (i < 2 && *p++ != '.'))
			return -1;
		v[i] = n;
	}
	if (*p != '\0' || (v[0] != 2 && v[0] != 4 && v[0] != 5))
		return -1;
	*cls = v[0];
	*subj = v[1];
	*det = v[2];
	return 0;
}

/* What the status code alone says (RFC 3463 3.2-3.9, RFC 5248's
 * registry), or BC_NONE when it leaves the question open. */
static enum bounce_class
by_status(int code, int subj, int det)
{
	int perm = code >= 500;

	switch (subj) {
	case 1:		/* addressing: X.1.1 mailbox, X.1.2 system, X.1.3
			 * syntax, X.1.6 moved, X.1.10 null MX */
		return perm ? BC_HARD : BC_SOFT;
	case 2:		/* mailbox: X.2.1 disabled, X.2.2 full */
		if (det == 2)
			return BC_MAILBOX_FULL;
		if (det == 1)
			return perm ? BC_HARD : BC_SOFT;
		return BC_NONE;
	case 4:		/* network and routing; X.4.5 congestion */
		if (det == 5)
			return BC_THROTTLED;
		return BC_ROUTING;
	case 6:		/* media and content */
		return BC_CONTENT;
	case 7:		/* security and policy */
		switch (det) {
		case 10: case 11: case 30:	/* encryption needed */
			return BC_TLS;
		case 13:			/* account disabled */
			return perm ? BC_HARD : BC_SOFT;
		case 20: case 21: case 22:	/* DKIM (RFC 7372) */
		case 23: case 24:		/* SPF */
		case 25:			/* reverse DNS */
		case 26:			/* DMARC: several failed */
		case 27:			/* sender null MX */
			return BC_AUTH;
		case 28:			/* mail flood */
			return BC_THROTTLED;
		}
		/* X.7.0 and X.7.1: words decide (4.7.0 is Gmail's rate
		 * limit and its "Temporary server error" alike) */
		return BC_NONE;
	}
	return BC_NONE;
}

enum bounce_class
bounce_classify(int code, const char *status, const char *text)
{
	enum bounce_class c;
	int cls = 0, subj = -1, det = -1;

	if (code >= 200 && code < 300)
		return BC_NONE;
	if (code < 400 || code > 599)
		return BC_OTHER;
	if (text == NULL)
		text = "";
	if (status == NULL || parse_status(status, &cls, &subj, &det) == -1 ||
	    cls != code / 100)
		subj = det = -1;

	/* Causes the text names beyond doubt, whatever the code says.  A
	 * rate comes before a reputation: Microsoft's 4.7.650 is "rate
	 * limited due to IP reputation", and what it asks is less mail. */
	if (code < 500 && has_word(text, w_greylist))
		return BC_GREYLIST;
	if (subj != 2 && has_word(text, w_rate))
		return BC_THROTTLED;
	if (has_word(text, w_reputation))
		return BC_REPUTATION;
	if ((subj == 7 && (det == 10 || det == 11 || det == 30)) ||
	    has_word(text, w_tls))
		return BC_TLS;
	/* 421: the server closes the channel on us (RFC 5321 4.2.3). */
	if (code == 421 || (subj == 7 && det == 28))
		return BC_THROTTLED;
	if (code < 500 && subj == 7 && det == 1 && has_word(text, w_later))
		return BC_GREYLIST;
	if ((subj == 7 || subj == -1) && has_word(text, w_auth))
		return BC_AUTH;
	if ((subj == 2 && det == 2) || has_word(text, w_full))
		return BC_MAILBOX_FULL;

	if (subj != -1 && (c = by_status(code, subj, det)) != BC_NONE)
		return c;

	if (code >= 500 && has_word(text, w_hard))
		return BC_HARD;
	if (has_word(text, w_content))
		return BC_CONTENT;
	/* A temporary X.7.0 that names no cause is the server's own
	 * trouble (Gmail's "Temporary server error"), no policy. */
	if ((subj == 7 && (det != 0 || code >= 500)) ||
	    has_word(text, w_policy))
		return BC_POLICY;
	if (code < 500)
		return BC_SOFT;
	if (has_word(text, w_routing))
		return BC_ROUTING;
	return BC_OTHER;
}

const char *
bounce_class_name(enum bounce_class c)
{
	if ((int)c < 0 || c >= BC_COUNT)
		return names[BC_OTHER];
	return names[c];
}

int
bounce_class_parse(const char *s)
{
	for (int i = BC_NONE + 1; i < BC_COUNT; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}
