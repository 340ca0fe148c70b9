/*
 * keyproc_spawn.c - the spawner, which starts each key process
 * (keyproc.h), and the network process's side of asking it.
 *
 * Exposure: trusts the network process, the only peer of its socket: it
 * takes one byte and two descriptors and execs this binary with fixed
 * arguments, nothing else.  Forked before the network process drops
 * root or sandboxes itself, since it must still exec.
 * Diagnostics: a malformed request ends the spawner (exit 70); the
 * network process then has no key process to restart, and says so.
 * Test hook, inert unless set: GW_TEST_SPAWNER_OPEN (spawner_test_open).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "keyproc.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

/* fd as exactly `want` in the child, without FD_CLOEXEC. */
static int
child_fd(int fd, int want)
{
	if (fd == want)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, want) == -1 ? -1 : 0;
}

/*
 * The spawner: forked at start-up, before the network process has a
 * thread, drops root or sandboxes itself, so that it can still exec.  Its
 * only work: on each request (one byte and the child's two channel ends
 * by SCM_RIGHTS) it starts a key process with clone(CLONE_PARENT), so the
 * key process is the network process's child (it reaps it and sees its
 * signal), and answers with the pid.  It ends with the network process
 * (PR_SET_PDEATHSIG, and EOF on its socket).
 */
static int	spawner = -1;	/* the network process's end */

/* A message of one byte with room for two descriptors. */
static void
fd_msg(struct msghdr *msg, struct iovec *iov, char *byte, char *cbuf,
    size_t cbufsz)
{
	memset(msg, 0, sizeof(*msg));
	iov->iov_base = byte;
	iov->iov_len = 1;
	msg->msg_iov = iov;
	msg->msg_iovlen = 1;
	msg->msg_control = cbuf;
	msg->msg_controllen = cbufsz;
}

static void __attribute__((noreturn))
spawner_run(int fd, char *argv[])
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(2 * sizeof(int))];
	} cm;
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *c;
	sigset_t none;
	int fds[2], hs, hc;
	char byte;
	pid_t pid;
	ssize_t r;

	sigemptyset(&none);
	for (;;) {
		fd_msg(&msg, &iov, &byte, cm.buf, sizeof(cm.buf));
		if ((r = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC)) == -1 &&
		    errno == EINTR)
			continue;
		if (r <= 0)
			_exit(0);
		c = CMSG_FIRSTHDR(&msg);
		if (c == NULL || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len != CMSG_LEN(2 * sizeof(int)))
			_exit(70);
		memcpy(fds, CMSG_DATA(c), sizeof(fds));
		pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0,
		    0, 0);
		if (pid == 0) {
			sigprocmask(SIG_SETMASK, &none, NULL);
			if ((hs = fcntl(fds[0], F_DUPFD, 10)) == -1 ||
			    (hc = fcntl(fds[1], F_DUPFD, 10)) == -1 ||
			    child_fd(hs, KEYPROC_SIGN_FD) == -1 ||
			    child_fd(hc, KEYPROC_CTL_FD) == -1)
				_exit(71);
			execv("/proc/self/exe", argv);
			_exit(127);
		}
		close(fds[0]);
		close(fds[1]);
		if (pid == -1)
			pid = -errno;
		while ((r = write(fd, &pid, sizeof(pid))) == -1 &&
		    errno == EINTR)
			;
		if (r != (ssize_t)sizeof(pid))
			_exit(0);
	}
}

/*
 * As little as the spawner can keep: gwd's user (the key process would
 * drop root first thing anyway), no new privileges, not dumpable, and
 * with `sandbox` a Landlock domain and a seccomp filter (SANDBOX_SPAWNER:
 * the key process's list and clone and execve).  Both outlive the exec,
 * so each must let a key process start and confine itself: the domain
 * is the key process's own (state_dir, the system's files read only)
 * and the execution of gwd's binary and its loader, nothing else
 * (sandbox_files_spawner(), gwd(8)).
 * A failure here ends the spawner; the network process then says that
 * it has no key process.
 */
static void
spawner_confine(const char *sdir, const char *user, int sandbox)
{
	const char *errstr = NULL;
	char err[256];

	if (drop_privileges(user, &errstr) == -1) {
		log_warnx("key process spawner: cannot become user \"%s\": "
		    "%s", user, errstr);
		_exit(67);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
		log_warn("key process spawner: prctl");
		_exit(71);
	}
	if (sandbox && (sandbox_files_spawner(sdir, err, sizeof(err)) == -1 ||
	    sandbox_syscalls(SANDBOX_SPAWNER, err, sizeof(err)) == -1)) {
		log_warnx("key process spawner: %s", err);
		_exit(71);
	}
}

