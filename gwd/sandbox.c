/*
 * sandbox.c - Landlock, seccomp and no_new_privs for gwd's processes
 * (sandbox.h).
 *
 * SECURITY: runs on trusted input only (gwd.conf's paths).  The SIGSYS
 * handler uses only async-signal-safe calls (write(2), _exit(2)).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/landlock.h>
#include <seccomp.h>

#include "config.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

/* Newer than Debian 12's headers. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER	(1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)
#endif

#define FS_FILE	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
		 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE)
#define FS_READ	(LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_RW	(FS_READ | LANDLOCK_ACCESS_FS_WRITE_FILE | \
		 LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
		 LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | \
		 LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | \
		 LANDLOCK_ACCESS_FS_MAKE_SYM | LANDLOCK_ACCESS_FS_REFER | \
		 LANDLOCK_ACCESS_FS_TRUNCATE)

/* What every process reads: libraries and their data, CA certificates,
 * name service, time zones, its own /proc entries. */
static const char *const system_read[] = {
	"/usr", "/lib", "/lib64", "/etc/ssl", "/etc/ca-certificates",
	"/etc/ld.so.cache", "/etc/resolv.conf", "/etc/hosts",
	"/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf",
	"/etc/services", "/etc/protocols", "/etc/passwd", "/etc/group",
	"/etc/localtime", "/etc/magic", "/etc/magic.mime", "/etc/mime.types",
	"/etc/gnutls", "/proc/self", "/sys/devices/system/cpu",
	"/dev/urandom", "/dev/random",
};

static int
ll_create(const struct landlock_ruleset_attr *a)
{
	return (int)syscall(SYS_landlock_create_ruleset, a, sizeof(*a), 0);
}

/*
 * Allow `access` beneath path (a file: its file rights only).  A path
 * that does not exist is skipped: a system without /etc/gnutls.
 */
static int
ll_allow(int rs, const char *path, uint64_t access, uint64_t handled,
    char *err, size_t errsz)
{
	struct landlock_path_beneath_attr pb;
	struct stat st;
	int fd;

	if (path == NULL || *path == '\0')
		return 0;
	if ((fd = open(path, O_PATH | O_CLOEXEC)) == -1) {
		if (errno == ENOENT || errno == ENOTDIR || errno == EACCES)
			return 0;
		snprintf(err, errsz, "sandbox: %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		access &= FS_FILE;
	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = access & handled;
	pb.parent_fd = fd;
	if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb,
	    0) == -1) {
		snprintf(err, errsz, "sandbox: Landlock rule for %s: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* The directory part of path ("." when none), into buf. */
static const char *
dir_of(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return ".";
	if (slash == path)
		return "/";
	snprintf(buf, size, "%.*s", (int)(slash - path), path);
	return buf;
}

struct path_rules {
	int		 rs;
	uint64_t	 handled;
	char		*err;
	size_t		 errsz;
};

/*
 * One file or directory gwd.conf names (config_each_path: the option
 * table is the one list, so a new file setting needs no line here).
 */
static int
allow_setting(void *arg, const char *name, const char *path,
    enum config_path_use use)
{
	struct path_rules *pr = arg;
	char dbuf[4096];

	(void)name;
	switch (use) {
	case CONFIG_PATH_RW:
		return ll_allow(pr->rs, path, FS_RW, pr->handled, pr->err,
		    pr->errsz);
	case CONFIG_PATH_SOCKET:
		return ll_allow(pr->rs, dir_of(path, dbuf, sizeof(dbuf)),
		    FS_RW, pr->handled, pr->err, pr->errsz);
	case CONFIG_PATH_READ:
	case CONFIG_PATH_READ_DIR:
		break;
	}
	return ll_allow(pr->rs, path, FS_READ, pr->handled, pr->err,
	    pr->errsz);
}

/*
 * The dynamic loader this binary names in its PT_INTERP (the kernel
 * executes it along with the binary), into arg, PATH_MAX bytes; left
 * "" for a static binary.
 */
static int
interp_of_self(struct dl_phdr_info *info, size_t size, void *arg)
{
	char *buf = arg;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_INTERP)
			snprintf(buf, PATH_MAX, "%s", (const char *)
			    (info->dlpi_addr + info->dlpi_phdr[i].p_vaddr));
	return 1;		/* the first object is the program */
}

/*
 * The Landlock domain: state_dir read and write, the system's files
 * read only, the files cfg names, and the execution of exec[] (files
 * only) but nothing else.
 */
static int
landlock_domain(const struct gw_config *cfg, const char *state_dir,
    const char *const *exec, size_t nexec, char *err, size_t errsz)
{
	struct landlock_ruleset_attr attr;
	uint64_t h;
	int abi, rs, bad = 0;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		snprintf(err, errsz, "sandbox: PR_SET_NO_NEW_PRIVS: %s",
		    strerror(errno));
		return -1;
	}
	/* SQLite's temporary files (large sorts, statement journals). */
	setenv("SQLITE_TMPDIR", state_dir, 1);
	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1) {
		log_warnx("sandbox: no Landlock in this kernel (%s): files "
		    "are not confined", strerror(errno));
		return 0;
	}
	h = FS_RW | LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
	    LANDLOCK_ACCESS_FS_MAKE_BLOCK;
	if (abi < 2)
		h &= ~LANDLOCK_ACCESS_FS_REFER;
	if (abi < 3)
		h &= ~LANDLOCK_ACCESS_FS_TRUNCATE;
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = h;
	if ((rs = ll_create(&attr)) == -1) {
		snprintf(err, errsz, "sandbox: landlock_create_ruleset: %s",
		    strerror(errno));
		return -1;
	}
	bad |= ll_allow(rs, state_dir, FS_RW, h, err, errsz);
	bad |= ll_allow(rs, "/dev/null", FS_READ |
	    LANDLOCK_ACCESS_FS_WRITE_FILE, h, err, errsz);
	for (size_t i = 0; i < nitems(system_read) && !bad; i++)
		bad |= ll_allow(rs, system_read[i], FS_READ, h, err, errsz);
	for (size_t i = 0; i < nexec && !bad; i++)
		bad |= ll_allow(rs, exec[i], LANDLOCK_ACCESS_FS_EXECUTE |
		    LANDLOCK_ACCESS_FS_READ_FILE, h, err, errsz);
	if (cfg != NULL && !bad) {
		struct path_rules pr = { rs, h, err, errsz };

		bad = config_each_path(cfg, allow_setting, &pr);
	}
	if (!bad && syscall(SYS_landlock_restrict_self, rs, 0) == -1) {
		snprintf(err, errsz, "sandbox: landlock_restrict_self: %s",
		    strerror(errno));
		bad = -1;
	}
	close(rs);
	if (bad)
		return -1;
	log_debug("sandbox: Landlock ABI %d: files confined", abi);
	return 0;
}

