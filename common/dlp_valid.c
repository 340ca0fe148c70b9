/*
 * dlp_valid.c - validators and masks for the content scanner.
 * Standards: ISO/IEC 7812 (card numbers, Luhn), ISO 13616 (IBAN,
 * mod-97 of ISO 7064), the SSA's SSN randomization rules (2011: area
 * 000, 666 and 900-999 never issued; group 00 and serial 0000 never),
 * ICD-10 (WHO; the code's shape, A00-Z99 with up to four characters
 * after the dot as ICD-10-CM writes them).
 * Exposure: reads decoded message text; every index is checked against
 * len, and no validator looks further than 64 bytes from its offset.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "dlp_valid.h"
#include "util.h"

#define RUN_MAX	48	/* digits and separators looked back over */

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_alnum(int c)
{
	return isalnum((unsigned char)c);
}

int
dlp_luhn(const char *d, size_t n)
{
	unsigned sum = 0;
	int dbl = 0;

	for (size_t i = n; i-- > 0;) {
		unsigned v;

		if (!is_digit(d[i]))
			continue;
		v = (unsigned)(d[i] - '0');
		if (dbl && (v *= 2) > 9)
			v -= 9;
		sum += v;
		dbl = !dbl;
	}
	return sum % 10 == 0;
}

static unsigned
prefix(const char *d, int k)
{
	unsigned v = 0;

	for (int i = 0; i < k; i++)
		v = v * 10 + (unsigned)(d[i] - '0');
	return v;
}

int
dlp_card_iin(const char *d, size_t n)
{
	/* First digits (as many as lo has), range, lengths allowed. */
	static const struct { int k; unsigned lo, hi; size_t minl, maxl; }
	    iin[] = {
		{ 1, 4, 4, 13, 19 },		/* Visa */
		{ 2, 51, 55, 16, 16 },		/* Mastercard */
		{ 4, 2221, 2720, 16, 16 },	/* Mastercard 2-series */
		{ 2, 34, 34, 15, 15 },		/* American Express */
		{ 2, 37, 37, 15, 15 },
		{ 4, 6011, 6011, 16, 19 },	/* Discover */
		{ 3, 644, 649, 16, 19 },
		{ 2, 65, 65, 16, 19 },
		{ 3, 300, 305, 14, 19 },	/* Diners Club */
		{ 2, 36, 36, 14, 19 },
		{ 2, 38, 39, 16, 19 },
		{ 4, 3528, 3589, 16, 19 },	/* JCB */
		{ 2, 62, 62, 16, 19 },		/* UnionPay */
		{ 4, 2200, 2204, 16, 19 },	/* Mir */
		{ 4, 5018, 5018, 12, 19 },	/* Maestro */
		{ 4, 5020, 5020, 12, 19 },
		{ 4, 5038, 5038, 12, 19 },
		{ 4, 5893, 5893, 12, 19 },
		{ 4, 6304, 6304, 12, 19 },
		{ 4, 6759, 6759, 12, 19 },
		{ 4, 6761, 6763, 12, 19 },
	};

	if (n < 12 || n > 19)
		return 0;
	for (size_t i = 0; i < nitems(iin); i++) {
		unsigned p = prefix(d, iin[i].k);

		if (p >= iin[i].lo && p <= iin[i].hi && n >= iin[i].minl &&
		    n <= iin[i].maxl)
			return 1;
	}
	return 0;
}

int
dlp_card_at(const char *t, size_t len, size_t end, size_t *start)
{
	char dig[RUN_MAX];
	size_t pos[RUN_MAX];	/* where each digit is, last first */
	size_t nd = 0, i = end;

	if (end == 0 || end > len || !is_digit(t[end - 1]) ||
	    (end < len && is_alnum(t[end])))
		return 0;
	/* Back over digits and single separators between digits. */
	while (i > 0 && nd < RUN_MAX) {
		char c = t[i - 1];

		if (is_digit(c)) {
			pos[nd] = i - 1;
			dig[nd++] = c;
			i--;
		} else if ((c == ' ' || c == '-') && i >= 2 &&
		    is_digit(t[i - 2]) && is_digit(t[i]))
			i--;
		else
			break;
	}
	if (nd == RUN_MAX || nd < 13 || (i > 0 && is_alnum(t[i - 1])))
		return 0;
	/* Longest first; a shorter one only from a group's start, so that
	 * "ref 12 4111 1111 1111 1111" still finds the card. */
	for (size_t k = nd < 19 ? nd : 19; k >= 13; k--) {
		char d[19];
		size_t s = pos[k - 1];

		if (k != nd && is_digit(t[s - 1]))
			continue;
		for (size_t j = 0; j < k; j++)
			d[j] = dig[k - 1 - j];
		if (dlp_card_iin(d, k) && dlp_luhn(d, k)) {
			*start = s;
			return 1;
		}
	}
	return 0;
}

