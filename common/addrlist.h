/*
 * addrlist.h - RFC 5322 address lists: the mailboxes of From:, Sender:,
 * To: and the like, every one of them, or the reason the list cannot be
 * read.
 *
 * Pure: bytes in, addresses out.  Standards: RFC 5322 3.2.2 (FWS,
 * comments with nesting and quoted-pairs), 3.2.3-3.2.4 (atoms, quoted
 * strings), 3.4 (address-list, mailbox, group), 4.4 (obsolete syntax,
 * in part), RFC 6854 (groups in From:), RFC 6532 3.2 (UTF-8 in
 * addresses), RFC 5321 4.1.2 and 4.5.3.1 and RFC 6531 3.3 (a mailbox gw
 * can use: local part 64 octets, address 256).
 *
 * Where a header names the author of a message the answer must be
 * complete and the one every other reader of the header finds, so the
 * parser refuses rather than guesses:
 *   accepted  the whole grammar of RFC 5322 3.4: display names of words
 *             and quoted strings, comments anywhere CFWS may be (nested,
 *             with quoted-pairs), folding, angle addresses, groups
 *             (RFC 6854 allows them in From:), domain literals; and the
 *             obsolete forms real mail carries: dots in display names
 *             (obs-phrase: "Joe Q. Public <jqp@x>") and empty list
 *             elements (obs-addr-list: "a@x, , b@x,"); 8-bit bytes in
 *             display names, comments and quoted display names (RFC 6532
 *             text, unread by gw); internationalized addresses (RFC
 *             6532: UTF-8 local parts, U-label domains), given in the
 *             spelling addr.h gives SMTPUTF8 paths.
 *   refused   the other obsolete forms, which no mail program writes and
 *             parsers read differently: comments or spaces between the
 *             dots of a local part or domain ("a . b@x", "a@x .y"),
 *             quoted words joined by dots ("a"."b"@x), source routes
 *             (<@r:a@x>); anything unbalanced (comments, quotes, <>, a
 *             group without ';'), a stray special, a control character
 *             or a line break that is not folding, quoted-pairs of
 *             controls, an empty <>, an address without '@' or domain,
 *             a group inside a group, 8-bit bytes in an address that
 *             are not UTF-8 or a domain that is no valid IDN, a
 *             character SMTP cannot carry (a TAB) in an address, a domain literal with
 *             spaces, and addresses over RFC 5321's lengths.
 */
#ifndef GW_ADDRLIST_H
#define GW_ADDRLIST_H

#include <stddef.h>

/*
 * Called for each mailbox, in order, as "local@domain" in the canonical
 * form of addr.h (least quoting, domain in lower case), with the index
 * of its '@'.  NULL to go on, or a reason to stop (the parse then fails
 * with it).  A parse that fails later makes the addresses already given
 * void.
 */
typedef const char *(*addrlist_cb)(void *arg, const char *addr, size_t at);

/*
 * Parse the field value s[0..len) (after the colon, folding included,
 * without the CRLF that ends the field) as an address-list, calling cb
 * for each mailbox (groups are opened: their members count, their names
 * do not).  The number of mailboxes (0 for a value of only spaces and
 * comments, or empty groups), or -1 with *errstr saying why not.
 */
int	addrlist_parse(const char *s, size_t len, addrlist_cb cb, void *arg,
	    const char **errstr);

/*
 * The same, cb also given the mailbox's display name as written
 * (name[0..namelen): words, quoted strings with their quotes, comments
 * between them), or NULL when it has none.
 */
typedef const char *(*addrlist_named_cb)(void *arg, const char *addr,
    size_t at, const char *name, size_t namelen);
int	addrlist_parse_named(const char *s, size_t len, addrlist_named_cb cb,
	    void *arg, const char **errstr);

#endif
