/*
 * gwsearch - find messages in gw's audit trail and show each one's whole
 * life: received, signed, every delivery attempt, bounce, DSN.  Also
 * `show` (one message), `stats` (counts and delays) and `export` (every
 * new event, exactly once, for a SIEM).
 *
 * Security: opens log.db read-only (SQLITE_OPEN_READONLY and PRAGMA
 * query_only); runs with the caller's privileges, so whoever may read
 * log.db may search it.  Filters reach SQL only as bound parameters;
 * free text reaches FTS5 only as quoted phrases (terms.c).
 * Standards: RFC 3339 times; JSON lines (RFC 8259) with Elastic Common
 * Schema field names; CSV (RFC 4180); ArcSight CEF; syslog (RFC 5424).
 * Diagnostics: exits 0 (found), 1 (nothing found, as grep does, with "no
 * matching messages" on stderr), 64 (usage, with the
 * reason and the usage lines), 66 (no log.db), 69 (log.db unusable), 75
 * (an export already running) or 78 (configuration); dies only when
 * memory runs out or an output line passes its limit.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>

#include "buf.h"
#include "complete.h"
#include "config.h"
#include "db.h"
#include "event.h"
#include "gwsearch.h"
#include "log.h"
#include "util.h"

#define MAIN_GO		(-1)	/* option handled: keep going */

struct opts {
	const char	*config;
	struct query	 q;
	enum format	 format;
	int		 follow;
	int		 no_pager;
	struct buf	 text;		/* the terms, joined */
};

static volatile sig_atomic_t main_stop;

static void
main_usage(FILE *fp)
{
	fprintf(fp, "usage: gwsearch [-c FILE] [filters] [--format "
	    "table|jsonl|csv|cef] [--limit N]\n"
	    "                [--follow] [TERM ...]\n"
	    "       gwsearch [-c FILE] show [--format table|jsonl] "
	    "QUEUE-ID|MESSAGE-ID\n"
	    "       gwsearch [-c FILE] stats [--since T] [--until T]\n"
	    "                [--by domain|subaccount|hour|class] "
	    "[--format table|jsonl|csv]\n"
	    "       gwsearch [-c FILE] export --cursor FILE "
	    "[--format jsonl|cef|syslog5424]\n"
	    "                [--output FILE|-]\n"
	    "       gwsearch --help | --version\n");
}

/* Words wrapped under the help's description column. */
static void
main_help_words(const char *words)
{
	int col = 24;
	size_t n;

	printf("%*s", col, "");
	for (const char *p = words; *p; p += n + (p[n] == ' ')) {
		n = strcspn(p, " ");
		if (col > 24 && col + 1 + (int)n > 79) {
			printf("\n%*s", 24, "");
			col = 24;
		} else if (col > 24) {
			putchar(' ');
			col++;
		}
		printf("%.*s", (int)n, p);
		col += (int)n;
	}
	putchar('\n');
}

static void
main_help(void)
{
	char names[512];

	if (event_names(names, sizeof(names)) == -1)
		fatalx("event names too long");
	main_usage(stdout);
	printf("\nPrint every event of each message matching all the filters "
	    "given\n(at least one), grouped per message, oldest first.\n\n"
	    "  -c FILE               configuration (default %s)\n"
	    "  -r, --recipient ADDR  a recipient (to:ADDR)\n"
	    "  -s, --sender ADDR     the envelope sender (from:ADDR; \"<>\": "
	    "null sender)\n"
	    "  -m, --message-id ID   the Message-ID (id:ID)\n"
	    "      --subject TEXT    words in the subject (subject:TEXT)\n"
	    "      --status S        what happened (status:S): one of\n",
	    GW_DEFAULT_CONFIG);
	main_help_words(names);
	if (terms_class_names(names, sizeof(names)) == -1)
		fatalx("bounce class names too long");
	printf("      --subaccount NAME (subaccount:NAME)\n"
	    "      --domain DOMAIN   sender or recipient domain "
	    "(domain:DOMAIN)\n"
	    "      --client-ip IP    the submitting client (ip:IP)\n"
	    "      --response TEXT   in the SMTP reply, e.g. \"550 5.1.1\" "
	    "(response:TEXT)\n"
	    "      --class CLASS     why delivery failed (class:CLASS): one "
	    "of\n");
	main_help_words(names);
	printf("      --policy NAME     a content policy fired, or quarantined "
	    "(policy:NAME)\n");
	printf("  -S, --since TIME      today, yesterday, -2h, 2026-11-20 10:00,"
	    " @1763900000\n"
	    "  -U, --until TIME      (since:TIME, until:TIME)\n"
	    "  -f, --format FMT      table (default), jsonl (json), csv, "
	    "cef\n"
	    "  -n, --limit N         at most N messages, the latest "
	    "(default %d; 0: all)\n"
	    "  -F, --follow          then print new matching events until "
	    "interrupted\n"
	    "      --no-pager        never page the table (also: PAGER=cat)"
	    "\n"
	    "  -h, --help            this help\n"
	    "  -V, --version         print the version\n"
	    "\nOther words are searched in the full-text index: \"a phrase\","
	    " prefix*.\n"
	    "\nExit status: 0 found, 1 nothing found, 64 usage, 66 no "
	    "log.db,\n69 log.db unusable, 75 export already running, 78 "
	    "configuration error.\n", QUERY_DEFAULT_LIMIT);
}

