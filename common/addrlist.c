/*
 * addrlist.c - RFC 5322 address lists (see addrlist.h for what is
 * accepted and what is refused, and why).
 *
 * A lexer turns the value into tokens (atoms, quoted strings, domain
 * literals, specials), each marked with whether comments or white space
 * came before it; comments are skipped with a depth count and their
 * quoted-pairs honoured, so "(x\() <a@y> )" is one comment up to the
 * first ')' and the rest is read as what it is.  A recursive descent of
 * fixed depth (list, group, mailbox) reads the tokens.
 * Exposure: parses untrusted message headers; no allocation, no
 * recursion on input depth, every copy bounded.
 * Diagnostics: never dies; a value it cannot read whole returns -1 with
 * the reason in *errstr (callers refuse it rather than act on part of
 * it).
 */
#include <ctype.h>
#include <string.h>

#include "addr.h"
#include "addrlist.h"

enum tok_type { T_ERR = -1, T_END, T_ATOM, T_QSTR, T_DLIT, T_SPEC };

struct tok {
	enum tok_type	 type;
	char		 c;	/* T_SPEC: which */
	const char	*p;	/* as written: quotes and brackets included */
	size_t		 n;
	int		 ws;	/* white space or a comment came before it */
	int		 eight;	/* holds a byte >= 0x80 */
};

struct parser {
	const char	*s;
	size_t		 len, pos;
	struct tok	 t;	/* the current token */
	const char	*err;
	addrlist_cb	 cb;
	addrlist_named_cb ncb;	/* or this, with the display name */
	void		*arg;
	const char	*name;	/* the current mailbox's display name */
	size_t		 namelen;
	int		 n;	/* mailboxes given to cb */
};

/* The words before ':', '<' or '@': a display name or a local part. */
struct phrase {
	int		 ntok;		/* words and dots */
	int		 qstr;		/* the only token is a quoted string */
	int		 dotatom;	/* atoms joined by dots, nothing between */
	int		 want_atom;	/* dotatom so far ends with a dot */
	int		 lead_dot;
	int		 two_dots;	/* ".." with nothing between */
	int		 eight;
	struct tok	 first;
	const char	*end;		/* end of the last token */
};

static int
fail(struct parser *P, const char *why)
{
	if (P->err == NULL)
		P->err = why;
	P->t.type = T_ERR;
	return -1;
}

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 5322 3.2.3 atext; 8-bit bytes too (RFC 6532), refused later
 * where they would be part of an address. */
