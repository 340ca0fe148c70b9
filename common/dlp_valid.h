/*
 * dlp_valid.h - the validators that confirm what the content scanner's
 * patterns find, and the masks that show a match without telling it.
 * Pure: text in, a verdict out, no I/O and no allocation; the unit tests
 * and a fuzzer reach every one.
 *
 * The scanner (dlp.c) reports where a candidate ends (cards, phone
 * numbers, SSNs), begins (IBANs) or its "@" (e-mail); the validator
 * finds the whole value around that offset in the text and checks it:
 * a card number's length, Luhn digit and issuer range; an SSN's area,
 * group and serial; an IBAN's length for its country and its mod-97.
 */
#ifndef GW_DLP_VALID_H
#define GW_DLP_VALID_H

#include <stddef.h>

#define DLP_MASK_MAX	64	/* a masked value, with its NUL */

/* The digits of s[0..n) (separators skipped) pass the Luhn check. */
int	 dlp_luhn(const char *digits, size_t n);
/* digits[0..n) (n 12..19) start with a known issuer range that issues
 * numbers of that length: Visa, Mastercard, Amex, Discover, Diners,
 * JCB, UnionPay, Maestro, Mir. */
int	 dlp_card_iin(const char *digits, size_t n);

/*
 * A card number ending at t[end - 1]: 13 to 19 digits, single spaces or
 * hyphens between them allowed, no digit or letter right before or
 * after.  The longest valid number of the run of digits and separators
 * ending there wins.  1 with its start in *start, else 0.
 */
int	 dlp_card_at(const char *t, size_t len, size_t end, size_t *start);
/* "AAA-GG-SSSS" (or with spaces) at t[start]: no 000, 666 or 9xx area,
 * no 00 group, no 0000 serial, no digit around it. */
int	 dlp_ssn_at(const char *t, size_t len, size_t start);
/* An IBAN at t[start] (two letters, two check digits), in print form
 * (groups of four) or not: the length its country has and mod-97 == 1.
 * 1 with its end in *end, else 0. */
int	 dlp_iban_at(const char *t, size_t len, size_t start, size_t *end);
/* An e-mail address around the "@" at t[at]: 1 with its span in
 * [*start, *end). */
int	 dlp_email_at(const char *t, size_t len, size_t at, size_t *start,
	    size_t *end);
/* A phone number ends at t[end - 1]: 10 to 15 digits in a run of digits,
 * spaces, dots, hyphens, parentheses and a leading '+'. */
int	 dlp_phone_at(const char *t, size_t len, size_t end, size_t *start);

/*
 * PHI (protected health information).  An ICD-10 code at t[start]: a
 * capital letter, two digits (A00 to Z99), and optionally a dot and one
 * to four letters or digits ("E11.9", "S72.001A"), no letter or digit
 * around it: 1 with its end in *end.  dlp_phi_near(): a medical word
 * ("diagnosis", "patient", "ICD", "Dx", "treatment"...) begins within
 * DLP_PHI_WINDOW bytes before start or after end; a code counts only
 * then.  A medical record number: after "MRN" or "medical record"
 * (caseless, ending at t[kw_end - 1], no letter or digit before
 * kw_start) and an optional " number", " no." or "#", then ':' or '#'
 * and blanks, 6 to 12 digits (single hyphens between them allowed), no
 * letter or digit after: 1 with the number's span in [*start, *end).
 */
#define DLP_PHI_WINDOW	64
int	 dlp_icd10_at(const char *t, size_t len, size_t start, size_t *end);
int	 dlp_phi_near(const char *t, size_t len, size_t start, size_t end);
int	 dlp_mrn_at(const char *t, size_t len, size_t kw_start, size_t kw_end,
	    size_t *start, size_t *end);

/* Masks (out of DLP_MASK_MAX bytes; a longer value is cut, with "..."):
 * card "4111 **** **** 1111" (first and last four digits kept, the
 * separators as written); SSN "***-**-1120"; IBAN country and check
 * digits and the last four kept; e-mail "***@domain"; phone all but the
 * last two digits; anything else its first and last character when it
 * has more than six, else all stars. */
void	 dlp_mask_card(const char *s, size_t n, char *out);
void	 dlp_mask_ssn(const char *s, size_t n, char *out);
void	 dlp_mask_iban(const char *s, size_t n, char *out);
void	 dlp_mask_email(const char *s, size_t n, char *out);
void	 dlp_mask_phone(const char *s, size_t n, char *out);
void	 dlp_mask_other(const char *s, size_t n, char *out);

/* What the redact action leaves of a value, in place (the length never
 * changes): a card's, SSN's or IBAN's letters and digits but the last
 * four become 'X' ("XXXX-XXXX-XXXX-1111", separators as written); a
 * phone number's digits but the last two; an e-mail address's local
 * part; anything else (regex:, keywords:, phi) every letter and digit. */
enum dlp_redact { DLP_R_LAST4, DLP_R_PHONE, DLP_R_EMAIL, DLP_R_ALL };
void	 dlp_redact(enum dlp_redact, char *s, size_t n);

#endif
