/*
 * output.c - how gwctl listings look: aligned tables for people, JSON
 * lines (one object per line) for scripts.
 * Diagnostics: dies (fatal) only when memory runs out while a listing is
 * rendered.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "gwctl.h"
#include "log.h"
#include "output.h"
#include "util.h"

int
output_format(const struct cmd *c, const struct args *a, int *json)
{
	const char *f = args_get(a, "--format");

	*json = 0;
	if (f == NULL || strcmp(f, "table") == 0)
		return EX_OK;
	if (strcmp(f, "json") == 0 || strcmp(f, "jsonl") == 0) {
		*json = 1;
		return EX_OK;
	}
	return cmd_usage_error(c, "--format: expected table or json");
}

/* RFC 3339, UTC, whole seconds: 2026-11-24T14:57:03Z */
void
output_time(int64_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	if (strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0 && n > 0)
		out[0] = '\0';
}

void
output_table_init(struct output_table *t, int ncols, ...)
{
	va_list ap;

	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	va_start(ap, ncols);
	output_table_vrow(t, ap);
	va_end(ap);
}

void
output_table_vrow(struct output_table *t, va_list ap)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells = xreallocarray(t->cells, t->cap * (size_t)t->ncols,
		    sizeof(*t->cells));
	}
	for (int i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);

		t->cells[t->nrows * (size_t)t->ncols + (size_t)i] =
		    xstrdup(s && *s ? s : "-");
	}
	t->nrows++;
}

void
output_table_row(struct output_table *t, ...)
{
	va_list ap;

	va_start(ap, t);
	output_table_vrow(t, ap);
	va_end(ap);
}

/* Columns padded to their widest cell; the last one is not padded.  The
 * header row is printed even alone: an empty list is seen to be one. */
void
output_table_print(struct output_table *t, FILE *fp)
{
	size_t w[OUTPUT_MAX_COLS] = { 0 };
	int c;

	for (size_t r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols && c < OUTPUT_MAX_COLS; c++) {
			size_t n = strlen(t->cells[r * (size_t)t->ncols +
			    (size_t)c]);

			if (n > w[c])
				w[c] = n;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * (size_t)t->ncols +
			    (size_t)c];

			if (c == t->ncols - 1)
				fprintf(fp, "%s\n", s);
			else
				fprintf(fp, "%-*s  ", (int)w[c], s);
		}
	}
}

void
output_table_free(struct output_table *t)
{
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

void
output_strv_add(struct output_strv *v, const char *s)
{
	v->v = xreallocarray(v->v, (size_t)v->n + 1, sizeof(*v->v));
	v->v[v->n++] = xstrdup(s);
}

void
output_strv_free(struct output_strv *v)
{
	for (int i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
	v->v = NULL;
	v->n = 0;
}

/* "a,b,c" into b; "" when empty. */
void
output_strv_join(const struct output_strv *v, struct buf *b)
{
	for (int i = 0; i < v->n; i++)
		if (buf_printf(b, "%s%s", i ? "," : "", v->v[i]) == -1)
			fatal("output too long");
}

/* ["a","b"] into b. */
void
output_strv_json(const struct output_strv *v, struct buf *b)
{
	int r = buf_putc(b, '[');

	for (int i = 0; i < v->n && r == 0; i++)
		if ((r = i ? buf_putc(b, ',') : 0) == 0)
			r = json_string(b, v->v[i]);
	if (r == -1 || buf_putc(b, ']') == -1)
		fatal("output too long");
}

int
output_list(struct ctx *ctx, sqlite3_stmt *st, int json,
    struct output_table *t, void (*json_row)(sqlite3_stmt *),
    void (*table_row)(struct output_table *, sqlite3_stmt *))
{
	int r, rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (json)
			json_row(st);
		else
			table_row(t, st);
	}
	r = rc == SQLITE_DONE ? EX_OK : ctx_sqlerr(ctx, "gw.db");
	sqlite3_finalize(st);
	if (r == EX_OK && !json)
		output_table_print(t, stdout);
	output_table_free(t);
	return r;
}
