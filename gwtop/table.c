/*
 * table.c - the rows of a panel as htop shows processes: filtered by a
 * substring of any cell (`/`), sorted by a chosen column (`<` `>`,
 * `I` reverses), drawn as many as fit with the selected one kept in
 * view.  Ties keep the order the model read them in.
 * Diagnostics: never dies; nothing here fails.
 */
#include <curses.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "view.h"

#define CELL_MAX	512

struct table_sort {
	const struct table	*t;
	const struct view	*v;
	const struct snapshot	*s;
	const struct tview	*tv;
};

static int
table_match(const struct table *t, const struct view *v,
    const struct snapshot *s, int row, const char *filter)
{
	char cell[CELL_MAX];

	if (*filter == '\0')
		return 1;
	for (int c = 0; c < t->ncols; c++) {
		t->cell(v, s, row, c, cell, sizeof(cell));
		if (strcasestr(cell, filter) != NULL)
			return 1;
	}
	return 0;
}

static int
table_cmp(const void *a, const void *b, void *arg)
{
	const struct table_sort *c = arg;
	int x = *(const int *)a, y = *(const int *)b, col = c->tv->sort, r;
	char cx[CELL_MAX], cy[CELL_MAX];
	double kx, ky;

	if (c->t->cols[col].numeric) {
		kx = c->t->key(c->v, c->s, x, col);
		ky = c->t->key(c->v, c->s, y, col);
		r = kx > ky ? -1 : kx < ky;
	} else {
		c->t->cell(c->v, c->s, x, col, cx, sizeof(cx));
		c->t->cell(c->v, c->s, y, col, cy, sizeof(cy));
		r = strcasecmp(cx, cy);
	}
	if (c->tv->reverse)
		r = -r;
	return r != 0 ? r : x - y;
}

void
table_order(const struct table *t, const struct view *v,
    const struct snapshot *s, struct tview *tv)
{
	struct table_sort c = { t, v, s, tv };
	int n = t->nrows(v, s);

	tv->n = 0;
	for (int i = 0; i < n && tv->n < ROWS_MAX; i++)
		if (table_match(t, v, s, i, tv->filter))
			tv->order[tv->n++] = i;
	if (tv->sort < 0 || tv->sort >= t->ncols)
		tv->sort = 0;
	qsort_r(tv->order, (size_t)tv->n, sizeof(int), table_cmp, &c);
	if (tv->sel >= tv->n)
		tv->sel = tv->n - 1;
	if (tv->sel < 0)
		tv->sel = 0;
}

/* Each column's x and width on this screen; widths may be 0. */
static void
table_layout(const struct table *t, int *x, int *w)
{
	int fixed = 0, flex = 0, rest, used = 0, pos = 0, last = -1;

	for (int c = 0; c < t->ncols; c++) {
		fixed += t->cols[c].width + (c > 0);
		flex += t->cols[c].flex;
		if (t->cols[c].flex)
			last = c;
	}
	rest = COLS - fixed > 0 ? COLS - fixed : 0;
	for (int c = 0; c < t->ncols; c++) {
		w[c] = t->cols[c].width;
		if (t->cols[c].flex) {
			w[c] = c == last ? rest - used :
			    rest * t->cols[c].flex / flex;
			used += w[c];
		}
		x[c] = pos;
		pos += w[c] + 1;
	}
}

static void
table_cell(int y, int x, int w, const char *text, int right)
{
	int len = (int)strlen(text);

	if (w <= 0 || x >= COLS)
		return;
	if (x + w > COLS)
		w = COLS - x;
	if (right && len < w)
		x += w - len;
	view_put(y, x, text, w);
}

static void
table_line(const struct table *t, const struct view *v,
    const struct snapshot *s, int row, int y, const int *x, const int *w)
{
	char cell[CELL_MAX];
	int attr = t->level ? view_attr(v, t->level(v, s, row)) : 0;
	int lc = t->level_col;

	for (int c = 0; c < t->ncols; c++) {
		t->cell(v, s, row, c, cell, sizeof(cell));
		if (t->cell_level) {
			attr = view_attr(v, t->cell_level(v, s, row, c));
			lc = c;
		}
		if (c == lc)
			attron(attr);
		table_cell(y, x[c], w[c], cell, t->cols[c].numeric);
		if (c == lc)
			attroff(attr);
	}
}

int
table_draw(const struct table *t, const struct view *v,
    const struct snapshot *s, const struct tview *tv, int y, int rows)
{
	int x[16], w[16], first = 0, n;

	if (rows < 1 || t->ncols > 16)
		return 0;
	table_layout(t, x, w);
	attron(A_BOLD);
	mvhline(y, 0, ' ', COLS);
	for (int c = 0; c < t->ncols; c++) {
		if (c == tv->sort)
			attron(A_UNDERLINE);
		table_cell(y, x[c], w[c], t->cols[c].title,
		    t->cols[c].numeric);
		if (c == tv->sort)
			attroff(A_UNDERLINE);
	}
	attroff(A_BOLD);
	n = rows - 1;
	if (t->selectable && tv->sel >= n)
		first = tv->sel - n + 1;
	for (int i = 0; i < n && first + i < tv->n; i++) {
		int sel = t->selectable && first + i == tv->sel;

		if (sel) {
			attron(A_REVERSE);
			mvhline(y + 1 + i, 0, ' ', COLS);
		}
		table_line(t, v, s, tv->order[first + i], y + 1 + i, x, w);
		if (sel)
			attroff(A_REVERSE);
	}
	return 1 + (tv->n - first < n ? tv->n - first : n);
}

/* A screen's table under its title, or why it cannot be shown. */
int
table_panel(const struct view *v, const struct snapshot *s,
    enum view_screen sc, int y, int rows, const char *title, const char *err)
{
	if (rows < 2)
		return 0;
	view_title(y, title);
	if (err != NULL) {
		attron(view_attr(v, LEVEL_BAD));
		view_put(y + 1, 0, err, COLS);
		attroff(view_attr(v, LEVEL_BAD));
		return 2;
	}
	return 1 + table_draw(view_table(sc), v, s, &v->t[sc], y + 1,
	    rows - 1);
}
