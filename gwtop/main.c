/*
 * gwtop - a live view of gw: queue depth, throughput, delivery, deferral
 * and bounce rates, latency, recent events; destinations (qshape),
 * subaccounts, the queue, IP pools and one message's lifecycle.
 *
 * Security: only reads.  queue.db and log.db are opened read-only; the
 * control socket is only asked `stats`, `destinations`, `pools` and
 * `subaccounts`, which change nothing.  Runs with the caller's
 * privileges.  Text from the log, the queue and gwd (remote replies,
 * pause reasons) is cleaned of control characters before it reaches the
 * terminal.
 * Standards: RFC 3339 times and JSON (RFC 8259) in --once output.
 * Model: htop's - a model fills a snapshot, panels draw it, keys come
 * from a table, and the signal handler only sets a flag.
 * Diagnostics: exits 0, 64 (usage), 78 (configuration), 66 or 69 (--once
 * without readable databases); once drawing, it never exits but on q or
 * a signal, and restores the terminal on every way out (view_end()).
 */
#include <getopt.h>
#include <curses.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "complete.h"
#include "config.h"
#include "log.h"
#include "util.h"
#include "view.h"

#define KEY_F_REDRAW	0x01
#define KEY_F_QUIT	0x02
#define KEY_F_REFRESH	0x04	/* read the databases again now */
#define TICK_MS		250	/* longest wait for a key */

struct gwtop {
	struct view	 v;
	struct model	*m;
	struct snapshot	 s;
	int64_t		 next_ms;
};

static volatile sig_atomic_t got_signal;

static const int steps_ms[] = { 500, 1000, 2000, 5000, 10000, 30000,
    60000 };

static int
key_quit(struct gwtop *g)
{
	return KEY_F_QUIT;
}

static int
key_help(struct gwtop *g)
{
	g->v.help = 1;
	return KEY_F_REDRAW;
}

static int
key_pause(struct gwtop *g)
{
	g->v.paused = !g->v.paused;
	return KEY_F_REDRAW | (g->v.paused ? 0 : KEY_F_REFRESH);
}

static int
key_slower(struct gwtop *g)
{
	for (size_t i = 0; i < nitems(steps_ms); i++)
		if (steps_ms[i] > g->v.interval_ms) {
			g->v.interval_ms = steps_ms[i];
			break;
		}
	return KEY_F_REDRAW;
}

static int
key_faster(struct gwtop *g)
{
	for (size_t i = nitems(steps_ms); i-- > 0;)
		if (steps_ms[i] < g->v.interval_ms) {
			g->v.interval_ms = steps_ms[i];
			break;
		}
	return KEY_F_REDRAW | KEY_F_REFRESH;
}

static int
key_redraw(struct gwtop *g)
{
	clearok(curscr, TRUE);
	return KEY_F_REDRAW;
}

static struct tview *
key_tview(struct gwtop *g)
{
	return &g->v.t[g->v.screen];
}

static int
key_filter(struct gwtop *g)
{
	g->v.editing = 1;
	return KEY_F_REDRAW;
}

/* Esc: clear the filter; on a message, back to the queue. */
static int
key_escape(struct gwtop *g)
{
	struct tview *tv = key_tview(g);

	if (tv->filter[0] == '\0' && g->v.screen == SCR_MESSAGE) {
		g->v.screen = SCR_QUEUE;
		g->s.life_qid[0] = '\0';
	}
	tv->filter[0] = '\0';
	return KEY_F_REDRAW;
}

static int
key_sort_next(struct gwtop *g)
{
	struct tview *tv = key_tview(g);

	if (tv->sort + 1 < view_table(g->v.screen)->ncols)
		tv->sort++;
	tv->reverse = 0;
	return KEY_F_REDRAW;
}

static int
key_sort_prev(struct gwtop *g)
{
	struct tview *tv = key_tview(g);

	if (tv->sort > 0)
		tv->sort--;
	tv->reverse = 0;
	return KEY_F_REDRAW;
}

static int
key_invert(struct gwtop *g)
{
	key_tview(g)->reverse = !key_tview(g)->reverse;
	return KEY_F_REDRAW;
}

static int
key_screen(struct gwtop *g, enum view_screen sc)
{
	g->v.screen = sc;
	return KEY_F_REDRAW;
}

static int
key_overview(struct gwtop *g)
{
	return key_screen(g, SCR_OVERVIEW);
}

static int
key_dest(struct gwtop *g)
{
	return key_screen(g, SCR_DEST);
}

static int
key_subs(struct gwtop *g)
{
	return key_screen(g, SCR_SUBS);
}

static int
key_queue(struct gwtop *g)
{
	return key_screen(g, SCR_QUEUE);
}

