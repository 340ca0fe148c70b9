/*
 * suppress_parse.c - gwctl suppression's input (see suppress_parse.h).
 * Exposure: parses admin-supplied files; errors are messages, never a
 * crash.
 * Diagnostics: never dies; a line or address that does not parse returns
 * -1 or the reason, for the caller to name with its line number.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "suppress_parse.h"

int
supp_parse_address(const char *in, char out[ADDR_PATH_MAX + 1])
{
	struct mailpath mp;
	char tmp[ADDR_PATH_MAX + 3];
	size_t used, len = strlen(in);
	int n;

	if (len >= 2 && in[0] == '<' && in[len - 1] == '>')
		n = snprintf(tmp, sizeof(tmp), "%s", in);
	else
		n = snprintf(tmp, sizeof(tmp), "<%s>", in);
	if (n < 0 || (size_t)n >= sizeof(tmp) ||
	    addr_parse_path(tmp, (size_t)n, ADDR_ALLOW_UTF8, &mp, &used) !=
	    ADDR_OK ||
	    used != (size_t)n)
		return -1;
	for (size_t i = 0; i <= mp.len; i++)
		out[i] = (char)tolower((unsigned char)mp.addr[i]);
	return 0;
}

const char *
supp_check_reason(const char *r)
{
	if (strlen(r) > SUPP_REASON_MAX)
		return "reason: at most 200 characters";
	for (const char *p = r; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			return "reason: printable ASCII only";
	return NULL;
}

static char *
trim(char *s)
{
	char *e;

	s += strspn(s, " \t");
	for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
		;
	*e = '\0';
	return s;
}

/* A quoted CSV field at p (after its opening quote), unquoted in place. */
static int
unquote(char *p, const char **err)
{
	char *q = p;

	for (;; p++) {
		if (*p == '\0') {
			*err = "unbalanced quote";
			return -1;
		}
		if (*p == '"' && p[1] == '"')
			p++;
		else if (*p == '"')
			break;
		*q++ = *p;
	}
	if (*trim(p + 1) != '\0') {
		*err = "text after the quoted reason";
		return -1;
	}
	*q = '\0';
	return 0;
}

int
supp_parse_line(char *line, char **addr, char **reason, const char **err)
{
	char *comma;

	line[strcspn(line, "\r\n")] = '\0';
	*reason = NULL;
	if ((comma = strchr(line, ',')) != NULL) {
		*comma = '\0';
		*reason = trim(comma + 1);
		if (**reason == '"' && unquote(++*reason, err) == -1)
			return -1;
	}
	*addr = trim(line);
	return 0;
}
