/*
 * gwsearch - find messages in gw's audit trail and show each one's whole
 * life: received, every delivery attempt, bounce, DSN.
 *
 * Security: opens log.db read-only (SQLITE_OPEN_READONLY and PRAGMA
 * query_only); runs with the caller's privileges, so whoever may read
 * log.db may search it.  Filters reach SQL only as bound parameters.
 * Standards: RFC 3339 times; JSON lines (RFC 8259) with Elastic Common
 * Schema field names.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>

#include "config.h"
#include "db.h"
#include "gwsearch.h"
#include "log.h"
#include "util.h"

#define FILTER_MAX	998	/* an RFC 5322 line; longer cannot match */
#define MAIN_GO		(-1)	/* option handled: keep going */

struct opts {
	const char	*config;
	struct query	 q;
	int		 json;
};

static void
main_usage(FILE *fp)
{
	fprintf(fp, "usage: gwsearch [-c FILE] [--recipient ADDR] "
	    "[--sender ADDR] [--message-id ID]\n"
	    "                [--format table|json] [--limit N]\n"
	    "       gwsearch --help | --version\n");
}

static void
main_help(void)
{
	main_usage(stdout);
	printf("\nPrint every event of each message matching all the filters "
	    "given\n(at least one), grouped per message, oldest first.\n\n"
	    "  -c FILE              configuration (default %s)\n"
	    "  -r, --recipient ADDR a recipient of the message\n"
	    "  -s, --sender ADDR    the envelope sender (\"<>\" or \"\" for "
	    "the null sender)\n"
	    "  -m, --message-id ID  the Message-ID, with or without <>\n"
	    "  -f, --format FMT     table (default) or json (JSON lines, "
	    "ECS)\n"
	    "  -n, --limit N        at most N messages, the most recent "
	    "(default %d; 0: all)\n"
	    "  -h, --help           this help\n"
	    "  -V, --version        print the version\n"
	    "\nExit status: 0 found, 1 nothing found, 64 usage, 66 no "
	    "log.db,\n69 log.db unusable, 78 configuration error.\n",
	    GW_DEFAULT_CONFIG, QUERY_DEFAULT_LIMIT);
}

static int
main_usage_error(const char *msg)
{
	log_warnx("%s", msg);
	main_usage(stderr);
	return EX_USAGE;
}

/* Strip one pair of angle brackets: "<a@b>" -> "a@b". */
static const char *
main_unbracket(char *s)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		s[n - 1] = '\0';
		return s + 1;
	}
	return s;
}

static int
main_filter(const char *name, char *arg, int empty_ok, const char **out)
{
	char msg[128];

	*out = main_unbracket(arg);
	if (strlen(*out) > FILTER_MAX || (**out == '\0' && !empty_ok)) {
		snprintf(msg, sizeof(msg), "--%s: %s", name, **out ?
		    "too long" : "empty");
		return main_usage_error(msg);
	}
	return MAIN_GO;
}

static int
main_limit(const char *s, int *limit)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end || v < 0 || v > 10000000)
		return main_usage_error("--limit: expected a number from 0 to "
		    "10000000");
	*limit = (int)v;
	return MAIN_GO;
}

static int
main_format(const char *s, int *json)
{
	if (strcmp(s, "table") == 0)
		*json = 0;
	else if (strcmp(s, "json") == 0 || strcmp(s, "jsonl") == 0)
		*json = 1;
	else
		return main_usage_error("--format: expected table or json");
	return MAIN_GO;
}

/* MAIN_GO, or the status to exit with now. */
static int
main_option(int ch, struct opts *o)
{
	switch (ch) {
	case 'c':
		o->config = optarg;
		return MAIN_GO;
	case 'r':
		return main_filter("recipient", optarg, 0, &o->q.recipient);
	case 's':
		return main_filter("sender", optarg, 1, &o->q.sender);
	case 'm':
		return main_filter("message-id", optarg, 0,
		    &o->q.message_id);
	case 'f':
		return main_format(optarg, &o->json);
	case 'n':
		return main_limit(optarg, &o->q.limit);
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

static int
main_args(int argc, char *argv[], struct opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "recipient", required_argument, NULL, 'r' },
		{ "sender", required_argument, NULL, 's' },
		{ "message-id", required_argument, NULL, 'm' },
		{ "format", required_argument, NULL, 'f' },
		{ "limit", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, r;

	o->q.limit = QUERY_DEFAULT_LIMIT;
	while ((ch = getopt_long(argc, argv, "c:r:s:m:f:n:hV", longopts,
	    NULL)) != -1)
		if ((r = main_option(ch, o)) != MAIN_GO)
			return r;
	if (optind < argc)
		return main_usage_error("unexpected argument (filters are "
		    "options: --recipient, --sender, --message-id)");
	if (!o->q.recipient && !o->q.sender && !o->q.message_id)
		return main_usage_error("give at least one of --recipient, "
		    "--sender, --message-id");
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

static int
main_print(sqlite3 *db, const struct match *m, int n, int json)
{
	struct message msg;

	for (int i = 0; i < n; i++) {
		if (query_events(db, &m[i], &msg) == -1)
			return EX_UNAVAILABLE;
		if (json)
			format_json(&msg);
		else
			format_table(&msg);
		query_message_free(&msg);
	}
	return EX_OK;
}

int
main(int argc, char *argv[])
{
	struct opts o = { 0 };
	struct match *m = NULL;
	sqlite3 *db = NULL;
	int r, n = 0, truncated = 0;

	log_init("gwsearch", LOG_DEST_STDERR, 0);
	if ((r = main_args(argc, argv, &o)) != MAIN_GO)
		return r;
	if ((r = main_open(o.config, &db)) != EX_OK)
		return r;
	/* One read transaction: every message seen as of the same moment. */
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	if (query_find(db, &o.q, &m, &n, &truncated) == -1)
		r = EX_UNAVAILABLE;
	else
		r = main_print(db, m, n, o.json);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (r == EX_OK && truncated)
		log_warnx("showing the %d most recent matching messages; more "
		    "matched (--limit)", n);
	query_matches_free(m, n);
	db_close(db);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		log_warn("stdout");
		return EX_IOERR;
	}
	return r == EX_OK && n == 0 ? 1 : r;
}
