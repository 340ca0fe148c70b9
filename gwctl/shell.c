/*
 * shell.c - the interactive gwctl shell (libedit).
 *
 * Same commands as the command line, from the same table (cmd.c), with
 * unambiguous prefixes, tab completion of nouns, verbs, options,
 * subaccount names, key ids and queue ids (asked of gwd), history in
 * ~/.gwctl_history and the user's ~/.editrc.
 *
 * The history file is opened before gwctl becomes gwd's user (see
 * ctx.c), and later written through that open descriptor, so it stays
 * the invoking user's file in the invoking user's home.
 * Diagnostics: never dies (memory aside); a command's failure is printed
 * and the shell reads the next line, and a history file it cannot write
 * is skipped.
 */
#include <fcntl.h>
#include <histedit.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <wchar.h>

#include "gwctl.h"
#include "log.h"
#include "util.h"

#define SHELL_HISTORY_FILE	".gwctl_history"
#define SHELL_HISTORY_SIZE	1000

struct shell {
	struct ctx	*ctx;
	EditLine	*el;
	History		*hist;
	Tokenizer	*tok;
	FILE		*histfp;
};

/* Completion candidates that start with the word being typed. */
struct shell_match {
	const char	*prefix;
	size_t		 plen;
	char		**v;
	int		 n;
};

static char *
shell_prompt(EditLine *el)
{
	static char prompt[] = "gwctl> ";

	return prompt;
}

static void
shell_match_add(void *arg, const char *w)
{
	struct shell_match *m = arg;

	if (strncmp(w, m->prefix, m->plen) != 0)
		return;
	for (int i = 0; i < m->n; i++)
		if (strcmp(m->v[i], w) == 0)
			return;
	m->v = xreallocarray(m->v, (size_t)m->n + 1, sizeof(*m->v));
	m->v[m->n++] = xstrdup(w);
}

static void
shell_match_free(struct shell_match *m)
{
	for (int i = 0; i < m->n; i++)
		free(m->v[i]);
	free(m->v);
}

/* Longest prefix all candidates share. */
static size_t
shell_match_common(const struct shell_match *m)
{
	size_t n = strlen(m->v[0]);

	for (int i = 1; i < m->n; i++) {
		size_t j = 0;

		while (j < n && m->v[i][j] == m->v[0][j])
			j++;
		n = j;
	}
	return n;
}

static unsigned char
shell_show(const struct shell_match *m)
{
	fputc('\n', stdout);
	for (int i = 0; i < m->n; i++)
		printf("%s%s", m->v[i], i + 1 < m->n ? "  " : "\n");
	return CC_REDISPLAY;
}

/* Insert what is certain; list the choices when nothing is. */
static unsigned char
shell_insert(EditLine *el, const struct shell_match *m)
{
	size_t common;
	char *ins;

	if (m->n == 0)
		return CC_ERROR;
	common = shell_match_common(m);
	if (m->n > 1 && common == m->plen)
		return shell_show(m);
	ins = xstrndup(m->v[0] + m->plen, common - m->plen);
	el_insertstr(el, ins);
	if (m->n == 1)
		el_insertstr(el, " ");
	free(ins);
	return CC_REFRESH;
}

static unsigned char
shell_complete(EditLine *el, wint_t ch)
{
	struct shell_match m = { 0 };
	struct shell *sh;
	Tokenizer *t;
	const char **argv;
	int argc, cur, off;
	unsigned char rv = CC_ERROR;
	char *word = NULL;

	if (el_get(el, EL_CLIENTDATA, &sh) != 0 || (t = tok_init(NULL)) ==
	    NULL)
		return CC_ERROR;
	if (tok_line(t, el_line(el), &argc, &argv, &cur, &off) == 0) {
		word = cur < argc ? xstrndup(argv[cur], (size_t)off) :
		    xstrdup("");
		m.prefix = word;
		m.plen = strlen(word);
		cmd_complete(sh->ctx, argc, argv, cur, shell_match_add, &m);
		rv = shell_insert(el, &m);
	}
	shell_match_free(&m);
	free(word);
	tok_end(t);
	return rv;
}

