/*
 * output.h - aligned tables and JSON lines for gwctl listings.
 */
#ifndef GWCTL_OUTPUT_H
#define GWCTL_OUTPUT_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "json.h"

#define OUTPUT_MAX_COLS	16

struct cmd;
struct args;
struct ctx;
struct sqlite3_stmt;

struct output_table {
	int	 ncols;
	size_t	 nrows, cap;
	char	**cells;	/* row-major; row 0 is the header */
};

/* A list of strings (domains, networks, key ids). */
struct output_strv {
	char	**v;
	int	  n;
};

int	output_format(const struct cmd *, const struct args *, int *json);
void	output_time(int64_t unix_seconds, char *, size_t);

/* Cells are copied; NULL or "" is shown as "-". */
void	output_table_init(struct output_table *, int ncols, ...);
void	output_table_row(struct output_table *, ...);
void	output_table_vrow(struct output_table *, va_list);
void	output_table_print(struct output_table *, FILE *);
void	output_table_free(struct output_table *);
/*
 * A listing: each row of st to json_row() (a JSON line) or, into t (its
 * header made), to table_row(); then t is printed (unless an error
 * came) and freed, and st finalized.  EX_OK, or gw.db's error, said.
 */
int	output_list(struct ctx *, struct sqlite3_stmt *st, int json,
	    struct output_table *t, void (*json_row)(struct sqlite3_stmt *),
	    void (*table_row)(struct output_table *, struct sqlite3_stmt *));

void	output_strv_add(struct output_strv *, const char *);
void	output_strv_free(struct output_strv *);
void	output_strv_join(const struct output_strv *, struct buf *);
void	output_strv_json(const struct output_strv *, struct buf *);

#endif
