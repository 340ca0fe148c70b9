/*
 * shell.c - the interactive gwctl shell (libedit).
 *
 * Same commands as the command line, from the same table (cmd.c), with
 * unambiguous prefixes, tab completion of nouns, verbs, options,
 * subaccount names, key ids and queue ids (asked of gwd), history in
 * ~/.gwctl_history and the user's ~/.editrc.
 *
 * History is the invoking user's, in the invoking user's home, but the
 * shell soon runs as gwd's user (ctx.c), who may not write there.  So
 * the history is rendered by libedit into a temporary file of our own
 * (its save fchmods the file, which fails on someone else's: that used
 * to leave ~/.gwctl_history truncated to nothing), then written next to
 * the old file and renamed over it: the old one stays whole until the
 * new one is.  When gwctl will drop root, a small keeper process forked
 * first keeps the invoking user's rights and does that write for it.
 * Diagnostics: never dies (memory aside); a command's failure is printed
 * and the shell reads the next line, and a history that cannot be saved
 * is said once and the old file kept.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <histedit.h>
#include <pwd.h>
#include <signal.h>
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

#define SHELL_HISTORY_MAX	(4 * 1024 * 1024)

struct shell {
	struct ctx	*ctx;
	EditLine	*el;
	History		*hist;
	Tokenizer	*tok;
	char		 histpath[4096];	/* "": no history file */
	int		 keeper;	/* socket to the keeper, or -1 */
	pid_t		 keeper_pid;
	int		 hist_warned;
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

/* Write data to path as whoever runs this: a temporary file beside it,
 * synced, then renamed over it.  0, or -1 with errno. */
static int
shell_history_write(const char *path, const char *data, size_t len)
{
	char tmp[4200];
	struct stat st;
	size_t off = 0;
	ssize_t n = 0;
	int fd, ok, e = EIO;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >=
	    (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkstemp(tmp)) == -1)
		return -1;
	while (off < len && (n = write(fd, data + off, len - off)) > 0)
		off += (size_t)n;
	ok = off == len;
	if (!ok && n == -1)
		e = errno;
	/* Root writing for someone else keeps the file theirs. */
	if (ok && geteuid() == 0 && lstat(path, &st) == 0 &&
	    S_ISREG(st.st_mode) && fchown(fd, st.st_uid, st.st_gid) == -1) {
		ok = 0;
		e = errno;
	}
	if (ok && fsync(fd) == -1) {
		ok = 0;
		e = errno;
	}
	if (close(fd) == -1 && ok) {
		ok = 0;
		e = errno;
	}
	if (ok && rename(tmp, path) == 0)
		return 0;
	if (ok)
		e = errno;
	unlink(tmp);
	errno = e;
	return -1;
}

/* The keeper: as the invoking user, write each history it is sent
 * ("LEN\n" then LEN bytes) and answer one byte, 0 or errno. */
static void
shell_keeper(int fd, const char *path)
{
	char head[32], *data;
	unsigned char ok;
	size_t got, len;
	ssize_t n;

	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	for (;;) {
		for (got = 0; got < sizeof(head) - 1; got++)
			if (read(fd, head + got, 1) != 1 || head[got] == '\n')
				break;
		if (got == 0 || got == sizeof(head) - 1 || head[got] != '\n')
			_exit(0);
		head[got] = '\0';
		if ((len = strtoul(head, NULL, 10)) > SHELL_HISTORY_MAX)
			_exit(1);
		data = xmalloc(len + 1);
		for (got = 0; got < len; got += (size_t)n)
			if ((n = read(fd, data + got, len - got)) <= 0)
				_exit(1);
		ok = shell_history_write(path, data, len) == 0 ? 0 :
		    (unsigned char)(errno ? errno : EIO);
		free(data);
		if (write(fd, &ok, 1) != 1)
			_exit(1);
	}
}

/* Before gwctl drops root: a keeper with the invoking user's rights. */
static void
shell_keeper_start(struct shell *sh)
{
	int sv[2];

	if (geteuid() != 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
	    0, sv) == -1)
		return;
	fflush(stdout);
	fflush(stderr);
	if ((sh->keeper_pid = fork()) == -1) {
		close(sv[0]);
		close(sv[1]);
		return;
	}
	if (sh->keeper_pid == 0) {
		close(sv[0]);
		shell_keeper(sv[1], sh->histpath);
		_exit(0);
	}
	close(sv[1]);
	sh->keeper = sv[0];
}

static void
shell_history_open(struct shell *sh)
{
	HistEvent ev;

	shell_history_path(sh->histpath, sizeof(sh->histpath));
	if (sh->histpath[0] == '\0')
		return;
	history(sh->hist, &ev, H_LOAD, sh->histpath);
	shell_keeper_start(sh);
}

/* The history in libedit's format: rendered into a file of our own. */
static char *
shell_history_render(struct shell *sh, size_t *len)
{
	HistEvent ev;
	char *data = NULL;
	FILE *f;
	long n;

	if ((f = tmpfile()) == NULL)
		return NULL;
	if (history(sh->hist, &ev, H_SAVE_FP, f) >= 0 && fflush(f) == 0 &&
	    (n = ftell(f)) > 0 && n <= SHELL_HISTORY_MAX &&
	    fseek(f, 0, SEEK_SET) == 0) {
		data = xmalloc((size_t)n);
		if (fread(data, 1, (size_t)n, f) != (size_t)n) {
			free(data);
			data = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return data;
}

static int
shell_history_send(struct shell *sh, const char *data, size_t len)
{
	unsigned char ok = EIO;
	char head[32];
	int n = snprintf(head, sizeof(head), "%zu\n", len);

	if (write(sh->keeper, head, (size_t)n) != n ||
	    write(sh->keeper, data, len) != (ssize_t)len ||
	    read(sh->keeper, &ok, 1) != 1) {
		errno = EPIPE;
		return -1;
	}
	errno = ok;
	return ok == 0 ? 0 : -1;
}

static void
shell_history_save(struct shell *sh)
{
	size_t len = 0;
	char *data;
	int r;

	if (sh->histpath[0] == '\0')
		return;
	if ((data = shell_history_render(sh, &len)) == NULL) {
		r = -1;
		errno = EIO;
	} else if (sh->keeper != -1)
		r = shell_history_send(sh, data, len);
	else
		r = shell_history_write(sh->histpath, data, len);
	free(data);
	if (r == -1 && !sh->hist_warned) {
		log_warn("%s: history not saved (the old one is kept)",
		    sh->histpath);
		sh->hist_warned = 1;
	}
}

static void
shell_init(struct shell *sh, struct ctx *ctx, int tty)
{
	HistEvent ev;

	memset(sh, 0, sizeof(*sh));
	sh->ctx = ctx;
	sh->keeper = -1;
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
	if (sh->keeper != -1) {
		close(sh->keeper);	/* EOF: the keeper exits */
		while (waitpid(sh->keeper_pid, NULL, 0) == -1 &&
		    errno == EINTR)
			;
	}
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
