/*
 * view.h - the screen: a header, the current screen's panels, a footer,
 * a help overlay; colours by level unless NO_COLOR is set.  Each screen
 * has one table (table.c) that `/` filters and `<` `>` sort.
 */
#ifndef GWTOP_VIEW_H
#define GWTOP_VIEW_H

#include <stddef.h>

#include "gwtop.h"

#define REFRESH_MIN_MS	500
#define FILTER_MAX	64
#define ROWS_MAX	500		/* the longest table */

/* The screens, in the order of their keys 1..5; a message's lifecycle
 * (Enter on the queue) has no key. */
enum view_screen { SCR_OVERVIEW, SCR_DEST, SCR_SUBS, SCR_QUEUE, SCR_POOLS,
    SCR_MESSAGE, NSCR };

/* What the user chose for one screen's table, and what it shows now. */
struct tview {
	int		 sort;		/* column */
	int		 reverse;
	char		 filter[FILTER_MAX];
	int		 sel;		/* selected line (queue) */
	int		 order[ROWS_MAX];	/* rows shown, in order */
	int		 n;
};

struct view {
	int		 color;		/* has_colors(), no NO_COLOR */
	int		 paused;
	int		 help;		/* the help overlay is up */
	int		 editing;	/* typing a filter */
	int		 interval_ms;
	enum view_screen	 screen;
	int		 day;		/* subaccounts over 24 h, not 1 h */
	struct tview	 t[NSCR];
};

/* A panel draws from row y, using at most `rows` rows; returns rows used. */
typedef int	panel_draw_fn(const struct view *, const struct snapshot *,
		    int y, int rows);

panel_draw_fn	panel_header_draw, panel_queue_draw, panel_live_draw,
		panel_rates_draw, panel_events_draw, panel_dest_draw,
		panel_subs_draw, panel_mailq_draw, panel_message_draw,
		panel_pools_draw;

/*
 * table.c: a table is columns and a way to read a cell.  Columns of
 * width 0 share what is left of the screen by their `flex`, each
 * getting at least its `min` (or with `fit`, its widest cell).  When the screen is too narrow for every
 * column at its width (or min), columns with a `drop` rank are left
 * out, the highest rank first, rather than every column cut short.
 * Numeric columns sort largest first, text ones A to Z.
 */
struct table_col {
	const char	*title;
	int		 width;
	int		 flex;
	int		 numeric;	/* right-aligned, sorted by key() */
	int		 min;		/* flex: the narrowest worth showing */
	int		 drop;		/* 0: always shown; else left out
					   on a narrow screen, highest
					   first */
	int		 grouped;	/* a figure of the row's group: shown
					   on the group's first line only */
	int		 fit;		/* flex: asks for its widest cell,
					   up to fit columns (0: just min) */
};

struct table {
	const struct table_col *cols;
	int		 ncols;
	int		 selectable;	/* a line is highlighted */
	int		 level_col;	/* the column level() colours */
	int		(*nrows)(const struct view *, const struct snapshot *);
	void		(*cell)(const struct view *, const struct snapshot *,
			    int row, int col, char *, size_t);
	double		(*key)(const struct view *, const struct snapshot *,
			    int row, int col);
	enum level	(*level)(const struct view *, const struct snapshot *,
			    int row);
	/* If set, colours each cell instead (level_col is not used). */
	enum level	(*cell_level)(const struct view *,
			    const struct snapshot *, int row, int col);
	/* If set, rows of one group (the same number) that come one after
	 * another show their `grouped` columns once, on the first. */
	int		(*group)(const struct view *, const struct snapshot *,
			    int row);
};

/* events_table serves the overview and the message screen. */
extern const struct table events_table, dest_table, subs_table,
	    mailq_table, pools_table;

const struct table *view_table(enum view_screen);
void	 table_order(const struct table *, const struct view *,
	    const struct snapshot *, struct tview *);
/* Each column's x and width on a screen of `cols` columns for the rows
 * of tv; a column left out has width 0. */
void	 table_layout(const struct table *, const struct view *,
	    const struct snapshot *, const struct tview *, int cols, int *x,
	    int *w);
int	 table_draw(const struct table *, const struct view *,
	    const struct snapshot *, const struct tview *, int y, int rows);
/* The title, then the table or (err not NULL) the reason in red. */
int	 table_panel(const struct view *, const struct snapshot *,
	    enum view_screen, int y, int rows, const char *title,
	    const char *err);

void	 view_init(struct view *);
void	 view_end(void);
void	 view_draw(struct view *, const struct snapshot *);
int	 view_attr(const struct view *, enum level);
/* Print s at (y, x) in at most `cols` columns, controls shown as '?'. */
void	 view_put(int y, int x, const char *s, int cols);
/* s over lines from (y, x) of `cols` columns, broken at spaces, at most
 * `rows` of them; the lines used. */
int	 view_wrap(int y, int x, const char *s, int cols, int rows);
void	 view_title(int y, const char *);
void	 view_duration(int64_t seconds, char *, size_t);

/* The key table (main.c): dispatch, and the help overlay's lines. */
struct gwtop;
struct key {
	int		  ch;
	const char	 *name;		/* for the help; NULL: alias */
	const char	 *what;
	int		(*fn)(struct gwtop *);
};
extern const struct key	keys[];
extern const size_t	nkeys;

#endif
