/*
 * expect_fatal.h - for unit tests of what must die: run fn(arg) in a
 * child, which must exit 1 (fatal()/fatalx()) with `want` in what it
 * wrote to stderr.  Include after cmocka.h.
 */
#ifndef GW_EXPECT_FATAL_H
#define GW_EXPECT_FATAL_H

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static inline void
expect_fatal(void (*fn)(void *), void *arg, const char *want)
{
	char out[512] = "";
	int fd[2], status;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(fd), 0);
	if ((pid = fork()) == 0) {
		dup2(fd[1], 2);
		fn(arg);
		_exit(0);
	}
	close(fd[1]);
	n = read(fd[0], out, sizeof(out) - 1);
	close(fd[0]);
	assert_true(n > 0);
	out[n] = '\0';
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	assert_non_null(strstr(out, want));
}

#endif
