/*
 * gwtop - a live view of gw: queue depth, throughput, delivery, deferral
 * and bounce rates, recent events.
 *
 * Security: only reads.  queue.db and log.db are opened read-only; the
 * control socket is only connected to (to see whether gwd is up), never
 * spoken to.  Runs with the caller's privileges.  Text from the log is
 * cleaned of control characters before it reaches the terminal.
 * Standards: RFC 3339 times and JSON (RFC 8259) in --once output.
 * Model: htop's - a model fills a snapshot, panels draw it, keys come
 * from a table, and the signal handler only sets a flag.
 */
#include <getopt.h>
#include <curses.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

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

const struct key keys[] = {
	{ 'q', "q", "quit", key_quit },
	{ 'Q', NULL, NULL, key_quit },
	{ 'h', "h ?", "this help", key_help },
	{ '?', NULL, NULL, key_help },
	{ ' ', "space", "pause / resume", key_pause },
	{ '+', "+", "refresh less often", key_slower },
	{ '-', "-", "refresh more often (down to 0.5 s)", key_faster },
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

static void
main_usage(FILE *fp)
{
	fprintf(fp, "usage: gwtop [-c FILE] [-d SECONDS]\n"
	    "       gwtop [-c FILE] --once [--format text|json]\n"
	    "       gwtop --help | --version\n");
}

static void
main_help(void)
{
	main_usage(stdout);
	printf("\n  -c FILE          configuration (default %s)\n"
	    "  -d SECONDS       refresh interval (default 2, at least 0.5)\n"
	    "  --once           print one snapshot and exit\n"
	    "  --format FMT     with --once: text (key=value, default) or "
	    "json\n"
	    "  -h, --help       this help\n"
	    "  -V, --version    print the version\n"
	    "\nKeys: q quit, h or ? help, space pause, + and - refresh "
	    "interval.\n", GW_DEFAULT_CONFIG);
}

struct opts {
	const char	*config;
	int		 interval_ms;
	int		 once;
	int		 json;
};

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

static int
main_format(const char *s, int *json)
{
	if (strcmp(s, "text") == 0)
		*json = 0;
	else if (strcmp(s, "json") == 0)
		*json = 1;
	else {
		log_warnx("--format: expected text or json");
		return EX_USAGE;
	}
	return EX_OK;
}

/* -1: carry on; else exit with that status. */
static int
main_args(int argc, char *argv[], struct opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "delay", required_argument, NULL, 'd' },
		{ "once", no_argument, NULL, '1' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, r = EX_OK;

	o->interval_ms = 2000;
	while (r == EX_OK && (ch = getopt_long(argc, argv, "c:d:hV",
	    longopts, NULL)) != -1) {
		if (ch == 'c')
			o->config = optarg;
		else if (ch == 'd')
			r = main_interval(optarg, &o->interval_ms);
		else if (ch == '1')
			o->once = 1;
		else if (ch == 'f')
			r = main_format(optarg, &o->json);
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
	if (r == EX_OK && !o->once && !isatty(STDOUT_FILENO)) {
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
	if ((r = main_args(argc, argv, &o)) != -1)
		return r;
	if (config_load(o.config ? o.config : GW_DEFAULT_CONFIG, &cfg) > 0) {
		config_free(&cfg);
		return EX_CONFIG;
	}
	g = xcalloc(1, sizeof(*g));
	g->m = model_new(cfg.state_dir, cfg.control_socket);
	config_free(&cfg);
	if (o.once) {
		model_refresh(g->m, &g->s);
		r = once_print(&g->s, o.json);
	} else {
		g->v.interval_ms = o.interval_ms;
		main_signals();
		atexit(view_end);
		view_init(&g->v);
		main_loop(g);
		view_end();
		r = EX_OK;
	}
	model_free(g->m);
	free(g);
	return r;
}