int
dlp_ssn_at(const char *t, size_t len, size_t s)
{
	const char *p = t + s;
	unsigned area, group, serial;
	char sep;

	if (s + 11 > len || (s > 0 && (is_digit(t[s - 1]) ||
	    t[s - 1] == '-')) || (s + 11 < len && (is_digit(t[s + 11]) ||
	    (t[s + 11] == '-' && s + 12 < len && is_digit(t[s + 12])))))
		return 0;
	sep = p[3];
	if ((sep != '-' && sep != ' ') || p[6] != sep)
		return 0;
	for (int i = 0; i < 11; i++)
		if (i != 3 && i != 6 && !is_digit(p[i]))
			return 0;
	area = prefix(p, 3);
	group = prefix(p + 4, 2);
	serial = prefix(p + 7, 4);
	if (area == 0 || area == 666 || area >= 900 || group == 0 ||
	    serial == 0)
		return 0;
	/* Numbers printed on sample cards, never anyone's. */
	if ((area == 78 && group == 5 && serial == 1120) ||
	    (area == 219 && group == 9 && serial == 9999))
		return 0;
	return 1;
}

static int
iban_length(const char *cc)
{
	/* ISO 13616 registry lengths. */
	static const char lens[] =
	    "AD24AE23AL28AT20AZ28BA20BE16BG22BH22BR29BY28CH21CR22CY28CZ24"
	    "DE22DK18DO28EE20EG29ES24FI18FO18FR27GB22GE22GI23GL18GR27GT28"
	    "HR21HU28IE22IL23IQ23IS26IT27JO30KW30KZ20LB28LC32LI21LT20LU20"
	    "LV21MC27MD24ME22MK19MR27MT31MU30NL18NO15PK24PL28PS29PT25QA29"
	    "RO24RS22SA24SC31SE24SI19SK24SM27ST25SV28TL23TN24TR26UA29VA22"
	    "VG24XK20";

	for (size_t i = 0; i + 4 <= sizeof(lens) - 1; i += 4)
		if (lens[i] == cc[0] && lens[i + 1] == cc[1])
			return (lens[i + 2] - '0') * 10 + (lens[i + 3] - '0');
	return 0;
}

/* mod-97 of the IBAN in s[0..n) (alphanumerics only), rearranged. */
static unsigned
iban_mod97(const char *s, size_t n)
{
	unsigned r = 0;

	for (size_t k = 0; k < n; k++) {
		char c = s[(k + 4) % n];

		if (is_digit(c))
			r = (r * 10 + (unsigned)(c - '0')) % 97;
		else
			r = (r * 100 + (unsigned)(c - 'A' + 10)) % 97;
	}
	return r;
}

int
dlp_iban_at(const char *t, size_t len, size_t s, size_t *end)
{
	char v[34];
	size_t n = 0, i = s;
	int want;

	if (s + 4 > len || (s > 0 && is_alnum(t[s - 1])) ||
	    !isupper((unsigned char)t[s]) || !isupper((unsigned char)t[s + 1])
	    || !is_digit(t[s + 2]) || !is_digit(t[s + 3]) ||
	    (want = iban_length(t + s)) == 0)
		return 0;
	/* Alphanumerics, a single space allowed after each group of four. */
	while (i < len && n < (size_t)want) {
		char c = t[i];

		if (is_digit(c) || isupper((unsigned char)c)) {
			v[n++] = c;
			i++;
		} else if (c == ' ' && n % 4 == 0 && i + 1 < len &&
		    is_alnum(t[i + 1]))
			i++;
		else
			break;
	}
	if (n != (size_t)want || (i < len && is_alnum(t[i])) ||
	    iban_mod97(v, n) != 1)
		return 0;
	*end = i;
	return 1;
}

static int
email_local(int c)
{
	return is_alnum(c) || (c != '\0' && strchr("._%+-", c) != NULL);
}

