/*
 * pager.c - gwsearch's table through a pager on a terminal, as
 * journalctl does: $PAGER, else less with LESS=FRSX unless LESS is set
 * (quit when it fits one screen, keep colours, chop long lines, leave
 * the screen as it is).  Not a terminal, or PAGER empty or "cat": no
 * pager.
 * Diagnostics: never dies; without a terminal or a pager the table goes
 * to standard output, and pager_end() returns 127 when the pager could
 * not be run.
 */
#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gwsearch.h"

static pid_t	pager_pid = -1;

static int
on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char dir[4096], file[4200];

	if (path == NULL)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		if (n > 0 && n < sizeof(dir)) {
			memcpy(dir, path, n);
			dir[n] = '\0';
			snprintf(file, sizeof(file), "%s/%s", dir, prog);
			if (access(file, X_OK) == 0)
				return 1;
		}
		path += n;
		if (*path == ':')
			path++;
	}
	return 0;
}

void
pager_start(void)
{
	const char *pager = getenv("PAGER");
	int fds[2];

	if (!isatty(STDOUT_FILENO) || (pager && (*pager == '\0' ||
	    strcmp(pager, "cat") == 0)))
		return;
	/* Without $PAGER, less only if it is installed: the output must
	 * not vanish into a pager that cannot start. */
	if (pager == NULL) {
		if (!on_path("less"))
			return;
		pager = "less";
	}
	(void)format_columns();		/* while stdout is still the tty */
	fflush(stdout);
	if (pipe2(fds, O_CLOEXEC) == -1)
		return;
	if ((pager_pid = fork()) == -1) {
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pager_pid == 0) {
		dup2(fds[0], STDIN_FILENO);
		setenv("LESS", "FRSX", 0);
		execlp("sh", "sh", "-c", pager, (char *)NULL);
		_exit(127);
	}
	dup2(fds[1], STDOUT_FILENO);
	close(fds[0]);
	close(fds[1]);
}

/* Let the pager finish; its status when it failed to run, else 0. */
int
pager_end(void)
{
	int st;

	if (pager_pid <= 0)
		return 0;
	fflush(stdout);
	close(STDOUT_FILENO);
	while (waitpid(pager_pid, &st, 0) == -1)
		;
	pager_pid = -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 127 ? 127 : 0;
}
