/*
 * addr.h - RFC 5321 paths: "<local@domain>" in MAIL FROM and RCPT TO, and
 * the one canonical spelling of an address.
 *
 * Pure: takes bytes, returns a verdict.  Standards: RFC 5321 4.1.2 (Path,
 * Mailbox, Local-part, Domain, address-literal), 4.5.3.1 (size limits).
 * Without ADDR_ALLOW_UTF8 any byte >= 0x80 is ADDR_NON_ASCII; with it
 * (SMTPUTF8, RFC 6531 3.3) local parts take UTF-8 characters and
 * domains U-labels, checked and spelt one way with libidn2 (IDNA2008).
 */
#ifndef GW_ADDR_H
#define GW_ADDR_H

#include <stddef.h>

#define ADDR_LOCAL_MAX	64
#define ADDR_DOMAIN_MAX	255
#define ADDR_PATH_MAX	256

enum addr_status {
	ADDR_OK = 0,
	ADDR_SYNTAX,		/* 501 5.1.3 bad address syntax */
	ADDR_TOO_LONG,		/* 501 5.1.3 local part, domain or path too long */
	ADDR_NON_ASCII,		/* 553 5.6.7 non-ASCII without SMTPUTF8 */
	ADDR_NO_DOMAIN,		/* 501 5.1.3 no domain (e.g. <postmaster>) */
	ADDR_SOURCE_ROUTE,	/* 501 5.1.3 <@a,@b:user@c> not accepted */
	ADDR_NULL_FORBIDDEN,	/* 501 5.1.3 <> where not allowed */
	ADDR_CTL,		/* 501 5.1.3 CR, LF, NUL, other controls */
};

#define ADDR_ALLOW_NULL	0x01	/* "<>" is acceptable (reverse-path) */
#define ADDR_ALLOW_UTF8	0x02	/* UTF-8 local part, U-label domain */

struct mailpath {
	char	addr[ADDR_PATH_MAX + 1];	/* "local@domain"; "" for <> */
	size_t	len;
	size_t	at;		/* index of the '@' before the domain; 0 if null */
	int	literal;	/* domain is an address literal "[...]" */
};

/*
 * Parse a path at the start of s[0..len): '<', mailbox, '>'.  The local
 * part is kept in its case but in canonical form (addr_local_canon: a
 * quoted string that needs no quotes loses them); the domain is
 * lower-cased.  The domain is what follows the last '@' outside quotes;
 * '%' and '!' in the local part are ordinary characters and are never
 * interpreted.  On ADDR_OK, *consumed is the number of bytes up to and
 * including '>'.  Leading/trailing spaces are not skipped.
 */
enum addr_status addr_parse_path(const char *s, size_t len, int flags,
	    struct mailpath *mp, size_t *consumed);

static inline const char *
mailpath_domain(const struct mailpath *mp)
{
	return mp->len ? mp->addr + mp->at + 1 : "";
}

/*
 * The text of the valid quoted string q[0..n) (RFC 5321 Quoted-string or
 * RFC 5322 quoted-string, quotes included) into out: quotes dropped,
 * quoted-pairs resolved, the CRLF of folding left out (RFC 5322 3.2.4).
 * Its length, or -1 when it does not fit in outsz bytes (no NUL added).
 */
int	addr_unquote(const char *q, size_t n, char *out, size_t outsz);

/*
 * The canonical spelling of a local part whose text (quotes dropped,
 * quoted-pairs resolved) is text[0..n): as it is when it is a
 * Dot-string, else a Quoted-string with only '"' and '\\' escaped.
 * Its length, or -1 when a byte cannot be in an SMTP local part (a
 * control, 8-bit) or out (outsz bytes) is too small.
 */
int	addr_local_canon(const char *text, size_t n, char *out, size_t outsz);

#define ADDR_CANON_FOLD	0x01	/* lower-case the local part too */

/*
 * The canonical form of the mailbox "local@domain" (as addr_parse_path
 * stores it, UTF-8 allowed; `addr` may be spelt any valid way, without
 * <>) into out:
 * its length, or -1 when addr is no valid mailbox or does not fit.
 * With ADDR_CANON_FOLD the local part is lower-cased as well: the form
 * for lookup keys (suppression), since the mailboxes a key stands for
 * differ in case at almost no receiver, and a list that refuses mail
 * must not be passed by changing the case of a letter.
 */
int	addr_canon(const char *addr, int flags, char *out, size_t outsz);

/*
 * The lookup key of addr: addr_canon with ADDR_CANON_FOLD, or, for a
 * string that is no valid mailbox (a row written by an older gw), the
 * string in lower case.  0, or -1 when out is too small.
 */
int	addr_key(const char *addr, char *out, size_t outsz);

/* The SMTP reply for a status ("501 5.1.3 Bad address syntax"). */
const char *addr_status_reply(enum addr_status);

/* 1 when s is a valid domain name (LDH labels, each 1..63, total <= 255,
 * no trailing dot needed); used to validate admin input too. */
int	addr_valid_domain(const char *s);

/* 1 when s has no byte >= 0x80. */
int	addr_is_ascii(const char *s);

/* The domain as DNS asks for it: an ASCII one as it is, one with
 * U-labels in A-labels ("xn--..."; IDNA2008, UTS #46 mapping).  0, or -1
 * when it is no valid IDN or does not fit outsz. */
int	addr_domain_ascii(const char *dom, char *out, size_t outsz);

/* 1 when `domain` equals `owned` or is a subdomain of it (both lower case). */
int	addr_domain_within(const char *domain, const char *owned);

#endif