int
dlp_email_at(const char *t, size_t len, size_t at, size_t *start,
    size_t *end)
{
	size_t i = at, e = at + 1, label = 0, dots = 0, alpha = 0;

	if (at >= len || t[at] != '@')
		return 0;
	while (i > 0 && at - i < 64 && email_local(t[i - 1]))
		i--;
	if (i == at || (i > 0 && email_local(t[i - 1])))
		return 0;
	/* Labels of letters, digits and hyphens; the last all letters,
	 * two or more.  A dot at the end is the sentence's. */
	for (; e < len && e - at < 256; e++) {
		char c = t[e];

		if (is_alnum(c) || c == '-') {
			label++;
			alpha = isalpha((unsigned char)c) &&
			    (alpha || label == 1);
		} else if (c == '.' && label > 0 && e + 1 < len &&
		    is_alnum(t[e + 1])) {
			dots++;
			label = 0;
			alpha = 0;
		} else
			break;
	}
	if (dots == 0 || label < 2 || !alpha)
		return 0;
	*start = i;
	*end = e;
	return 1;
}

int
dlp_phone_at(const char *t, size_t len, size_t end, size_t *start)
{
	size_t i = end, nd = 0;

	if (end == 0 || end > len || !is_digit(t[end - 1]) ||
	    (end < len && is_alnum(t[end])))
		return 0;
	/* The end of the run, not a group inside it ("1111 1111 1111" of
	 * a card number). */
	if (end + 1 < len && strchr(" .-)", t[end]) && is_digit(t[end + 1]))
		return 0;
	while (i > 0 && end - i < RUN_MAX) {
		char c = t[i - 1];

		if (is_digit(c))
			nd++;
		else if (c == '+') {
			i--;
			break;
		} else if (c != ' ' && c != '.' && c != '-' && c != '(' &&
		    c != ')')
			break;
		i--;
	}
	/* Trailing separators are not the number's. */
	while (i < end && !is_digit(t[i]) && t[i] != '+' && t[i] != '(')
		i++;
	if (nd < 10 || nd > 15 || (i > 0 && is_alnum(t[i - 1])))
		return 0;
	*start = i;
	return 1;
}

int
dlp_icd10_at(const char *t, size_t len, size_t s, size_t *end)
{
	size_t i = s + 3, k = 0;

	if (s + 3 > len || (s > 0 && is_alnum(t[s - 1])) ||
	    t[s] < 'A' || t[s] > 'Z' || !is_digit(t[s + 1]) ||
	    !is_digit(t[s + 2]))
		return 0;
	if (i + 1 < len && t[i] == '.' && (is_digit(t[i + 1]) ||
	    isupper((unsigned char)t[i + 1]))) {
		for (i++; i < len && k < 4 && (is_digit(t[i]) ||
		    isupper((unsigned char)t[i])); i++)
			k++;
	}
	if (i < len && is_alnum(t[i]))
		return 0;
	*end = i;
	return 1;
}

/* A medical word starting at t[i] (caseless, at a word's start): the
 * stems of words a diagnosis is written near. */
static int
medical_word(const char *t, size_t len, size_t i)
{
	/* Short ones must end there too ("dx", not "dxf"). */
	static const struct { const char *stem; int whole; } w[] = {
	    { "diagnos", 0 }, { "patient", 0 }, { "medical", 0 },
	    { "clinic", 0 }, { "treat", 0 }, { "prescri", 0 },
	    { "symptom", 0 }, { "hospital", 0 }, { "admitted", 0 },
	    { "discharg", 0 }, { "physician", 0 }, { "doctor", 0 },
	    { "disease", 0 }, { "disorder", 0 }, { "therap", 0 },
	    { "condition", 0 }, { "icd", 1 }, { "dx", 1 } };

	if (i > 0 && isalpha((unsigned char)t[i - 1]))
		return 0;
	for (size_t k = 0; k < nitems(w); k++) {
		size_t n = strlen(w[k].stem);

		if (i + n <= len && strncasecmp(t + i, w[k].stem, n) == 0 &&
		    (!w[k].whole || i + n == len ||
		    !isalpha((unsigned char)t[i + n])))
			return 1;
	}
	return 0;
}

int
dlp_phi_near(const char *t, size_t len, size_t s, size_t e)
{
	size_t from = s > DLP_PHI_WINDOW ? s - DLP_PHI_WINDOW : 0;
	size_t to = e + DLP_PHI_WINDOW < len ? e + DLP_PHI_WINDOW : len;

	for (size_t i = from; i < to; i++)
		if ((i < s || i >= e) && medical_word(t, len, i))
			return 1;
	return 0;
}

