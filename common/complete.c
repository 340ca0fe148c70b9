/*
 * complete.c - shell completion for the gw tools (see complete.h): the
 * pieces every program's `--complete` shares.  Reads only the program's
 * own arguments; prints to standard output.
 */
#include <stdio.h>
#include <string.h>

#include "complete.h"

void
complete_add(const char *cur, const char *w)
{
	if (strncmp(w, cur, strlen(cur)) == 0)
		printf("%s\n", w);
}

void
complete_longopts(const char *cur, const struct option *lo)
{
	char opt[80];

	for (; lo->name; lo++) {
		snprintf(opt, sizeof(opt), "--%s", lo->name);
		complete_add(cur, opt);
	}
}

const char *
complete_option_value(const struct option *lo, const char *shortopts,
    const char *word)
{
	const char *p;

	if (strncmp(word, "--", 2) == 0) {
		for (; lo->name; lo++)
			if (strcmp(word + 2, lo->name) == 0)
				return lo->has_arg == required_argument ?
				    lo->name : NULL;
		return NULL;
	}
	if (word[0] != '-' || word[1] == '\0' || word[1] == ':' ||
	    word[2] != '\0' || (p = strchr(shortopts, word[1])) == NULL ||
	    p[1] != ':')
		return NULL;
	for (; lo->name; lo++)
		if (lo->val == word[1])
			return lo->name;
	return "";
}