static int
key_pools(struct gwtop *g)
{
	return key_screen(g, SCR_POOLS);
}

static int
key_next_screen(struct gwtop *g)
{
	return key_screen(g, (g->v.screen + 1) % SCR_MESSAGE);
}

/* Recent events: also the routine ones (signed, routed), or not. */
static int
key_all_events(struct gwtop *g)
{
	g->s.all_events = !g->s.all_events;
	return KEY_F_REDRAW | KEY_F_REFRESH;
}

static int
key_day(struct gwtop *g)
{
	g->v.day = !g->v.day;
	return KEY_F_REDRAW;
}

static int
key_move(struct gwtop *g, int by)
{
	struct tview *tv = key_tview(g);

	tv->sel += by;
	if (tv->sel >= tv->n)
		tv->sel = tv->n - 1;
	if (tv->sel < 0)
		tv->sel = 0;
	return KEY_F_REDRAW;
}

static int
key_up(struct gwtop *g)
{
	return key_move(g, -1);
}

static int
key_down(struct gwtop *g)
{
	return key_move(g, 1);
}

static int
key_page_up(struct gwtop *g)
{
	return key_move(g, -(LINES / 2));
}

static int
key_page_down(struct gwtop *g)
{
	return key_move(g, LINES / 2);
}

/* Enter on a queued message: its events, read from now on. */
static int
key_enter(struct gwtop *g)
{
	struct tview *tv = key_tview(g);

	if (g->v.screen != SCR_QUEUE || tv->n == 0)
		return 0;
	gw_strlcpy(g->s.life_qid, g->s.qmsg[tv->order[tv->sel]].qid,
	    sizeof(g->s.life_qid));
	g->v.screen = SCR_MESSAGE;
	g->v.t[SCR_MESSAGE].filter[0] = '\0';
	return KEY_F_REDRAW | KEY_F_REFRESH;
}

/* Typing a filter: every key is text but Enter, Esc and Backspace. */
static int
key_edit(struct gwtop *g, int ch)
{
	struct tview *tv = key_tview(g);
	size_t len = strlen(tv->filter);

	if (ch == '\n' || ch == '\r' || ch == KEY_ENTER)
		g->v.editing = 0;
	else if (ch == 27) {
		g->v.editing = 0;
		tv->filter[0] = '\0';
	} else if (ch == KEY_BACKSPACE || ch == 127 || ch == '\b') {
		if (len > 0)
			tv->filter[len - 1] = '\0';
	} else if (ch >= 0x20 && ch < 0x7f && len + 1 < sizeof(tv->filter)) {
		tv->filter[len] = (char)ch;
		tv->filter[len + 1] = '\0';
	} else if (ch != KEY_RESIZE)
		return 0;
	tv->sel = 0;
	return KEY_F_REDRAW;
}

const struct key keys[] = {
	{ 'q', "q", "quit", key_quit },
	{ 'Q', NULL, NULL, key_quit },
	{ 'h', "h ?", "this help", key_help },
	{ '?', NULL, NULL, key_help },
	{ '1', "1", "overview: queue, throughput, rates, events",
	    key_overview },
	{ '2', "2", "destinations (qshape)", key_dest },
	{ '3', "3", "subaccounts", key_subs },
	{ '4', "4", "queue; Enter: a message's lifecycle", key_queue },
	{ '5', "5", "IP pools: addresses, connections, outcomes",
	    key_pools },
	{ '\t', "Tab", "next screen", key_next_screen },
	{ '/', "/", "filter the table (Esc clears; Esc again: back)",
	    key_filter },
	{ 27, NULL, NULL, key_escape },
	{ '<', "< >", "sort by the column to the left / right", key_sort_prev },
	{ '>', NULL, NULL, key_sort_next },
	{ 'I', "I", "reverse the sort", key_invert },
	{ 'w', "w", "subaccounts: last hour / last 24 h", key_day },
	{ 'e', "e", "recent events: also signed and routed, or not",
	    key_all_events },
	{ KEY_UP, "Up Down", "choose a message (also PgUp PgDn)", key_up },
	{ KEY_DOWN, NULL, NULL, key_down },
	{ KEY_PPAGE, NULL, NULL, key_page_up },
	{ KEY_NPAGE, NULL, NULL, key_page_down },
	{ '\r', NULL, NULL, key_enter },
	{ '\n', NULL, NULL, key_enter },
	{ KEY_ENTER, NULL, NULL, key_enter },
	{ ' ', "space", "freeze / resume the display", key_pause },
	{ '+', "+ -", "refresh less / more often (0.5 s to 60 s)",
	    key_slower },
	{ '-', NULL, NULL, key_faster },
	{ 'L' & 0x1f, "^L", "redraw the screen", key_redraw },
	{ KEY_RESIZE, NULL, NULL, key_redraw },
};
const size_t nkeys = nitems(keys);

