/*
 * sandbox.h - what a gwd process may still do once it has started.
 *
 * Three layers, set by every gwd process (the network process, the key
 * process, the spawner that starts key processes) when `sandbox = true`:
 *   - PR_SET_NO_NEW_PRIVS: no exec can ever gain privileges;
 *   - Landlock (Linux >= 5.13; raw system calls, no library): files only
 *     under state_dir and the control socket's directory (read and
 *     write), the files gwd.conf names and the system's libraries, CA
 *     certificates and name-service files (read only); nothing may be
 *     executed anywhere (the spawner: gwd's binary and its loader
 *     only).  Landlock binds the calling thread and its future children
 *     only, so it is set before the first thread;
 *   - seccomp-bpf (libseccomp): an allow-list of system calls, set on
 *     every thread at once (TSYNC) when initialisation is over.  Any
 *     other call raises SIGSYS (SECCOMP_RET_TRAP); the handler writes
 *     "sandbox: system call NAME (NR) refused" to stderr with write(2)
 *     and ends the whole process with exit code 159 (128 + SIGSYS).
 *     SECCOMP_RET_KILL_PROCESS would kill it just as surely but leave no
 *     line in gwd's own log; the trap is the same refusal with a reason.
 * A kernel without Landlock is logged and gwd goes on with seccomp and
 * no_new_privs; a seccomp filter that cannot be loaded is fatal.
 */
#ifndef GW_SANDBOX_H
#define GW_SANDBOX_H

#include <stddef.h>

struct gw_config;

/*
 * no_new_privs and Landlock for the calling thread and what it starts
 * later.  cfg NULL: the key process (state_dir and the system's files
 * only).  0, or -1 with the reason in err.
 */
int	sandbox_files(const struct gw_config *cfg, const char *state_dir,
	    char *err, size_t errsz);

/*
 * The same for the key process spawner: the key process's domain (it is
 * kept across execve, and a key process started later runs in both),
 * and the execution of this very binary and of its dynamic loader only
 * (EXECUTE and READ_FILE on the two files; the libraries are only read
 * and mapped).  0, or -1 with the reason in err.
 */
int	sandbox_files_spawner(const char *state_dir, char *err, size_t errsz);

/* Whose allow-list: each is the one before it less what it never does. */
enum sandbox_who {
	SANDBOX_NETWORK,	/* the network process, every thread (TSYNC) */
	SANDBOX_KEYPROC,	/* no listener, no thread */
	SANDBOX_SPAWNER,	/* the key process's list, and clone and execve
				   and what the key process needs to confine
				   itself after the exec (the filter is
				   inherited across it) */
};

/* The seccomp allow-list.  0, or -1 with the reason. */
int	sandbox_syscalls(enum sandbox_who who, char *err, size_t errsz);

/*
 * Test hook: with GWD_SANDBOX_SELFTEST=open or =exec in the environment,
 * try to open /etc/shadow or exec /bin/true and log what happened.
 */
void	sandbox_selftest(void);

#endif
