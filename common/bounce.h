/*
 * bounce.h - why a recipient was not reached: one class from a remote
 * reply's code, enhanced status code and text.
 *
 * Pure: strings in, a class out; no I/O, so unit tests and a fuzzer
 * reach it.  Standards: RFC 3463 and RFC 5248 (enhanced status codes and
 * their IANA registry), RFC 7505 (null MX), RFC 7372 (email
 * authentication status codes).
 */
#ifndef GW_BOUNCE_H
#define GW_BOUNCE_H

enum bounce_class {
	BC_NONE,	/* a success: no class */
	BC_HARD,	/* the mailbox or domain does not exist */
	BC_MAILBOX_FULL,
	BC_SOFT,	/* any other temporary failure */
	BC_GREYLIST,	/* greylisting: deferred on purpose, a retry passes */
	BC_POLICY,	/* refused by the receiver's policy */
	BC_REPUTATION,	/* the sending IP or domain is on a blocklist */
	BC_THROTTLED,	/* the receiver asks for less mail: rate limits,
			   too many connections, 421.  The one class that
			   slows a whole destination down. */
	BC_AUTH,	/* SPF, DKIM, DMARC, reverse DNS checks failed */
	BC_CONTENT,	/* spam, virus, media refused */
	BC_ROUTING,	/* no route: DNS, connection, null route */
	BC_TLS,		/* TLS required or the handshake failed */
	BC_EXPIRED,	/* gw gave up: the queue lifetime ran out */
	BC_OTHER,
	BC_COUNT
};

/*
 * Classify a reply.  code: 200..599 (anything else: BC_OTHER); status:
 * the enhanced code ("5.1.1") or "" or NULL; text: the reply text or
 * NULL.  A 2xx is BC_NONE.  BC_EXPIRED is never returned: the caller
 * knows when it gave up.
 */
enum bounce_class bounce_classify(int code, const char *status,
	    const char *text);
/* "hard", "mailbox_full", ...; "" for BC_NONE. */
const char *bounce_class_name(enum bounce_class);
/* The class named s, or -1. */
int	 bounce_class_parse(const char *s);

#endif
