/*
 * keyproc.h - the key process: the only gwd process that holds DKIM
 * private keys (OpenSMTPD's "ca" is the model).
 *
 * gwd starts it before it drops root, by fork and exec of its own binary
 * with KEYPROC_ARG, so it begins with nothing of the network process in
 * its memory; signer_kp.c restarts it the same way when it dies.  The
 * exec is done by a spawner process forked at start-up, since the
 * sandboxed network process cannot exec (sandbox.h).  It reads
 * the keys from gw.db itself, on each reload asked for on the control
 * channel, and signs the digests the network process sends on the sign
 * channel.  It speaks to nothing else.
 *
 * Wire (both ends are the same binary: host byte order, no versioning).
 * Sign channel, requests and answers in the same order, many in one write:
 *   request  u32 len | u32 id | u8 n | n x (u8 alg | u8 dlen | u8 slen |
 *            domain | selector | digest[32])
 *   answer   u32 len | u32 id | u8 0 | n x (u16 siglen | sig)
 *            u32 len | u32 id | u8 1 | reason text
 * Control channel, one at a time:
 *   request  u8 'R' (reload the keys from gw.db)
 *   answer   u32 len | i32 nkeys (-1: gw.db could not be read, the old
 *            keys stay) | nkeys x (u8 alg | u8 dlen | u8 slen | u8 clen |
 *            domain | selector | canon): the active keys
 */
#ifndef GW_KEYPROC_H
#define GW_KEYPROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define KEYPROC_ARG		"--keyproc"
#define KEYPROC_SIGN_FD		3
#define KEYPROC_CTL_FD		4
#define KEYPROC_FRAME_MAX	(256 * 1024)	/* one request or answer */

/*
 * Fork the spawner, before any thread and before the network process
 * drops root or sandboxes itself: it execs each key process for the keys
 * of state_dir/gw.db (which becomes `user` when started as root, and
 * sandboxes itself when `sandbox`), as a child of the caller.  0, or -1 with the reason in err.
 */
int	keyproc_spawner_start(const char *state_dir, const char *user,
	    int syslog, int verbose, int sandbox, char *err, size_t errsz);

/*
 * Start a key process through the spawner.  *sign_fd (non-blocking) and
 * *ctl_fd (blocking) are this side's ends.  The pid, or -1 with the
 * reason in err.
 */
pid_t	keyproc_spawn(int *sign_fd, int *ctl_fd, char *err, size_t errsz);

/* main() of the key process (argv[1] is KEYPROC_ARG); its exit code. */
int	keyproc_main(int argc, char *argv[]);

/* Frame helpers shared by both ends. */
static inline void
keyproc_put32(unsigned char *p, uint32_t v)
{
	__builtin_memcpy(p, &v, sizeof(v));
}

static inline uint32_t
keyproc_get32(const unsigned char *p)
{
	uint32_t v;

	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}

#endif