static int
main_usage_error(const char *msg)
{
	log_warnx("%s", msg);
	main_usage(stderr);
	return EX_USAGE;
}

static int
main_filter(struct opts *o, const char *name, enum filter_kind k,
    const char *arg)
{
	char err[512], msg[600];

	if (terms_add(&o->q, k, arg, err, sizeof(err)) == -1) {
		snprintf(msg, sizeof(msg), "--%s: %s", name, err);
		return main_usage_error(msg);
	}
	return MAIN_GO;
}

static int
main_limit(const char *s, int *limit)
{
	int64_t v;

	if (parse_int(s, 0, 10000000, &v) == -1)
		return main_usage_error("--limit: expected a number from 0 to "
		    "10000000");
	*limit = (int)v;
	return MAIN_GO;
}

static const struct {
	const char	*name;
	enum format	 f;
} formats[] = {
	{ "table", FMT_TABLE }, { "json", FMT_JSON }, { "jsonl", FMT_JSON },
	{ "csv", FMT_CSV }, { "cef", FMT_CEF }, { "syslog5424", FMT_SYSLOG },
};

static int
main_format(const char *s, enum format *f)
{
	char msg[128];
	size_t o;

	for (size_t i = 0; i < nitems(formats); i++)
		if (strcmp(s, formats[i].name) == 0) {
			*f = formats[i].f;
			return MAIN_GO;
		}
	/* Every name the table takes, so the message cannot drift. */
	o = (size_t)snprintf(msg, sizeof(msg), "--format: expected");
	for (size_t i = 0; i < nitems(formats) && o < sizeof(msg); i++)
		o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s%s",
		    i == 0 ? " " : i + 1 == nitems(formats) ? " or " : ", ",
		    formats[i].name);
	if (o >= sizeof(msg))
		fatalx("--format names too long");
	return main_usage_error(msg);
}

enum { O_SUBJECT = 256, O_STATUS, O_SUBACCOUNT, O_DOMAIN, O_CLIENT_IP,
    O_RESPONSE, O_CLASS, O_POLICY, O_CURSOR, O_OUTPUT, O_BY, O_NO_PAGER };

