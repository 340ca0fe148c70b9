/*
 * complete.h - shell completion for the gw tools.
 *
 * `PROG --complete N WORD0 WORD1 ...` (bash's COMP_CWORD, then
 * COMP_WORDS) prints, one a line, what may stand at word N and begins
 * with what is typed there, taken from the tables the program parses its
 * own arguments with; it exits COMPLETE_FILES when a file name goes
 * there.  completion/gw.bash is the bash side.
 */
#ifndef GW_COMPLETE_H
#define GW_COMPLETE_H

#include <getopt.h>

#define COMPLETE_FILES	3	/* exit status: complete a file name */

/* Print w when it begins with cur. */
void	 complete_add(const char *cur, const char *w);
/* Every --name of lo that begins with cur. */
void	 complete_longopts(const char *cur, const struct option *lo);
/*
 * Is word an option of lo/shortopts that takes its value as the next
 * word ("--format", "-f")?  Its long name, or NULL.
 */
const char *complete_option_value(const struct option *lo,
	    const char *shortopts, const char *word);

#endif