static void
shell_history_path(char *path, size_t n)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if ((home == NULL || *home == '\0') &&
	    (pw = getpwuid(getuid())) != NULL)
		home = pw->pw_dir;
	if (home == NULL || snprintf(path, n, "%s/%s", home,
	    SHELL_HISTORY_FILE) >= (int)n)
		path[0] = '\0';
}

static void
shell_history_open(struct shell *sh)
{
	char path[4096];
	HistEvent ev;
	int fd;

	shell_history_path(path, sizeof(path));
	if (path[0] == '\0')
		return;
	history(sh->hist, &ev, H_LOAD, path);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return;
	if ((sh->histfp = fdopen(fd, "r+")) == NULL)
		close(fd);
}

static void
shell_history_save(struct shell *sh)
{
	HistEvent ev;

	if (sh->histfp == NULL)
		return;
	rewind(sh->histfp);
	if (ftruncate(fileno(sh->histfp), 0) == 0)
		history(sh->hist, &ev, H_SAVE_FP, sh->histfp);
	fflush(sh->histfp);
}

static void
shell_init(struct shell *sh, struct ctx *ctx, int tty)
{
	HistEvent ev;

	memset(sh, 0, sizeof(*sh));
	sh->ctx = ctx;
	sh->hist = history_init();
	history(sh->hist, &ev, H_SETSIZE, SHELL_HISTORY_SIZE);
	history(sh->hist, &ev, H_SETUNIQUE, 1);
	sh->tok = tok_init(NULL);
	sh->el = el_init("gwctl", stdin, stdout, stderr);
	el_set(sh->el, EL_CLIENTDATA, sh);
	el_set(sh->el, EL_PROMPT, shell_prompt);
	el_set(sh->el, EL_EDITOR, "emacs");
	el_set(sh->el, EL_SIGNAL, 1);
	el_set(sh->el, EL_HIST, history, sh->hist);
	/* The wide call keeps our static names (el_set copies, and leaks). */
	el_wset(sh->el, EL_ADDFN, L"gwctl-complete",
	    L"complete a gwctl command", shell_complete);
	el_set(sh->el, EL_BIND, "^I", "gwctl-complete", NULL);
	el_source(sh->el, NULL);	/* ~/.editrc may rebind any of it */
	if (tty)
		shell_history_open(sh);
}

static void
shell_end(struct shell *sh)
{
	shell_history_save(sh);
	if (sh->histfp)
		fclose(sh->histfp);
	el_end(sh->el);
	tok_end(sh->tok);
	history_end(sh->hist);
}

static int
shell_line(struct shell *sh, const char *line)
{
	const char **argv;
	HistEvent ev;
	int argc;

	tok_reset(sh->tok);
	if (tok_str(sh->tok, line, &argc, &argv) != 0) {
		log_warnx("unbalanced quotes");
		return EX_USAGE;
	}
	if (argc == 0)
		return EX_OK;
	history(sh->hist, &ev, H_ENTER, line);
	shell_history_save(sh);
	return cmd_run(sh->ctx, argc, argv);
}

int
shell_run(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	int tty = isatty(STDIN_FILENO), n, r = EX_OK;
	struct shell sh;
	const char *line;

	shell_init(&sh, ctx, tty);
	ctx->interactive = 1;
	if (tty)
		printf("gwctl %s: \"help\" lists commands, TAB completes, "
		    "\"quit\" leaves.\n", GW_VERSION);
	/* Drop privileges now: completion reads gw.db. */
	(void)ctx_db(ctx);
	while (!ctx->quit && (line = el_gets(sh.el, &n)) != NULL && n > 0)
		r = shell_line(&sh, line);
	if (tty && !ctx->quit)
		fputc('\n', stdout);
	shell_end(&sh);
	return r;
}

int
shell_quit(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	ctx->quit = 1;
	return EX_OK;
}