/* MAIN_GO, or the status to exit with now. */
static int
main_option(int ch, struct opts *o)
{
	switch (ch) {
	case 'c':
		o->config = optarg;
		return MAIN_GO;
	case 'r':
		return main_filter(o, "recipient", F_RECIPIENT, optarg);
	case 's':
		return main_filter(o, "sender", F_SENDER, optarg);
	case 'm':
		return main_filter(o, "message-id", F_MSGID, optarg);
	case O_SUBJECT:
		return main_filter(o, "subject", F_SUBJECT, optarg);
	case O_STATUS:
		return main_filter(o, "status", F_STATUS, optarg);
	case O_SUBACCOUNT:
		return main_filter(o, "subaccount", F_SUBACCOUNT, optarg);
	case O_DOMAIN:
		return main_filter(o, "domain", F_DOMAIN, optarg);
	case O_CLIENT_IP:
		return main_filter(o, "client-ip", F_CLIENT_IP, optarg);
	case O_RESPONSE:
		return main_filter(o, "response", F_RESPONSE, optarg);
	case O_CLASS:
		return main_filter(o, "class", F_CLASS, optarg);
	case O_POLICY:
		return main_filter(o, "policy", F_POLICY, optarg);
	case 'S':
		return main_filter(o, "since", F_SINCE, optarg);
	case 'U':
		return main_filter(o, "until", F_UNTIL, optarg);
	case 'f':
		return main_format(optarg, &o->format);
	case 'n':
		return main_limit(optarg, &o->q.limit);
	case O_NO_PAGER:
		o->no_pager = 1;
		return MAIN_GO;
	case 'F':
		o->follow = 1;
		return MAIN_GO;
	case 'h':
		main_help();
		return EX_OK;
	case 'V':
		printf("gwsearch %s\n", GW_VERSION);
		return EX_OK;
	default:
		main_usage(stderr);
		return EX_USAGE;
	}
}

static const struct option main_longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "recipient", required_argument, NULL, 'r' },
	{ "sender", required_argument, NULL, 's' },
	{ "message-id", required_argument, NULL, 'm' },
	{ "subject", required_argument, NULL, O_SUBJECT },
	{ "status", required_argument, NULL, O_STATUS },
	{ "subaccount", required_argument, NULL, O_SUBACCOUNT },
	{ "domain", required_argument, NULL, O_DOMAIN },
	{ "client-ip", required_argument, NULL, O_CLIENT_IP },
	{ "response", required_argument, NULL, O_RESPONSE },
	{ "class", required_argument, NULL, O_CLASS },
	{ "policy", required_argument, NULL, O_POLICY },
	{ "since", required_argument, NULL, 'S' },
	{ "until", required_argument, NULL, 'U' },
	{ "format", required_argument, NULL, 'f' },
	{ "limit", required_argument, NULL, 'n' },
	{ "follow", no_argument, NULL, 'F' },
	{ "no-pager", no_argument, NULL, O_NO_PAGER },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static int
main_args(int argc, char *argv[], struct opts *o)
{
	char err[512];
	int ch, r;

	o->q.limit = QUERY_DEFAULT_LIMIT;
	/* Options and terms in any order; a term that starts with '-'
	 * goes after "--". */
	while ((ch = getopt_long(argc, argv, "c:r:s:m:S:U:f:n:FhV",
	    main_longopts, NULL)) != -1)
		if ((r = main_option(ch, o)) != MAIN_GO)
			return r;
	for (int i = optind; i < argc; i++) {
		buf_puts(&o->text, argv[i]);
		buf_putc(&o->text, ' ');
	}
	if (terms_parse(&o->q, buf_cstr(&o->text), err, sizeof(err)) == -1)
		return main_usage_error(err);
	if (o->q.nf == 0 && !o->follow)
		return main_usage_error("give at least one filter: --recipient,"
		    " --sender, --message-id, ... or search terms");
	if (o->format == FMT_SYSLOG)
		return main_usage_error("--format syslog5424 is for export");
	return MAIN_GO;
}

static int
main_open(const char *config, sqlite3 **db)
{
	struct gw_config cfg;
	char path[4096], err[1024];
	struct stat st;
	int r = EX_OK;

	if (config_load(config ? config : GW_DEFAULT_CONFIG, &cfg) > 0) {
		config_free(&cfg);
		return EX_CONFIG;
	}
	format_origin(cfg.hostname, cfg.cluster.node, cfg.syslog_pen);
	snprintf(path, sizeof(path), "%s/%s", cfg.state_dir,
	    db_filename(DB_LOG));
	if (stat(path, &st) == -1) {
		log_warn("%s", path);
		r = errno == ENOENT ? EX_NOINPUT : EX_UNAVAILABLE;
	} else if ((*db = db_open(cfg.state_dir, DB_LOG, DB_RDONLY, err,
	    sizeof(err))) == NULL) {
		log_warnx("%s", err);
		r = EX_UNAVAILABLE;
	}
	config_free(&cfg);
	return r;
}