static int
main_key(struct gwtop *g, int ch)
{
	if (g->v.help && ch != KEY_RESIZE) {
		g->v.help = 0;	/* any key closes the help */
		return KEY_F_REDRAW;
	}
	if (g->v.editing)
		return key_edit(g, ch);
	for (size_t i = 0; i < nkeys; i++)
		if (keys[i].ch == ch)
			return keys[i].fn(g);
	return 0;
}

static void
main_signal(int sig)
{
	got_signal = sig;
}

static void
main_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = main_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static void
main_loop(struct gwtop *g)
{
	int64_t wait;
	int flags = KEY_F_REFRESH, ch;

	while (!(flags & KEY_F_QUIT) && !got_signal) {
		if ((flags & KEY_F_REFRESH) ||
		    (!g->v.paused && mono_ms() >= g->next_ms)) {
			model_refresh(g->m, &g->s);
			g->next_ms = mono_ms() + g->v.interval_ms;
			flags |= KEY_F_REDRAW;
		}
		if (flags & KEY_F_REDRAW)
			view_draw(&g->v, &g->s);
		wait = g->v.paused ? TICK_MS : g->next_ms - mono_ms();
		timeout((int)(wait < 0 ? 0 : wait > TICK_MS ? TICK_MS : wait));
		ch = getch();
		flags = ch == ERR ? 0 : main_key(g, ch);
	}
}

/* Each table's first sort: newest events, most queued destinations,
 * most mail sent, oldest queued message, a message's events in order. */
static void
main_defaults(struct view *v)
{
	v->t[SCR_DEST].sort = 1;
	v->t[SCR_SUBS].sort = 1;
	v->t[SCR_QUEUE].sort = 1;
	v->t[SCR_MESSAGE].reverse = 1;
}

static void
main_usage(FILE *fp)
{
	fprintf(fp, "usage: gwtop [-c FILE] [-d SECONDS] [--screen SCREEN]\n"
	    "       gwtop [-c FILE] --once [--screen overview|destinations]\n"
	    "             [--format text|json]\n"
	    "       gwtop [-c FILE] --cluster [--format text|json]\n"
	    "       gwtop --help | --version\n");
}

static void
main_help(void)
{
	main_usage(stdout);
	printf("\n  -c FILE          configuration (default %s)\n"
	    "  -d SECONDS       refresh interval (default 2, at least 0.5)\n"
	    "  --screen SCREEN  start on overview, destinations, subaccounts, "
	    "queue or\n"
	    "                   pools; with --once: overview (default) or "
	    "destinations\n"
	    "                   (qshape)\n"
	    "  --once           print one snapshot and exit\n"
	    "  --cluster        every node of the cluster (Redis) and the "
	    "totals, then exit\n"
	    "  --format FMT     with --once: text (key=value, default) or "
	    "json;\n"
	    "                   with --cluster: text (a table) or json\n"
	    "  -h, --help       this help\n"
	    "  -V, --version    print the version\n"
	    "\nKeys: q quit, h or ? help, 1-5 screens, / filter, < > sort, "
	    "space freeze,\n+ and - refresh interval.\n", GW_DEFAULT_CONFIG);
}

struct opts {
	const char	*config;
	int		 interval_ms;
	int		 once;
	int		 cluster;
	int		 json;
	enum view_screen screen;
};

/* --screen's words, in the order of enum view_screen (keys 1 to 5). */
static const char *const main_screens[] = { "overview", "destinations",
    "subaccounts", "queue", "pools" };
_Static_assert(sizeof(main_screens) / sizeof(main_screens[0]) ==
    SCR_MESSAGE, "a word per screen with a key");

static int
main_interval(const char *s, int *ms)
{
	char *end;
	double d = strtod(s, &end);

	if (end == s || *end != '\0' || !(d >= 0.5 && d <= 3600)) {
		log_warnx("-d: expected seconds from 0.5 to 3600");
		return EX_USAGE;
	}
	*ms = (int)(d * 1000);
	return EX_OK;
}

static const struct option main_longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "delay", required_argument, NULL, 'd' },
	{ "once", no_argument, NULL, '1' },
	{ "cluster", no_argument, NULL, 'C' },
	{ "format", required_argument, NULL, 'f' },
	{ "screen", required_argument, NULL, 's' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};
#define MAIN_SHORTOPTS	"c:d:hV"
static const char *const main_formats[] = { "text", "json" };

