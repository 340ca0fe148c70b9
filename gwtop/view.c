/*
 * view.c - arranging panels on the screen (ncursesw).
 *
 * Curses is entered once and left through view_end(), which main()
 * registers with atexit(), so the terminal is restored on every way out:
 * q, a signal (the handler only sets a flag), or fatal().
 * Diagnostics: never dies but through fatal() elsewhere, which still
 * restores the terminal (atexit); curses errors are ignored and the next
 * refresh draws again.
 */
#include <curses.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "json.h"
#include "util.h"
#include "view.h"

enum { PAIR_GOOD = 1, PAIR_WARN, PAIR_BAD, PAIR_TITLE };

static int view_active;

/* Each screen's panels, top to bottom; the last one has the table. */
#define PANELS_MAX	5
static panel_draw_fn *const screens[NSCR][PANELS_MAX] = {
	[SCR_OVERVIEW] = { panel_header_draw, panel_queue_draw,
	    panel_live_draw, panel_rates_draw, panel_events_draw },
	[SCR_DEST] = { panel_header_draw, panel_dest_draw },
	[SCR_SUBS] = { panel_header_draw, panel_subs_draw },
	[SCR_QUEUE] = { panel_header_draw, panel_queue_draw,
	    panel_mailq_draw },
	[SCR_POOLS] = { panel_header_draw, panel_pools_draw },
	[SCR_MESSAGE] = { panel_header_draw, panel_message_draw },
};

static const struct table *const tables[NSCR] = {
	&events_table, &dest_table, &subs_table, &mailq_table, &pools_table,
	&events_table,
};

const struct table *
view_table(enum view_screen sc)
{
	return tables[sc];
}

void
view_init(struct view *v)
{
	const char *nc = getenv("NO_COLOR");

	setlocale(LC_ALL, "");
	initscr();
	view_active = 1;
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	set_escdelay(25);	/* Esc alone, not the start of a sequence */
	curs_set(0);
	v->color = has_colors() && (nc == NULL || *nc == '\0');
	if (v->color) {
		start_color();
		use_default_colors();
		init_pair(PAIR_GOOD, COLOR_GREEN, -1);
		init_pair(PAIR_WARN, COLOR_YELLOW, -1);
		init_pair(PAIR_BAD, COLOR_RED, -1);
		init_pair(PAIR_TITLE, COLOR_BLACK, COLOR_CYAN);
	}
}

void
view_end(void)
{
	if (view_active && !isendwin()) {
		curs_set(1);
		endwin();
	}
	view_active = 0;
}

int
view_attr(const struct view *v, enum level l)
{
	static const int pair[] = { 0, PAIR_GOOD, PAIR_WARN, PAIR_BAD };

	if (l == LEVEL_NONE)
		return A_NORMAL;
	if (!v->color)
		return l == LEVEL_BAD ? A_BOLD : A_NORMAL;
	return COLOR_PAIR(pair[l]) | (l == LEVEL_BAD ? A_BOLD : 0);
}

/*
 * Untrusted text (addresses from the log) to the screen: valid UTF-8
 * only, no control characters, cut at `cols` display columns.
 */
void
view_put(int y, int x, const char *s, int cols)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, n;
	char out[1024];
	size_t o = 0;
	uint32_t cp;
	int w, used = 0;

	while (i < len && o + 5 < sizeof(out)) {
		n = json_utf8_next(p + i, len - i, &cp);
		w = n && cp >= 0x20 && !(cp >= 0x7f && cp < 0xa0) ?
		    wcwidth((wchar_t)cp) : -1;
		if (w < 0) {
			n = n ? n : 1;
			w = 1;
			if (used + 1 > cols)
				break;
			out[o++] = '?';
		} else {
			if (used + w > cols)
				break;
			memcpy(out + o, p + i, n);
			o += n;
		}
		used += w;
		i += n;
	}
	out[o] = '\0';
	mvaddstr(y, x, out);
}

/* How many bytes of s fill at most `cols` columns, broken after a
 * space when one is in reach (each character counts as one column;
 * view_put() cuts what is wider). */
static size_t
view_line_len(const char *s, int cols)
{
	size_t i = 0, brk = 0;
	int used = 0;

	while (s[i] != '\0' && used < cols) {
		if (s[i] == ' ')
			brk = i + 1;
		i++;
		while (((unsigned char)s[i] & 0xc0) == 0x80)
			i++;
		used++;
	}
	if (s[i] == '\0' || s[i] == ' ' || brk == 0)
		return i;
	return brk;
}

