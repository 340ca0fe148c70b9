/*
 * gwctl - manage gw: subaccounts, their passwords, API keys and IP
 * allowlists, DKIM keys and their rotation, routing rules, IP pools,
 * throttles, the suppression list, the databases, and gwd's queue (over
 * its control socket); one command per run, or the interactive shell.
 * Every command is a row of cmd.c's table.
 *
 * Security: the only writer of gw.db, which holds password hashes and
 * DKIM private keys.  Reads passwords from standard input only (never
 * from the command line, where ps(1) would show them).  Run as root with
 * `user` set in gwd.conf, it becomes that user before opening any
 * database.  Reads DNS answers (dkim check, domain check) and gwd's
 * control replies.
 * Standards: RFC 1035 (DNS), RFC 6376 (DKIM key records), RFC 7208 and
 * RFC 7489 (domain check's SPF and DMARC);
 * sysexits(3) exit codes.
 * Diagnostics: exits with the command's sysexits status (64 usage, 65
 * data, 69 gwd or DNS unavailable, 78 configuration, ...) after saying
 * why on stderr; dies only when memory runs out.
 */
#include <sys/stat.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "complete.h"
#include "db.h"
#include "gwctl.h"
#include "log.h"

static void
main_usage(FILE *fp)
{
	fprintf(fp, "usage: gwctl [-c FILE] COMMAND [ARGUMENT ...]\n"
	    "       gwctl [-c FILE] [shell]\n"
	    "       gwctl --help | --version\n");
}

static void
main_help(void)
{
	main_usage(stdout);
	printf("\nOptions:\n"
	    "  -c FILE        configuration (default %s)\n"
	    "  -h, --help     this help\n"
	    "  -V, --version  print the version\n"
	    "\nCommands:\n", GW_DEFAULT_CONFIG);
	cmd_help(stdout, NULL, 0);
}

static const struct option main_longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};
#define MAIN_SHORTOPTS	"+c:hV"

static void
main_complete_add(void *cur, const char *w)
{
	complete_add(cur, w);
}

/*
 * gwctl --complete N WORD0 WORD1 ... (complete.h): the global options,
 * then what the shell would complete, from the command table (cmd.c).
 */
static int
main_complete(int argc, char *argv[])
{
	struct ctx ctx = { 0 };
	const char *cur, *v;
	char err[512];
	struct stat st;
	int n, i = 1;

	if (argc < 2 || (n = atoi(argv[0])) < 1 || n >= argc - 1)
		return EX_USAGE;
	argv++;
	argc--;
	cur = argv[n];
	/* Options before the command; -c names the file to complete from. */
	while (i < n && argv[i][0] == '-') {
		if ((v = complete_option_value(main_longopts, MAIN_SHORTOPTS,
		    argv[i])) != NULL) {
			if (i + 1 == n)
				return COMPLETE_FILES;
			ctx.config_path = argv[i + 1];
			i++;
		} else if (strncmp(argv[i], "--config=", 9) == 0)
			ctx.config_path = argv[i] + 9;
		i++;
	}
	if (i == n && cur[0] == '-') {
		complete_longopts(cur, main_longopts);
		complete_add(cur, "-c");
		return EX_OK;
	}
	/* Names from gw.db, read-only: completing never creates. */
	if (ctx_config(&ctx) == EX_OK && stat(ctx.cfg.state_dir, &st) == 0)
		ctx.db = db_open(ctx.cfg.state_dir, DB_GW, DB_RDONLY, err,
		    sizeof(err));
	cmd_complete(&ctx, n - i + 1, (const char **)argv + i, n - i,
	    main_complete_add, (void *)cur);
	ctx_close(&ctx);
	return EX_OK;
}

int
main(int argc, char *argv[])
{
	static const char *shell_argv[] = { "shell", NULL };
	struct ctx ctx = { 0 };
	int ch, r;

	log_init("gwctl", LOG_DEST_STDERR, 0);
	if (argc > 1 && strcmp(argv[1], "--complete") == 0)
		return main_complete(argc - 2, argv + 2);
	/* '+': options after the command belong to the command. */
	while ((ch = getopt_long(argc, argv, MAIN_SHORTOPTS, main_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			ctx.config_path = optarg;
			break;
		case 'h':
			main_help();
			return EX_OK;
		case 'V':
			printf("gwctl %s\n", GW_VERSION);
			return EX_OK;
		default:
			main_usage(stderr);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0 && !isatty(STDIN_FILENO)) {
		main_usage(stderr);
		return EX_USAGE;
	}
	if (argc == 0)
		r = cmd_run(&ctx, 1, shell_argv);
	else
		r = cmd_run(&ctx, argc, (const char **)argv);
	ctx_close(&ctx);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		log_warn("stdout");
		return r == EX_OK ? EX_IOERR : r;
	}
	return r;
}