static void
main_put(const struct event *e, enum format f)
{
	struct buf b;

	if (f == FMT_TABLE) {
		format_table_event(e);
		return;
	}
	buf_init(&b, 0);
	format_event(e, f, &b);
	fwrite(buf_ptr(&b), 1, buf_len(&b), stdout);
	buf_free(&b);
}

static int
main_print(sqlite3 *db, const struct match *m, int n, enum format f)
{
	struct message msg;

	if (f == FMT_CSV && n > 0)
		format_csv_header();
	for (int i = 0; i < n; i++) {
		if (query_events(db, &m[i], &msg) == -1)
			return EX_UNAVAILABLE;
		if (f == FMT_TABLE)
			format_table(&msg);
		else
			for (int j = 0; j < msg.nev; j++)
				main_put(&msg.ev[j], f);
		query_message_free(&msg);
	}
	return EX_OK;
}

static void
main_on_signal(int sig)
{
	main_stop = 1;
}

static void
main_follow_one(const struct event *e, void *arg)
{
	main_put(e, *(enum format *)arg);
}

/* Poll for newer events every 500 ms until SIGINT or SIGTERM. */
static int
main_follow(sqlite3 *db, const struct opts *o, int64_t after)
{
	struct sigaction sa;
	struct timespec ts = { 0, 500 * 1000000 };
	enum format f = o->format;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = main_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fflush(stdout);
	while (!main_stop) {
		if (query_follow(db, &o->q, &after, main_follow_one, &f) ==
		    -1)
			return EX_UNAVAILABLE;
		if (fflush(stdout) == EOF)
			return EX_IOERR;
		nanosleep(&ts, NULL);
	}
	return EX_OK;
}

static int
main_search(sqlite3 *db, struct opts *o)
{
	struct match *m = NULL;
	int64_t last = 0;
	int r, n = 0, truncated = 0;

	/* One read transaction: every message seen as of the same moment. */
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	last = query_max_id(db);
	if (o->format == FMT_TABLE && !o->follow && !o->no_pager)
		pager_start();
	if (o->q.nf == 0)
		r = EX_OK;	/* --follow alone: only what comes */
	else if (query_find(db, &o->q, &m, &n, &truncated) == -1)
		r = EX_UNAVAILABLE;
	else
		r = main_print(db, m, n, o->format);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (r == EX_OK && truncated)
		log_warnx("showing the %d most recent matching messages; more "
		    "matched (--limit)", n);
	query_matches_free(m, n);
	if (r == EX_OK && o->follow)
		return main_follow(db, o, last);
	/* As grep: 1, said on stderr so stdout stays empty for a pipe. */
	if (r == EX_OK && n == 0) {
		log_warnx("no matching messages");
		return 1;
	}
	return r;
}

/* The options of each subcommand (also for completion). */
static const struct option show_longopts[] = {
	{ "format", required_argument, NULL, 'f' },
	{ "no-pager", no_argument, NULL, O_NO_PAGER },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};
static const struct option stats_longopts[] = {
	{ "since", required_argument, NULL, 'S' },
	{ "until", required_argument, NULL, 'U' },
	{ "by", required_argument, NULL, O_BY },
	{ "format", required_argument, NULL, 'f' },
	{ NULL, 0, NULL, 0 },
};
static const struct option export_longopts[] = {
	{ "cursor", required_argument, NULL, O_CURSOR },
	{ "format", required_argument, NULL, 'f' },
	{ "output", required_argument, NULL, O_OUTPUT },
	{ NULL, 0, NULL, 0 },
};

/* gwsearch show ID */
static int
main_show(int argc, char *argv[], sqlite3 **db, struct opts *o)
{
	int ch, r;

	/* Options before or after the id (GNU getopt's permutation). */
	optind = 0;
	while ((ch = getopt_long(argc, argv, "f:h", show_longopts, NULL)) !=
	    -1) {
		if (ch != 'f' && ch != 'h' && ch != O_NO_PAGER)
			return main_usage_error("show: only --format and "
			    "--no-pager");
		if ((r = main_option(ch, o)) != MAIN_GO)
			return r;
	}
	if (optind != argc - 1)
		return main_usage_error("show: give one queue id or "
		    "Message-ID");
	if (o->format != FMT_TABLE && o->format != FMT_JSON)
		return main_usage_error("show: --format table or jsonl");
	if (strlen(argv[optind]) > FILTER_MAX || argv[optind][0] == '\0')
		return main_usage_error("show: bad id");
	if ((r = main_open(o->config, db)) != EX_OK)
		return r;
	if (o->format == FMT_TABLE && !o->no_pager)
		pager_start();
	return show_main(*db, argv[optind], o->format);
}