int
view_wrap(int y, int x, const char *s, int cols, int rows)
{
	char line[1024];
	size_t n;
	int used = 0;

	if (cols < 1)
		return 0;
	while (*s != '\0' && used < rows) {
		n = view_line_len(s, cols);
		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, s, n);
		line[n] = '\0';
		view_put(y + used++, x, line, cols);
		s += n;
		s += strspn(s, " ");
	}
	return used;
}

void
view_duration(int64_t s, char *out, size_t n)
{
	if (s < 60)
		snprintf(out, n, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(out, n, "%lldm%02llds", (long long)s / 60,
		    (long long)s % 60);
	else if (s < 86400)
		snprintf(out, n, "%lldh%02lldm", (long long)s / 3600,
		    (long long)s % 3600 / 60);
	else
		snprintf(out, n, "%lldd%02lldh", (long long)s / 86400,
		    (long long)s % 86400 / 3600);
}

void
view_title(int y, const char *text)
{
	attron(A_BOLD);
	view_put(y, 0, text, COLS);
	attroff(A_BOLD);
}

/* Keys, or the filter being typed; the current sort and filter. */
static void
view_footer(const struct view *v)
{
	const struct tview *tv = &v->t[v->screen];
	const struct table *t = tables[v->screen];
	char line[256];

	if (v->editing)
		snprintf(line, sizeof(line), " Filter: %s_   (Enter: keep, "
		    "Esc: clear)", tv->filter);
	else
		snprintf(line, sizeof(line), " q quit  h help  / filter  < > "
		    "sort  1-5 screens   sort: %s%s%s%s",
		    t->cols[tv->sort].title, tv->reverse ? " (reversed)" : "",
		    tv->filter[0] ? "  filter: " : "", tv->filter);
	attron(v->color ? COLOR_PAIR(PAIR_TITLE) : A_REVERSE);
	mvhline(LINES - 1, 0, ' ', COLS);
	view_put(LINES - 1, 0, line, COLS);
	attroff(v->color ? COLOR_PAIR(PAIR_TITLE) : A_REVERSE);
}

static void
view_box(int y, int x, int h, int w)
{
	for (int i = 0; i < h; i++)
		mvhline(y + i, x, ' ', w);
	mvhline(y, x + 1, ACS_HLINE, w - 2);
	mvhline(y + h - 1, x + 1, ACS_HLINE, w - 2);
	mvvline(y + 1, x, ACS_VLINE, h - 2);
	mvvline(y + 1, x + w - 1, ACS_VLINE, h - 2);
	mvaddch(y, x, ACS_ULCORNER);
	mvaddch(y, x + w - 1, ACS_URCORNER);
	mvaddch(y + h - 1, x, ACS_LLCORNER);
	mvaddch(y + h - 1, x + w - 1, ACS_LRCORNER);
}

/* The key table as a box in the middle, as wide as its longest line;
 * on a screen too small for it, as much as fits. */
#define HELP_KEYW	10	/* the keys' column */

static void
view_help(const struct view *v)
{
	int h = 4, w = 0, y, x, row;

	for (size_t i = 0; i < nkeys; i++)
		if (keys[i].name != NULL) {
			h++;
			if ((int)strlen(keys[i].what) > w)
				w = (int)strlen(keys[i].what);
		}
	w += HELP_KEYW + 6;	/* border, margins, the gap */
	h = h > LINES ? LINES : h;
	w = w > COLS ? COLS : w;
	if (h < 4 || w < HELP_KEYW + 8)
		return;
	y = (LINES - h) / 2;
	x = (COLS - w) / 2;
	view_box(y, x, h, w);
	attron(A_BOLD);
	view_put(y + 1, x + 2, "gwtop keys (any key closes this)", w - 4);
	attroff(A_BOLD);
	row = y + 2;
	for (size_t i = 0; i < nkeys && row < y + h - 1; i++) {
		if (keys[i].name == NULL)
			continue;
		view_put(row, x + 2, keys[i].name, HELP_KEYW);
		view_put(row++, x + HELP_KEYW + 4, keys[i].what,
		    w - HELP_KEYW - 6);
	}
}

void
view_draw(struct view *v, const struct snapshot *s)
{
	panel_draw_fn *const *p = screens[v->screen];
	int y = 0, rows;

	table_order(tables[v->screen], v, s, &v->t[v->screen]);
	erase();
	for (size_t i = 0; i < PANELS_MAX && p[i] && y < LINES - 1; i++) {
		rows = p[i](v, s, y, LINES - 1 - y);
		y += rows;
		if (rows > 0 && i + 1 < PANELS_MAX && p[i + 1])
			y++;	/* a blank line between panels */
	}
	view_footer(v);
	if (v->help)
		view_help(v);
	refresh();
}