static int
main_screen(const char *s, enum view_screen *sc)
{
	for (size_t i = 0; i < nitems(main_screens); i++)
		if (strcmp(s, main_screens[i]) == 0) {
			*sc = (enum view_screen)i;
			return EX_OK;
		}
	log_warnx("--screen: expected overview, destinations, subaccounts, "
	    "queue or pools");
	return EX_USAGE;
}

static int
main_format(const char *s, int *json)
{
	if (strcmp(s, main_formats[0]) == 0)
		*json = 0;
	else if (strcmp(s, main_formats[1]) == 0)
		*json = 1;
	else {
		log_warnx("--format: expected text or json");
		return EX_USAGE;
	}
	return EX_OK;
}

/*
 * gwtop --complete N WORD0 WORD1 ... (complete.h): the options, and the
 * values of --format.
 */
static int
main_complete(int argc, char *argv[])
{
	const char *cur, *v;
	int n;

	if (argc < 2 || (n = atoi(argv[0])) < 1 || n >= argc - 1)
		return EX_USAGE;
	argv++;
	cur = argv[n];
	v = complete_option_value(main_longopts, MAIN_SHORTOPTS, argv[n - 1]);
	if (v != NULL && strcmp(v, "config") == 0)
		return COMPLETE_FILES;
	if (v != NULL && strcmp(v, "format") == 0)
		for (size_t i = 0; i < nitems(main_formats); i++)
			complete_add(cur, main_formats[i]);
	else if (v != NULL && strcmp(v, "screen") == 0)
		for (size_t i = 0; i < nitems(main_screens); i++)
			complete_add(cur, main_screens[i]);
	else if (v == NULL && cur[0] == '-')
		complete_longopts(cur, main_longopts);
	return EX_OK;
}

/* -1: carry on; else exit with that status. */
static int
main_args(int argc, char *argv[], struct opts *o)
{
	int ch, r = EX_OK;

	o->interval_ms = 2000;
	while (r == EX_OK && (ch = getopt_long(argc, argv, MAIN_SHORTOPTS,
	    main_longopts, NULL)) != -1) {
		if (ch == 'c')
			o->config = optarg;
		else if (ch == 'd')
			r = main_interval(optarg, &o->interval_ms);
		else if (ch == '1')
			o->once = 1;
		else if (ch == 'C')
			o->cluster = 1;
		else if (ch == 'f')
			r = main_format(optarg, &o->json);
		else if (ch == 's')
			r = main_screen(optarg, &o->screen);
		else if (ch == 'h' || ch == 'V') {
			if (ch == 'h')
				main_help();
			else
				printf("gwtop %s\n", GW_VERSION);
			return EX_OK;
		} else
			r = EX_USAGE;
	}
	if (r == EX_OK && optind < argc) {
		log_warnx("unexpected argument");
		r = EX_USAGE;
	}
	if (r == EX_OK && o->once && o->screen != SCR_OVERVIEW &&
	    o->screen != SCR_DEST) {
		log_warnx("--once --screen: overview or destinations");
		r = EX_USAGE;
	}
	if (r == EX_OK && !o->once && !o->cluster &&
	    !isatty(STDOUT_FILENO)) {
		log_warnx("standard output is not a terminal (try --once)");
		r = EX_USAGE;
	}
	if (r == EX_USAGE)
		main_usage(stderr);
	return r == EX_OK ? -1 : r;
}

int
main(int argc, char *argv[])
{
	struct gwtop *g;
	struct gw_config cfg;
	struct opts o = { 0 };
	int r;

	log_init("gwtop", LOG_DEST_STDERR, 0);
	if (argc > 1 && strcmp(argv[1], "--complete") == 0)
		return main_complete(argc - 2, argv + 2);
	if ((r = main_args(argc, argv, &o)) != -1)
		return r;
	if (config_load(o.config ? o.config : GW_DEFAULT_CONFIG, &cfg) > 0) {
		config_free(&cfg);
		return EX_CONFIG;
	}
	if (o.cluster) {
		r = cluster_print(&cfg, o.json);
		config_free(&cfg);
		return r;
	}
	g = xcalloc(1, sizeof(*g));
	g->m = model_new(cfg.state_dir, cfg.control_socket);
	config_free(&cfg);
	if (o.once) {
		model_refresh(g->m, &g->s);
		r = once_print(&g->s, o.json, o.screen == SCR_DEST ?
		    ONCE_DESTINATIONS : ONCE_OVERVIEW);
	} else {
		g->v.interval_ms = o.interval_ms;
		g->v.screen = o.screen;
		main_defaults(&g->v);
		main_signals();
		atexit(view_end);
		view_init(&g->v);
		main_loop(g);
		view_end();
		r = EX_OK;
	}
	if (ctl_refusal() != NULL)
		log_warnx("gwd: %s", ctl_refusal());
	model_free(g->m);
	free(g);
	return r;
}