/*
 * Test hook, inert unless set: GW_TEST_SPAWNER_OPEN=PATH[:PATH...]
 * makes the spawner, once confined, try to open each PATH for reading
 * and log whether it could.
 */
static void
spawner_test_open(void)
{
	const char *v = getenv("GW_TEST_SPAWNER_OPEN");
	char list[1024], *p, *save = NULL;
	int fd;

	if (v == NULL)
		return;
	snprintf(list, sizeof(list), "%s", v);
	for (p = strtok_r(list, ":", &save); p != NULL;
	    p = strtok_r(NULL, ":", &save)) {
		if ((fd = open(p, O_RDONLY | O_CLOEXEC)) == -1) {
			log_warnx("key process spawner: test open %s: "
			    "refused: %s", p, strerror(errno));
			continue;
		}
		close(fd);
		log_warnx("key process spawner: test open %s: allowed", p);
	}
}

int
keyproc_spawner_start(const char *sdir, const char *user, int syslog,
    int verbose, int sandbox, char *err, size_t errsz)
{
	static char *argv[8];
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		snprintf(err, errsz, "key process spawner: socketpair: %s",
		    strerror(errno));
		return -1;
	}
	argv[0] = (char *)"gwd";
	argv[1] = (char *)KEYPROC_ARG;
	argv[2] = (char *)sdir;
	argv[3] = (char *)(user ? user : "");
	argv[4] = (char *)(syslog ? "1" : "0");
	argv[5] = (char *)(verbose ? "1" : "0");
	argv[6] = (char *)(sandbox ? "1" : "0");
	argv[7] = NULL;
	if ((pid = fork()) == -1) {
		snprintf(err, errsz, "key process spawner: fork: %s",
		    strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		prctl(PR_SET_NAME, "gwd-spawner");
		close_range(3, (unsigned)sv[1] - 1, 0);
		close_range((unsigned)sv[1] + 1, ~0U, 0);
		spawner_confine(sdir, user, sandbox);
		spawner_test_open();
		/* After the change of user, which clears it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(0);
		spawner_run(sv[1], argv);
	}
	close(sv[1]);
	spawner = sv[0];
	return 0;
}

/* Hand the child's ends to the spawner; the key process's pid. */
static pid_t
spawner_ask(int sign, int ctl, char *err, size_t errsz)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(2 * sizeof(int))];
	} cm;
	int fds[2] = { sign, ctl };
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *c;
	char byte = 'S';
	pid_t pid;
	ssize_t r;
	size_t got = 0;

	memset(&cm, 0, sizeof(cm));
	fd_msg(&msg, &iov, &byte, cm.buf, sizeof(cm.buf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	while ((r = sendmsg(spawner, &msg, MSG_NOSIGNAL)) == -1 &&
	    errno == EINTR)
		;
	while (r == 1 && got < sizeof(pid)) {
		r = read(spawner, (char *)&pid + got, sizeof(pid) - got);
		if (r == -1 && errno == EINTR)
			r = 1;
		else if (r > 0)
			got += (size_t)r, r = 1;
	}
	if (got < sizeof(pid)) {
		snprintf(err, errsz, "key process spawner: %s", r == 0 ?
		    "gone" : strerror(errno));
		return -1;
	}
	if (pid < 0) {
		snprintf(err, errsz, "key process: clone: %s",
		    strerror(-pid));
		return -1;
	}
	return pid;
}

pid_t
keyproc_spawn(int *sign_fd, int *ctl_fd, char *err, size_t errsz)
{
	int s[2], c[2];
	pid_t pid;

	if (spawner == -1) {
		snprintf(err, errsz, "key process: no spawner");
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) == -1) {
		snprintf(err, errsz, "key process: socketpair: %s",
		    strerror(errno));
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c) == -1) {
		snprintf(err, errsz, "key process: socketpair: %s",
		    strerror(errno));
		close(s[0]);
		close(s[1]);
		return -1;
	}
	pid = spawner_ask(s[1], c[1], err, errsz);
	close(s[1]);
	close(c[1]);
	if (pid == -1) {
		close(s[0]);
		close(c[0]);
		return -1;
	}
	if (fcntl(s[0], F_SETFL, O_NONBLOCK) == -1)
		log_warn("key process: sign channel");
	*sign_fd = s[0];
	*ctl_fd = c[0];
	return pid;
}