int
sandbox_files(const struct gw_config *cfg, const char *state_dir, char *err,
    size_t errsz)
{
	return landlock_domain(cfg, state_dir, NULL, 0, err, errsz);
}

int
sandbox_files_spawner(const char *state_dir, char *err, size_t errsz)
{
	char interp[PATH_MAX] = "";
	const char *exec[] = { "/proc/self/exe", interp };

	dl_iterate_phdr(interp_of_self, interp);
	return landlock_domain(NULL, state_dir, exec, nitems(exec), err,
	    errsz);
}

void
sandbox_selftest(void)
{
	const char *what = getenv("GWD_SANDBOX_SELFTEST");
	char *const argv[] = { (char *)"true", NULL };
	int fd;

	if (what == NULL)
		return;
	if (strcmp(what, "open") == 0) {
		if ((fd = open("/etc/shadow", O_RDONLY | O_CLOEXEC)) == -1) {
			log_warnx("sandbox self-test: open /etc/shadow "
			    "refused: %s", strerror(errno));
			return;
		}
		close(fd);
		log_warnx("sandbox self-test: open /etc/shadow allowed");
	} else if (strcmp(what, "exec") == 0) {
		execv("/bin/true", argv);
		log_warnx("sandbox self-test: exec /bin/true refused: %s",
		    strerror(errno));
	}
}

/*
 * The allow-list.  Whatever the network process's threads need once
 * serving (the loop, workers with GMime, libmagic and Hyperscan, libcurl
 * with its resolver threads, SQLite, OpenSSL, the archive writer); no
 * exec, no ptrace, no mount, no module, no namespace, no kexec.
 */
static const char *const allowed[] = {
	/* files and memory */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv",
	"pwritev", "preadv2", "pwritev2", "open", "openat", "close",
	"close_range", "fstat", "stat", "lstat", "newfstatat", "statx",
	"fstatfs", "statfs", "lseek", "mmap", "munmap", "mprotect", "mremap",
	"madvise", "brk", "msync", "mincore", "mlock", "munlock", "fcntl",
	"dup", "dup2", "dup3", "pipe", "pipe2", "ioctl", "getdents",
	"getdents64", "access", "faccessat", "faccessat2", "readlink",
	"readlinkat", "getcwd", "unlink", "unlinkat", "rename", "renameat",
	"renameat2", "mkdir", "mkdirat", "rmdir", "ftruncate", "truncate",
	"fsync", "fdatasync", "fallocate", "flock", "fchmod", "fchown",
	"chmod", "fchmodat",
	"link", "linkat", "symlink", "symlinkat", "utimensat", "sendfile",
	"copy_file_range", "splice", "memfd_create", "fadvise64",
	/* network */
	"socket", "socketpair", "connect", "accept", "accept4", "bind",
	"listen", "getsockname", "getpeername", "setsockopt", "getsockopt",
	"sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
	"shutdown",
	/* waiting */
	"poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1",
	"epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd",
	"eventfd2", "timerfd_create", "timerfd_settime", "timerfd_gettime",
	"signalfd", "signalfd4", "futex", "futex_waitv", "nanosleep",
	"clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday",
	"time", "sched_yield",
	/* threads, signals, the process */
	"clone", "set_robust_list", "get_robust_list", "rseq",
	"set_tid_address", "exit", "exit_group", "wait4", "waitid", "kill",
	"tgkill", "tkill", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
	"rt_sigtimedwait", "rt_sigpending", "sigaltstack", "getpid", "gettid",
	"getppid", "getuid", "geteuid", "getgid", "getegid", "getgroups",
	"getresuid", "getresgid", "prctl", "arch_prctl", "membarrier",
	"getrandom", "uname", "sysinfo", "getrlimit", "prlimit64",
	"setrlimit", "getrusage", "times", "sched_getaffinity",
	"sched_getparam", "sched_getscheduler", "sched_getattr",
	"sched_setattr", "getpriority", "umask",
	"restart_syscall",
};