/* "stats: --by domain, subaccount, hour or class", from the table. */
static int
main_stats_by_error(void)
{
	char msg[200];
	size_t o = (size_t)snprintf(msg, sizeof(msg), "stats: --by");

	for (int i = 1; stats_by_word(i) && o < sizeof(msg); i++)
		o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s%s",
		    i == 1 ? " " : stats_by_word(i + 1) ? ", " : " or ",
		    stats_by_word(i));
	if (o >= sizeof(msg))
		fatalx("--by names too long");
	return main_usage_error(msg);
}

/* gwsearch stats [--since T] [--until T] [--by KEY] [--format F] */
static int
main_stats(int argc, char *argv[], sqlite3 **db, struct opts *o)
{
	int64_t since = 0, until = INT64_MAX;
	const char *by = NULL;
	char msg[200];
	int ch, r;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "S:U:f:", stats_longopts,
	    NULL)) != -1) {
		int64_t *t = ch == 'S' ? &since : &until;

		if (ch == O_BY) {
			by = optarg;
			if (stats_by_parse(by) == -1)
				return main_stats_by_error();
			continue;
		}
		if (ch == 'f') {
			if ((r = main_format(optarg, &o->format)) != MAIN_GO)
				return r;
			if (o->format != FMT_TABLE && o->format != FMT_JSON &&
			    o->format != FMT_CSV)
				return main_usage_error("stats: --format table, "
				    "jsonl or csv");
			continue;
		}
		if (ch != 'S' && ch != 'U')
			return main_usage_error("stats: unknown option");
		if (terms_time(optarg, now_us(), t) == -1) {
			snprintf(msg, sizeof(msg), "stats: \"%.64s\" is not a "
			    "time (e.g. today, -2h, @1763900000)", optarg);
			return main_usage_error(msg);
		}
	}
	if (optind != argc)
		return main_usage_error("stats: unexpected argument");
	if ((r = main_open(o->config, db)) != EX_OK)
		return r;
	return stats_main(*db, since, until, by, o->format);
}

/* gwsearch export --cursor FILE [--format F] [--output FILE] */
static int
main_export(int argc, char *argv[], sqlite3 **db, struct opts *o)
{
	const char *cursor = NULL, *output = NULL;
	int ch, r;

	optind = 0;
	o->format = FMT_JSON;
	while ((ch = getopt_long(argc, argv, "+f:o:", export_longopts,
	    NULL)) != -1) {
		if (ch == O_CURSOR)
			cursor = optarg;
		else if (ch == O_OUTPUT || ch == 'o')
			output = optarg;
		else if (ch == 'f') {
			if ((r = main_format(optarg, &o->format)) != MAIN_GO)
				return r;
		} else
			return main_usage_error("export: unknown option");
	}
	if (optind != argc || cursor == NULL)
		return main_usage_error("export: --cursor FILE is required");
	if (o->format != FMT_JSON && o->format != FMT_CEF &&
	    o->format != FMT_SYSLOG)
		return main_usage_error("export: --format jsonl, cef or "
		    "syslog5424");
	if ((r = main_open(o->config, db)) != EX_OK)
		return r;
	return export_main(*db, cursor, o->format, output);
}

static const struct {
	const char	*name;
	int		(*fn)(int, char *[], sqlite3 **, struct opts *);
	const struct option *lo;
	const char	*shortopts;
} subcommands[] = {
	{ "show", main_show, show_longopts, "f:h" },
	{ "stats", main_stats, stats_longopts, "S:U:f:" },
	{ "export", main_export, export_longopts, "f:o:" },
};
#define MAIN_SHORTOPTS	"c:r:s:m:S:U:f:n:FhV"

