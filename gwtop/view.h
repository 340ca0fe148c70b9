/*
 * view.h - the screen: panels stacked top to bottom, a footer, a help
 * overlay; colours by level unless NO_COLOR is set.
 */
#ifndef GWTOP_VIEW_H
#define GWTOP_VIEW_H

#include <stddef.h>

#include "gwtop.h"

#define REFRESH_MIN_MS	500

struct view {
	int		 color;		/* has_colors(), no NO_COLOR */
	int		 paused;
	int		 help;		/* the help overlay is up */
	int		 interval_ms;
};

/* A panel draws from row y, using at most `rows` rows; returns rows used. */
typedef int	panel_draw_fn(const struct view *, const struct snapshot *,
		    int y, int rows);

panel_draw_fn	panel_header_draw, panel_queue_draw, panel_live_draw,
		panel_rates_draw, panel_events_draw;

void	 view_init(struct view *);
void	 view_end(void);
void	 view_draw(const struct view *, const struct snapshot *);
int	 view_attr(const struct view *, enum level);
/* Print s at (y, x) in at most `cols` columns, controls shown as '?'. */
void	 view_put(int y, int x, const char *s, int cols);
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