/* Not in the key process: it has no listener and no thread. */
static const char *const network_only[] = {
	"bind", "listen", "accept", "accept4", "clone",
};

/* The spawner: clone and exec a key process, which then confines itself
 * under this same filter (Landlock, its own seccomp filter). */
static const char *const spawner_extra[] = {
	"clone", "execve", "landlock_create_ruleset", "landlock_add_rule",
	"landlock_restrict_self", "seccomp",
};

#if defined(__SANITIZE_ADDRESS__)
#define GW_SAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GW_SAN	1
#endif
#endif
#ifdef GW_SAN
/* What a sanitizer's run-time adds: LeakSanitizer stops the threads at
 * exit with ptrace from a clone of its own. */
static const char *const allowed_san[] = {
	"ptrace", "process_vm_readv", "personality",
};
#endif


#define SYSNAME_MAX	24
#define SYSNR_MAX	512
static char	sysname[SYSNR_MAX][SYSNAME_MAX];	/* for the handler */

static int
in_list(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return 1;
	return 0;
}

/* Allow list[] (the key process: but network_only[]); 0 or -errno. */
static int
allow(scmp_filter_ctx ctx, const char *const *list, size_t n, int keyproc)
{
	int nr, r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		if (keyproc && in_list(list[i], network_only,
		    nitems(network_only)))
			continue;
		/* A name this libseccomp or architecture lacks: none. */
		if ((nr = seccomp_syscall_resolve_name(list[i])) !=
		    __NR_SCMP_ERROR)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	}
	return r;
}

/* Only async-signal-safe calls: any thread, any state. */
static void
sigsys(int sig, siginfo_t *si, void *uc)
{
	char line[128], num[16], *p = line;
	const char *name = "?";
	int nr = si->si_syscall, i = 0;
	unsigned n = (unsigned)(nr < 0 ? 0 : nr);

	if (nr >= 0 && nr < SYSNR_MAX && sysname[nr][0] != '\0')
		name = sysname[nr];
	do
		num[i++] = (char)('0' + n % 10);
	while ((n /= 10) != 0 && i < (int)sizeof(num));
#define PUT(s) do { for (const char *q_ = (s); *q_ && \
	p < line + sizeof(line) - 2; ) *p++ = *q_++; } while (0)
	PUT("gwd: sandbox: system call ");
	PUT(name);
	PUT(" (");
	while (i > 0 && p < line + sizeof(line) - 2)
		*p++ = num[--i];
	PUT(") refused; exiting\n");
#undef PUT
	(void)!write(STDERR_FILENO, line, (size_t)(p - line));
	_exit(128 + SIGSYS);
}

int
sandbox_syscalls(enum sandbox_who who, char *err, size_t errsz)
{
	struct sigaction sa;
	scmp_filter_ctx ctx;
	int nr, r = 0;

	for (nr = 0; nr < SYSNR_MAX; nr++) {
		char *s = seccomp_syscall_resolve_num_arch(
		    SCMP_ARCH_NATIVE, nr);

		if (s != NULL)
			snprintf(sysname[nr], SYSNAME_MAX, "%s", s);
		free(s);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1) {
		snprintf(err, errsz, "sandbox: sigaction: %s", strerror(errno));
		return -1;
	}
	if ((ctx = seccomp_init(SCMP_ACT_TRAP)) == NULL) {
		snprintf(err, errsz, "sandbox: seccomp_init failed");
		return -1;
	}
	if (who == SANDBOX_NETWORK)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (r == 0)
		r = allow(ctx, allowed, nitems(allowed), who != SANDBOX_NETWORK);
	if (r == 0 && who == SANDBOX_SPAWNER)
		r = allow(ctx, spawner_extra, nitems(spawner_extra), 0);
#ifdef GW_SAN
	if (r == 0)
		r = allow(ctx, allowed_san, nitems(allowed_san), 0);
#endif
	/* glibc tries clone3 first and falls back to clone on ENOSYS. */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
		    SCMP_SYS(clone3), 0);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r != 0) {
		snprintf(err, errsz, "sandbox: seccomp filter: %s",
		    strerror(-r));
		return -1;
	}
	log_debug("sandbox: system calls filtered");
	return 0;
}