int
dlp_mrn_at(const char *t, size_t len, size_t ks, size_t ke, size_t *start,
    size_t *end)
{
	static const char *const tails[] = { " number", " no.", " no",
	    " #" };
	size_t i = ke, nd = 0, s;

	if (ke > len || ks >= ke || (ks > 0 && is_alnum(t[ks - 1])))
		return 0;
	for (size_t k = 0; k < nitems(tails); k++) {
		size_t n = strlen(tails[k]);

		if (i + n <= len && strncasecmp(t + i, tails[k], n) == 0) {
			i += n;
			break;
		}
	}
	while (i < len && (t[i] == ' ' || t[i] == '\t'))
		i++;
	if (i < len && (t[i] == ':' || t[i] == '#'))
		i++;
	while (i < len && (t[i] == ' ' || t[i] == '\t'))
		i++;
	s = i;
	while (i < len && nd <= 12) {
		if (is_digit(t[i]))
			nd++;
		else if (!(t[i] == '-' && i > s && is_digit(t[i - 1]) &&
		    i + 1 < len && is_digit(t[i + 1])))
			break;
		i++;
	}
	if (nd < 6 || nd > 12 || (i < len && is_alnum(t[i])))
		return 0;
	*start = s;
	*end = i;
	return 1;
}

/* s[0..n) into out with the characters keep() refuses starred. */
static void
mask_with(const char *s, size_t n, char *out, int (*keep)(const char *,
    size_t, size_t, void *), void *arg)
{
	size_t o = 0, lim = n;

	if (lim > DLP_MASK_MAX - 4)
		lim = DLP_MASK_MAX - 4;
	for (size_t i = 0; i < lim; i++)
		out[o++] = keep(s, n, i, arg) ? s[i] : '*';
	if (lim < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* Which alphanumerics (by count from either end) stay readable. */
struct keep_ends {
	int	 (*cls)(int);
	size_t	 first, last, total;
	size_t	 seen;
};

static int
keep_ends(const char *s, size_t n, size_t i, void *arg)
{
	struct keep_ends *k = arg;
	size_t before = 0;

	if (!k->cls(s[i]))
		return 1;
	for (size_t j = 0; j < i; j++)
		before += k->cls(s[j]) != 0;
	return before < k->first || before >= k->total - k->last;
}

static void
mask_ends(const char *s, size_t n, char *out, int (*cls)(int), size_t first,
    size_t last)
{
	struct keep_ends k = { cls, first, last, 0, 0 };

	for (size_t i = 0; i < n; i++)
		k.total += cls(s[i]) != 0;
	mask_with(s, n, out, keep_ends, &k);
}

void
dlp_mask_card(const char *s, size_t n, char *out)
{
	mask_ends(s, n, out, is_digit, 4, 4);
}

void
dlp_mask_ssn(const char *s, size_t n, char *out)
{
	mask_ends(s, n, out, is_digit, 0, 4);
}

void
dlp_mask_iban(const char *s, size_t n, char *out)
{
	mask_ends(s, n, out, is_alnum, 4, 4);
}

void
dlp_mask_phone(const char *s, size_t n, char *out)
{
	mask_ends(s, n, out, is_digit, 0, 2);
}

void
dlp_mask_email(const char *s, size_t n, char *out)
{
	const char *at = memchr(s, '@', n);
	size_t dl = at ? n - (size_t)(at - s) : 0;

	if (dl > DLP_MASK_MAX - 4)
		dl = DLP_MASK_MAX - 4;
	memcpy(out, "***", 3);
	memcpy(out + 3, at ? at : "", dl);
	out[3 + dl] = '\0';
}

void
dlp_mask_other(const char *s, size_t n, char *out)
{
	size_t i, lim = n;

	if (n <= 6) {
		for (i = 0; i < n; i++)
			out[i] = '*';
		out[n] = '\0';
		return;
	}
	if (lim > DLP_MASK_MAX - 4)
		lim = DLP_MASK_MAX - 4;
	/* Only ASCII shows: a byte of a UTF-8 sequence alone would not be
	 * text. */
	out[0] = (unsigned char)s[0] < 0x80 ? s[0] : '*';
	for (i = 1; i < lim; i++)
		out[i] = '*';
	/* The last character only when the whole value fits. */
	if (lim == n && (unsigned char)s[n - 1] < 0x80)
		out[n - 1] = s[n - 1];
	else {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[lim == n ? n : i] = '\0';
}

void
dlp_redact(enum dlp_redact how, char *s, size_t n)
{
	int (*cls)(int) = how == DLP_R_PHONE ? is_digit : is_alnum;
	size_t keep = how == DLP_R_LAST4 ? 4 : how == DLP_R_PHONE ? 2 : 0;
	const char *at = how == DLP_R_EMAIL ? memchr(s, '@', n) : NULL;

	if (at)
		n = (size_t)(at - s);
	/* From the end: the last `keep` of the class stay. */
	for (size_t i = n; i-- > 0;) {
		if (!cls(s[i]))
			continue;
		if (keep > 0)
			keep--;
		else
			s[i] = 'X';
	}
}