static int
is_atext(unsigned char c)
{
	return isalnum(c) || c >= 0x80 ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int
is_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* CRLF followed by WSP at i: folding (its CRLF is not part of anything). */
static int
is_fold(const struct parser *P, size_t i)
{
	return i + 2 < P->len && P->s[i] == '\r' && P->s[i + 1] == '\n' &&
	    is_wsp(P->s[i + 2]);
}

/*
 * One character of a comment, quoted string or domain literal at pos,
 * that is none of the delimiters its caller handles: folding, a
 * quoted-pair (when `pairs`), or a text character.  0, or -1.
 */
static int
text_char(struct parser *P, int pairs, int *eight)
{
	unsigned char c = (unsigned char)P->s[P->pos];

	if (is_fold(P, P->pos)) {
		P->pos += 2;
		return 0;
	}
	if (c == '\r' || c == '\n')
		return fail(P, "a line break that is not folding");
	if (is_ctl(c))
		return fail(P, "a control character");
	if (c == '\\') {
		if (!pairs)
			return fail(P, "a backslash in a domain literal");
		if (P->pos + 1 >= P->len)
			return fail(P, "a backslash at the end");
		c = (unsigned char)P->s[P->pos + 1];
		/* quoted-pair: VCHAR or WSP; obs-qp (controls) refused. */
		if (is_ctl(c) || c == '\r' || c == '\n')
			return fail(P, "a quoted control character");
		P->pos++;
	}
	if (c >= 0x80)
		*eight = 1;
	P->pos++;
	return 0;
}

/* A comment at pos (on its '('), nested comments included. */
static int
comment(struct parser *P)
{
	int depth = 0, eight = 0;

	while (P->pos < P->len) {
		char c = P->s[P->pos];

		if (c == '(') {
			depth++;
			P->pos++;
		} else if (c == ')') {
			P->pos++;
			if (--depth == 0)
				return 0;
		} else if (text_char(P, 1, &eight) == -1)
			return -1;
	}
	return fail(P, "an unterminated comment");
}

/* Skip CFWS; 1 when there was some, 0 when none, -1. */
static int
skip_cfws(struct parser *P)
{
	int any = 0;

	while (P->pos < P->len) {
		if (is_wsp(P->s[P->pos]))
			P->pos++;
		else if (is_fold(P, P->pos))
			P->pos += 2;
		else if (P->s[P->pos] == '(') {
			if (comment(P) == -1)
				return -1;
		} else
			break;
		any = 1;
	}
	return any;
}

/* A quoted string or domain literal at pos, up to `close`. */
static int
delimited(struct parser *P, char close, int pairs, const char *unterminated)
{
	P->pos++;
	while (P->pos < P->len) {
		char c = P->s[P->pos];

		if (c == close) {
			P->pos++;
			return 0;
		}
		if (close == ']' && (c == '[' || is_wsp(c) || is_fold(P,
		    P->pos)))
			return fail(P, "a domain literal with '[' or spaces");
		/* dtext allows '@', but every reader of a path takes its
		 * last '@' as the one before the domain. */
		if (close == ']' && c == '@')
			return fail(P, "a domain literal with '@'");
		if (text_char(P, pairs, &P->t.eight) == -1)
			return -1;
	}
	return fail(P, unterminated);
}

/* Move to the next token. */
static void
advance(struct parser *P)
{
	struct tok *t = &P->t;
	int ws;
	char c;

	if (t->type == T_ERR)
		return;
	if ((ws = skip_cfws(P)) == -1)
		return;
	memset(t, 0, sizeof(*t));
	t->ws = ws;
	t->p = P->s + P->pos;
	if (P->pos >= P->len) {
		t->type = T_END;
		return;
	}
	c = P->s[P->pos];
	if (c == '"') {
		t->type = T_QSTR;
		if (delimited(P, '"', 1, "an unterminated quoted string") ==
		    -1)
			return;
	} else if (c == '[') {
		t->type = T_DLIT;
		if (delimited(P, ']', 0, "an unterminated domain literal") ==
		    -1)
			return;
	} else if (c != '\0' && strchr("<>@,;:.", c) != NULL) {
		t->type = T_SPEC;
		t->c = c;
		P->pos++;
	} else if (is_atext((unsigned char)c)) {
		t->type = T_ATOM;
		for (; P->pos < P->len && is_atext((unsigned char)
		    P->s[P->pos]); P->pos++)
			if ((unsigned char)P->s[P->pos] >= 0x80)
				t->eight = 1;
	} else if (c == ')') {
		fail(P, "a ')' without its '('");
		return;
	} else if (c == '\r' || c == '\n') {
		fail(P, "a line break that is not folding");
		return;
	} else if (is_ctl((unsigned char)c)) {
		fail(P, "a control character");
		return;
	} else {
		fail(P, c == '\\' ? "a backslash outside quotes" :
		    "a stray special character");
		return;
	}
	t->n = (size_t)(P->s + P->pos - t->p);
}

static int
is_spec(const struct parser *P, char c)
{
	return P->t.type == T_SPEC && P->t.c == c;
}

/* Words and dots up to whatever follows them. */
static int
phrase(struct parser *P, struct phrase *ph)
{
	memset(ph, 0, sizeof(*ph));
	for (;; advance(P)) {
		const struct tok *t = &P->t;
		int dot = is_spec(P, '.');

		if (t->type != T_ATOM && t->type != T_QSTR && !dot)
			break;
		if (ph->ntok == 0) {
			ph->first = *t;
			ph->lead_dot = dot;
			ph->dotatom = t->type == T_ATOM;
			ph->qstr = t->type == T_QSTR;
		} else {
			ph->qstr = 0;
			/* dot-atom-text: atom *("." atom), nothing between. */
			if (t->ws || (ph->want_atom ? t->type != T_ATOM : !dot))
				ph->dotatom = 0;
			if (dot && ph->want_atom && !t->ws)
				ph->two_dots = 1;
		}
		ph->want_atom = dot;
		ph->eight |= t->eight;
		ph->end = t->p + t->n;
		ph->ntok++;
	}
	if (ph->want_atom)
		ph->dotatom = 0;
	return P->t.type == T_ERR ? -1 : 0;
}

/* The local part the phrase ph stands for, canonical, into out. */
static int
local_part(struct parser *P, const struct phrase *ph, char *out,
    size_t outsz, size_t *len)
{
	char text[ADDR_LOCAL_MAX];
	int n;

	if (ph->ntok == 0)
		return fail(P, "an address without a local part");
	if (ph->qstr && !ph->eight) {
		if ((n = addr_unquote(ph->first.p, ph->first.n, text,
		    sizeof(text))) == -1)
			return fail(P, "a local part over 64 characters");
		if ((n = addr_local_canon(text, (size_t)n, out, outsz)) < 0)
			return fail(P, "a local part with a character SMTP "
			    "cannot carry");
	} else if (ph->dotatom || ph->qstr) {
		/* As written; an 8-bit one (RFC 6532 3.2) is checked and
		 * spelt whole by addr_spec, the way SMTPUTF8 paths are. */
		n = (int)(ph->end - ph->first.p);
		if ((size_t)n >= outsz)
			return fail(P, "a local part over 64 characters");
		memcpy(out, ph->first.p, (size_t)n);
	} else
		return fail(P, ph->lead_dot || ph->want_atom || ph->two_dots ?
		    "a local part with a '.' at an end or two together" :
		    "an obsolete local part (words with spaces, comments or "
		    "quotes between dots)");
	if (n > ADDR_LOCAL_MAX)
		return fail(P, "a local part over 64 characters");
	*len = (size_t)n;
	return 0;
}

/* The domain after '@' (the current token), lower case, into out. */
static int
domain(struct parser *P, char *out, size_t outsz, size_t *len)
{
	const char *start = P->t.p, *end;

	if (P->t.type == T_DLIT) {
		end = P->t.p + P->t.n;
		advance(P);
	} else if (P->t.type == T_ATOM) {
		for (;;) {
			end = P->t.p + P->t.n;
			advance(P);
			if (!is_spec(P, '.'))
				break;
			if (P->t.ws)
				return fail(P, "an obsolete domain (spaces or "
				    "comments between its dots)");
			advance(P);
			if (P->t.type != T_ATOM)
				return fail(P, "a domain that ends with '.'");
			if (P->t.ws)
				return fail(P, "an obsolete domain (spaces or "
				    "comments between its dots)");
		}
	} else
		return fail(P, "no domain after '@'");
	if (P->t.type == T_ERR)
		return -1;
	if ((size_t)(end - start) > ADDR_DOMAIN_MAX ||
	    (size_t)(end - start) >= outsz)
		return fail(P, "a domain over 255 characters");
	for (*len = 0; start + *len < end; (*len)++)
		out[*len] = (char)tolower((unsigned char)start[*len]);
	return 0;
}

/* The rest of an addr-spec: ph was its local part, '@' is current. */
static int
addr_spec(struct parser *P, const struct phrase *ph)
{
	char addr[ADDR_PATH_MAX + 1], dom[ADDR_DOMAIN_MAX + 1];
	size_t llen, dlen;
	const char *why;

	if (local_part(P, ph, addr, sizeof(addr), &llen) == -1)
		return -1;
	advance(P);
	if (domain(P, dom, sizeof(dom), &dlen) == -1)
		return -1;
	if (llen + 1 + dlen > ADDR_PATH_MAX)
		return fail(P, "an address over 256 characters");
	addr[llen] = '@';
	memcpy(addr + llen + 1, dom, dlen);
	addr[llen + 1 + dlen] = '\0';
	/* An internationalized address (RFC 6532) in the one spelling its
	 * SMTPUTF8 path has: valid UTF-8, a domain of valid U-labels. */
	if (!addr_is_ascii(addr) &&
	    addr_canon(addr, 0, addr, sizeof(addr)) == -1)
		return fail(P, "an 8-bit address that is not valid UTF-8 "
		    "with a valid internationalized domain");
	llen = (size_t)(strrchr(addr, '@') - addr);
	why = P->ncb ? P->ncb(P->arg, addr, llen, P->name, P->namelen) :
	    P->cb(P->arg, addr, llen);
	if (why != NULL)
		return fail(P, why);
	P->n++;
	return 0;
}

/* angle-addr, on its '<'. */
static int
angle_addr(struct parser *P)
{
	struct phrase ph;

	advance(P);
	if (is_spec(P, '@'))
		return fail(P, "a source route (<@host:...>)");
	if (is_spec(P, '>'))
		return fail(P, "an empty address <>");
	if (phrase(P, &ph) == -1)
		return -1;
	if (!is_spec(P, '@'))
		return fail(P, P->t.type == T_END || is_spec(P, '>') ?
		    "an address without '@' and domain" :
		    "an address in <> that is not local@domain");
	if (addr_spec(P, &ph) == -1)
		return -1;
	if (!is_spec(P, '>'))
		return fail(P, P->t.type == T_END ? "a '<' without its '>'" :
		    "text after the address inside <>");
	advance(P);
	return P->t.type == T_ERR ? -1 : 0;
}

static int address(struct parser *, int);

/* group, on its ':': members up to ';'. */
static int
group(struct parser *P)
{
	advance(P);
	for (;;) {
		/* obs-group-list, obs-mbox-list: empty elements. */
		while (is_spec(P, ','))
			advance(P);
		if (P->t.type == T_ERR)
			return -1;
		if (is_spec(P, ';')) {
			advance(P);
			return P->t.type == T_ERR ? -1 : 0;
		}
		if (P->t.type == T_END)
			return fail(P, "a group without its ';'");
		if (address(P, 0) == -1)
			return -1;
		if (!is_spec(P, ',') && !is_spec(P, ';'))
			return fail(P, P->t.type == T_END ?
			    "a group without its ';'" :
			    "text after an address in a group");
	}
}

/* mailbox, or (when `groups`) group. */
static int
address(struct parser *P, int groups)
{
	struct phrase ph;

	P->name = NULL;
	P->namelen = 0;
	if (is_spec(P, '<'))
		return angle_addr(P);
	if (phrase(P, &ph) == -1)
		return -1;
	if (is_spec(P, '@'))
		return addr_spec(P, &ph);
	if (is_spec(P, '<') || is_spec(P, ':')) {
		/* display-name = phrase: a word first (obs-phrase). */
		if (ph.ntok == 0)
			return fail(P, "a group without a name");
		if (ph.lead_dot)
			return fail(P, "a display name that starts with '.'");
		if (is_spec(P, '<')) {
			P->name = ph.first.p;
			P->namelen = (size_t)(ph.end - ph.first.p);
			return angle_addr(P);
		}
		if (!groups)
			return fail(P, "a group inside a group");
		return group(P);
	}
	if (P->t.type == T_ERR)
		return -1;
	return fail(P, ph.ntok > 0 ? "a name without an address" :
	    "no address where one was expected");
}

static int
parse(struct parser *PP, const char *s, size_t len, const char **errstr)
{
	struct parser P = *PP;

	P.s = s != NULL ? s : "";	/* an empty value may come as NULL */
	P.len = len;
	P.t.type = T_END;
	advance(&P);
	for (;;) {
		/* obs-addr-list: empty elements ("a@x, , b@x,"). */
		while (is_spec(&P, ','))
			advance(&P);
		if (P.t.type == T_END || P.t.type == T_ERR)
			break;
		if (address(&P, 1) == -1)
			break;
		if (P.t.type == T_END)
			break;
		if (!is_spec(&P, ',')) {
			fail(&P, "text after an address");
			break;
		}
	}
	if (P.t.type == T_ERR) {
		*errstr = P.err ? P.err : "cannot be parsed";
		return -1;
	}
	return P.n;
}

int
addrlist_parse(const char *s, size_t len, addrlist_cb cb, void *arg,
    const char **errstr)
{
	struct parser P;

	memset(&P, 0, sizeof(P));
	P.cb = cb;
	P.arg = arg;
	return parse(&P, s, len, errstr);
}

int
addrlist_parse_named(const char *s, size_t len, addrlist_named_cb cb,
    void *arg, const char **errstr)
{
	struct parser P;

	memset(&P, 0, sizeof(P));
	P.ncb = cb;
	P.arg = arg;
	return parse(&P, s, len, errstr);
}
