/*
 * table.c - the rows of a panel as htop shows processes: filtered by a
 * substring of any cell (`/`), sorted by a chosen column (`<` `>`,
 * `I` reverses), drawn as many as fit with the selected one kept in
 * view.  Ties keep the order the model read them in.  A screen too
 * narrow for every column leaves some out (their `drop` rank) rather
 * than cutting all of them short; rows of one group in a row show the
 * group's figures once.
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

/* Columns of text as a terminal shows them: UTF-8 characters. */
static int
table_text_width(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* What each column needs: its width, or a flex column's least; and
 * what it would like: with `fit`, its widest cell among the rows shown
 * (up to fit). */
static void
table_wants(const struct table *t, const struct view *v,
    const struct snapshot *s, const struct tview *tv, int *need, int *like)
{
	char cell[CELL_MAX];

	for (int c = 0; c < t->ncols; c++) {
		const struct table_col *col = &t->cols[c];

		need[c] = like[c] = col->flex ? col->min : col->width;
		if (!col->flex || col->fit == 0)
			continue;
		if (table_text_width(col->title) > like[c])
			like[c] = table_text_width(col->title);
		for (int i = 0; i < tv->n && like[c] < col->fit; i++) {
			t->cell(v, s, tv->order[i], c, cell, sizeof(cell));
			if (table_text_width(cell) > like[c])
				like[c] = table_text_width(cell);
		}
		if (like[c] > col->fit)
			like[c] = col->fit;
	}
}

/* Leave out the columns a narrow screen cannot hold at their least,
 * highest drop rank first (the rightmost of equal ranks); shown[c]
 * says which stay. */
static void
table_fit(const struct table *t, const int *need, int cols, int *shown)
{
	int sum, worst;

	for (int c = 0; c < t->ncols; c++)
		shown[c] = 1;
	for (;;) {
		sum = -1;
		worst = -1;
		for (int c = 0; c < t->ncols; c++) {
			if (!shown[c])
				continue;
			sum += need[c] + 1;
			if (t->cols[c].drop > 0 && (worst == -1 ||
			    t->cols[c].drop >= t->cols[worst].drop))
				worst = c;
		}
		if (sum <= cols || worst == -1)
			return;
		shown[worst] = 0;
	}
}

/*
 * The columns that fit, each at its least; then the room left goes
 * first to the `fit` columns, up to their widest cell, and what is
 * still left to every flex column by its share.
 */
void
table_layout(const struct table *t, const struct view *v,
    const struct snapshot *s, const struct tview *tv, int cols, int *x,
    int *w)
{
	int need[16], like[16], shown[16], sum = -1, flex = 0, rest, more;
	int pos = 0, last = -1, given = 0;

	table_wants(t, v, s, tv, need, like);
	table_fit(t, need, cols, shown);
	for (int c = 0; c < t->ncols; c++) {
		w[c] = shown[c] ? need[c] : 0;
		if (!shown[c])
			continue;
		sum += need[c] + 1;
		flex += t->cols[c].flex;
		if (t->cols[c].flex)
			last = c;
	}
	rest = cols - sum > 0 ? cols - sum : 0;
	for (int c = 0; c < t->ncols && rest > 0; c++) {
		more = shown[c] ? like[c] - need[c] : 0;
		more = more < rest ? more : rest;
		w[c] += more;
		rest -= more;
	}
	for (int c = 0; c < t->ncols; c++) {
		if (shown[c] && t->cols[c].flex) {
			more = c == last ? rest - given : rest *
			    t->cols[c].flex / flex;
			w[c] += more;
			given += more;
		}
		x[c] = pos;
		if (shown[c])
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

/* One row; with `cont` (it goes on the group of the line above), its
 * grouped columns stay blank. */
static void
table_line(const struct table *t, const struct view *v,
    const struct snapshot *s, int row, int y, const int *x, const int *w,
    int cont)
{
	char cell[CELL_MAX];
	int attr = t->level ? view_attr(v, t->level(v, s, row)) : 0;
	int lc = t->level_col;

	for (int c = 0; c < t->ncols; c++) {
		if (cont && t->cols[c].grouped)
			continue;
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
	int x[16], w[16], first = 0, n, row, group, prev = -1;

	if (rows < 1 || t->ncols > 16)
		return 0;
	table_layout(t, v, s, tv, COLS, x, w);
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

		row = tv->order[first + i];
		group = t->group ? t->group(v, s, row) : -1;
		if (sel) {
			attron(A_REVERSE);
			mvhline(y + 1 + i, 0, ' ', COLS);
		}
		table_line(t, v, s, row, y + 1 + i, x, w, i > 0 &&
		    group != -1 && group == prev);
		prev = group;
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