/* A term's value without its "key:" (after --status, --class). */
static void
main_complete_strip(const char *cur, const char *w)
{
	if (strncmp(w, cur, strlen(cur)) == 0)
		printf("%s\n", strchr(w, ':') + 1);
}

/* Values of the option named opt (long name), for completion. */
static int
main_complete_value(const char *opt, const char *cur)
{
	static const char *const files[] = { "config", "cursor", "output",
	    "" };
	char w[64];

	for (size_t i = 0; i < nitems(files); i++)
		if (strcmp(opt, files[i]) == 0)
			return COMPLETE_FILES;
	for (size_t i = 0; strcmp(opt, "format") == 0 && i < nitems(formats);
	    i++)
		complete_add(cur, formats[i].name);
	for (int i = 1; strcmp(opt, "by") == 0 && stats_by_word(i); i++)
		complete_add(cur, stats_by_word(i));
	if (strcmp(opt, "status") == 0 || strcmp(opt, "class") == 0) {
		/* The term's values, without the "key:". */
		snprintf(w, sizeof(w), "%s:%s", opt, cur);
		terms_complete(w, main_complete_strip, 0);
	}
	return EX_OK;
}

/*
 * gwsearch --complete N WORD0 WORD1 ... (complete.h): options of the
 * search or of its subcommand, their values, subcommands, term keys.
 */
static int
main_complete(int argc, char *argv[])
{
	const struct option *lo = main_longopts;
	const char *shortopts = MAIN_SHORTOPTS, *cur, *v;
	int n, i, sub = -1, words = 0;

	if (argc < 2 || (n = atoi(argv[0])) < 1 || n >= argc - 1)
		return EX_USAGE;
	argv++;
	cur = argv[n];
	for (i = 1; i < n; i++) {
		if ((v = complete_option_value(lo, shortopts, argv[i])) !=
		    NULL) {
			if (i + 1 == n)
				return main_complete_value(v, cur);
			i++;
			continue;
		}
		if (argv[i][0] == '-')
			continue;
		for (size_t k = 0; words == 0 && k < nitems(subcommands); k++)
			if (strcmp(argv[i], subcommands[k].name) == 0) {
				sub = (int)k;
				lo = subcommands[k].lo;
				shortopts = subcommands[k].shortopts;
			}
		words++;
	}
	if (cur[0] == '-') {
		complete_longopts(cur, lo);
		return EX_OK;
	}
	if (sub != -1)
		return EX_OK;
	for (size_t k = 0; words == 0 && k < nitems(subcommands); k++)
		complete_add(cur, subcommands[k].name);
	terms_complete(cur, complete_add, 1);
	return EX_OK;
}

static int
main_run(int argc, char *argv[], struct opts *o, sqlite3 **db)
{
	int r, ch;

	/* Options before the subcommand: -c, --help, --version. */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+c:hV", main_longopts, NULL)) !=
	    -1) {
		if (ch != 'c' && ch != 'h' && ch != 'V')
			break;
		if ((r = main_option(ch, o)) != MAIN_GO)
			return r;
	}
	opterr = 1;
	if (ch == -1 && optind < argc)
		for (size_t i = 0; i < nitems(subcommands); i++)
			if (strcmp(argv[optind], subcommands[i].name) == 0)
				return subcommands[i].fn(argc - optind,
				    argv + optind, db, o);
	optind = 0;
	if ((r = main_args(argc, argv, o)) != MAIN_GO)
		return r;
	if ((r = main_open(o->config, db)) != EX_OK)
		return r;
	return main_search(*db, o);
}

int
main(int argc, char *argv[])
{
	struct opts o = { 0 };
	sqlite3 *db = NULL;
	int r;

	log_init("gwsearch", LOG_DEST_STDERR, 0);
	if (argc > 1 && strcmp(argv[1], "--complete") == 0)
		return main_complete(argc - 2, argv + 2);
	buf_init(&o.text, 0);
	r = main_run(argc, argv, &o, &db);
	if (pager_end() == 127)
		log_warnx("the pager (PAGER, or less) could not run");
	terms_free(&o.q);
	buf_free(&o.text);
	db_close(db);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		log_warn("stdout");
		return EX_IOERR;
	}
	return r;
}
