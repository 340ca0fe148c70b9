/*
 * signer_kp.c - the key process's client (signer.c has the signing
 * jobs).  Starts the key process (keyproc.c), sends it the jobs'
 * digests on the sign channel and takes the signatures back in order,
 * asks for the active keys' names on the control channel (signer_load),
 * and notices when it dies or hangs.
 *
 * Sign requests are queued on the main thread as workers finish and
 * leave in one write when the loop goes idle; the answers come back in
 * the same order.
 * Exposure: reads the key process's answers over a socketpair made
 * before exec; an answer that is malformed or to no request counts as
 * the process lost.  Never logs key material (it has none).
 * Diagnostics: dies only when memory runs out.  The key process dying,
 * or not answering within KP_TIMEOUT_MS (then it is killed), is logged
 * with its exit status; the jobs it had fail with "key process
 * unavailable" (held instead when they wait) and another is started,
 * at once or a second after the previous start.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "dkimkey.h"
#include "keyproc.h"
#include "log.h"
#include "loop.h"
#include "signer_priv.h"
#include "util.h"

#define KP_TIMEOUT_MS	10000	/* an answer later than this: hung */
#define KP_RESTART_MS	1000	/* at most one start a second */

/* The key process and this end of its channels. */
static struct {
	long		 pid;		/* -1: none running */
	int		 ctl;
	struct ev_io	 io;		/* the sign channel */
	struct buf	 in, out;
	struct sign_job	*sent, **sent_tail;	/* awaiting answers */
	struct sign_job	*held, **held_tail;	/* waiting for a process */
	struct sign_job	*lost, **lost_tail;	/* a dead process's */
	uint32_t	 next_id;
	int64_t		 started;	/* loop_now() of the last start */
	struct ev_timer	 restart;
	struct ev_timer	 watch;		/* hung-process check */
	struct ev_timer	 drain;		/* answers read during a reload */
	struct ev_timer	 fail;		/* kp_fail() */
	/* how to start another */
	char		*state_dir, *user;
	int		 syslog, verbose;
} kp = { .pid = -1, .ctl = -1 };


static void
list_push(struct sign_job ***tail, struct sign_job *j)
{
	j->kp_next = NULL;
	**tail = j;
	*tail = &j->kp_next;
}

/* The key process is gone (or must go): say why, fail or hold what it
 * had, and start another. */
static void
kp_lost(const char *why)
{
	int status;
	pid_t r;

	if (kp.pid <= 0)
		return;
	kill((pid_t)kp.pid, SIGKILL);	/* when it hangs; no-op when dead */
	while ((r = waitpid((pid_t)kp.pid, &status, 0)) == -1 &&
	    errno == EINTR)
		;
	if (r == (pid_t)kp.pid && WIFSIGNALED(status))
		log_warnx("key process (pid %ld) %s: killed by signal %d; "
		    "signing waits for a new one", kp.pid, why,
		    WTERMSIG(status));
	else if (r == (pid_t)kp.pid)
		log_warnx("key process (pid %ld) %s: exit %d; signing waits "
		    "for a new one", kp.pid, why, WEXITSTATUS(status));
	else
		log_warnx("key process (pid %ld) %s", kp.pid, why);
	io_del(&kp.io);
	close(kp.io.fd);
	close(kp.ctl);
	kp.ctl = -1;
	kp.pid = -1;
	buf_reset(&kp.in);
	buf_reset(&kp.out);
	timer_del(&kp.watch);
	timer_del(&kp.drain);
	/* Its jobs are failed on the next turn, not here: this may run
	 * inside a reload of gw.db (signer_load()). */
	if (kp.sent != NULL) {
		*kp.lost_tail = kp.sent;
		kp.lost_tail = kp.sent_tail;
		kp.sent = NULL;
		kp.sent_tail = &kp.sent;
		timer_add(&kp.fail, 0);
	}
	timer_at(&kp.restart, kp.started + KP_RESTART_MS);
}

/* Fail the jobs a dead key process had, or hold those that wait. */
static void
kp_fail(struct ev_timer *t)
{
	struct sign_job *j = kp.lost, *next;
	int n = 0;

	kp.lost = NULL;
	kp.lost_tail = &kp.lost;
	for (; j != NULL; j = next) {
		next = j->kp_next;
		if (j->wait) {
			if (kp.pid > 0)
				signer_kp_send(j);
			else
				list_push(&kp.held_tail, j);
			continue;
		}
		j->failed = 1;
		snprintf(j->err, sizeof(j->err), "key process unavailable");
		n++;
		signer_finish(j);
	}
	if (n > 0)
		log_warnx("key process: %d message%s refused with 451 (the "
		    "clients will send them again)", n, n == 1 ? "" : "s");
}

/* An answer of the sign channel: its job's signatures, or its error. */
static int
kp_answer(const unsigned char *p, size_t len)
{
	struct sign_job *j = kp.sent;
	size_t sl;

	if (j == NULL || len < 5 || keyproc_get32(p) != j->kp_id)
		return -1;
	if ((kp.sent = j->kp_next) == NULL)
		kp.sent_tail = &kp.sent;
	if (p[4] != 0) {
		j->failed = 1;
		snprintf(j->err, sizeof(j->err), "%.*s", (int)(len - 5),
		    (const char *)p + 5);
		signer_finish(j);
		return 0;
	}
	p += 5;
	len -= 5;
	for (int i = 0; i < j->nkeys; i++) {
		if (len < 2 || (sl = (size_t)p[0] << 8 | p[1]) > len - 2)
			return -1;
		if (dkim_finish(&j->parts[i], p + 2, sl, &j->sigs) == -1)
			fatalx("out of memory");
		p += 2 + sl;
		len -= 2 + sl;
	}
	signer_finish(j);
	return 0;
}

/* Take every whole answer in kp.in. */
static void
kp_answers(void)
{
	const unsigned char *p;
	uint32_t len;

	while (kp.pid > 0 && buf_len(&kp.in) >= 4) {
		p = (const unsigned char *)buf_ptr(&kp.in);
		len = keyproc_get32(p);
		if (len > KEYPROC_FRAME_MAX) {
			kp_lost("sent a malformed answer");
			return;
		}
		if (buf_len(&kp.in) < 4 + (size_t)len)
			break;
		if (kp_answer(p + 4, len) == -1) {
			kp_lost("sent an answer to no request");
			return;
		}
		buf_consume(&kp.in, 4 + (size_t)len);
	}
	if (kp.sent == NULL)
		timer_del(&kp.watch);
}

/* Read what the sign channel has (never blocks); 0, or -1 when lost. */
static int
kp_fill(void)
{
	ssize_t r;

	for (;;) {
		if (buf_reserve(&kp.in, 65536) == -1)
			fatalx("out of memory");
		r = read(kp.io.fd, buf_tail(&kp.in), 65536);
		if (r > 0) {
			buf_added(&kp.in, (size_t)r);
			continue;
		}
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		kp_lost("died");
		return -1;
	}
}

static void
kp_read(void)
{
	if (kp_fill() == 0)
		kp_answers();
}

static void
kp_flush(void)
{
	ssize_t w;

	while (buf_len(&kp.out) > 0) {
		w = write(kp.io.fd, buf_ptr(&kp.out), buf_len(&kp.out));
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			io_set(&kp.io, EV_READ | EV_WRITE);
			return;
		}
		if (w <= 0) {
			kp_lost("died");
			return;
		}
		buf_consume(&kp.out, (size_t)w);
	}
	io_set(&kp.io, EV_READ);
}

static void
kp_io(struct ev_io *io, int revents)
{
	if (revents & EV_WRITE)
		kp_flush();
	if (kp.pid > 0 && (revents & EV_READ))
		kp_read();
}

/* Requests queued during this turn leave in one write. */
static void
kp_idle(void *arg)
{
	if (kp.pid > 0 && buf_len(&kp.out) > 0 &&
	    !(kp.io.events & EV_WRITE))
		kp_flush();
}

static void
kp_watch(struct ev_timer *t)
{
	if (kp.sent != NULL && loop_now() - kp.sent->kp_sent >= KP_TIMEOUT_MS) {
		kp_lost("did not answer in time");
		return;
	}
	timer_add(t, 1000);
}

static void
kp_drain(struct ev_timer *t)
{
	kp_answers();
}

/* Encode j's request onto kp.out. */
void
signer_kp_send(struct sign_job *j)
{
	unsigned char h[9];
	size_t start = buf_len(&kp.out);

	if (kp.pid <= 0) {
		if (j->wait) {
			list_push(&kp.held_tail, j);
			return;
		}
		j->failed = 1;
		snprintf(j->err, sizeof(j->err), "key process unavailable");
		signer_finish(j);
		return;
	}
	j->kp_id = kp.next_id++;
	j->kp_sent = loop_now();
	keyproc_put32(h + 4, j->kp_id);
	h[8] = (unsigned char)j->nkeys;
	if (buf_append(&kp.out, h, sizeof(h)) == -1)
		fatalx("out of memory");
	for (int i = 0; i < j->nkeys; i++) {
		const struct dkim_key *k = &j->keys[i];
		unsigned char kh[3];

		kh[0] = (unsigned char)k->alg;
		kh[1] = (unsigned char)strlen(k->domain);
		kh[2] = (unsigned char)strlen(k->selector);
		if (buf_append(&kp.out, kh, 3) == -1 ||
		    buf_append(&kp.out, k->domain, kh[1]) == -1 ||
		    buf_append(&kp.out, k->selector, kh[2]) == -1 ||
		    buf_append(&kp.out, j->parts[i].digest,
		    DKIM_DIGEST_LEN) == -1)
			fatalx("out of memory");
	}
	keyproc_put32((unsigned char *)buf_ptr(&kp.out) + start,
	    (uint32_t)(buf_len(&kp.out) - start - 4));
	list_push(&kp.sent_tail, j);
	if (!timer_armed(&kp.watch))
		timer_add(&kp.watch, 1000);
}

static int
kp_spawn(char *err, size_t errsz)
{
	int sfd, cfd;
	long pid;

	kp.started = loop_now();
	if ((pid = keyproc_spawn(&sfd, &cfd, err, errsz)) == -1)
		return -1;
	kp.pid = pid;
	kp.ctl = cfd;
	io_init(&kp.io, sfd, kp_io, NULL);
	io_set(&kp.io, EV_READ);
	return 0;
}

static void
kp_restart(struct ev_timer *t)
{
	struct sign_job *j;
	char err[256];

	if (kp_spawn(err, sizeof(err)) == -1) {
		log_warnx("%s; trying again in a second", err);
		kp.started = loop_now();
		timer_add(t, KP_RESTART_MS);
		return;
	}
	/* Its keys, and ours from the same read. */
	if (signer_load(NULL) == -1 || kp.pid <= 0)
		return;		/* lost again: another start is due */
	log_info("key process restarted (pid %ld)", kp.pid);
	j = kp.held;
	kp.held = NULL;
	kp.held_tail = &kp.held;
	for (struct sign_job *next; j != NULL; j = next) {
		next = j->kp_next;
		signer_kp_send(j);
	}
}

int
signer_start(const struct gw_config *cfg, int verbose, char *err,
    size_t errsz)
{
	kp.state_dir = xstrdup(cfg->state_dir);
	kp.user = xstrdup(cfg->user ? cfg->user : "");
	kp.syslog = cfg->syslog;
	kp.verbose = verbose;
	kp.sent_tail = &kp.sent;
	kp.held_tail = &kp.held;
	kp.lost_tail = &kp.lost;
	buf_init(&kp.in, 0);
	buf_init(&kp.out, 0);
	timer_init(&kp.restart, kp_restart, NULL);
	timer_init(&kp.watch, kp_watch, NULL);
	timer_init(&kp.drain, kp_drain, NULL);
	timer_init(&kp.fail, kp_fail, NULL);
	loop_on_idle(kp_idle, NULL);
	if (keyproc_spawner_start(kp.state_dir, kp.user, kp.syslog,
	    kp.verbose, cfg->sandbox, err, errsz) == -1)
		return -1;
	return kp_spawn(err, errsz);
}

/*
 * Wait for the control channel's answer: len bytes into p.  The sign
 * channel is read meanwhile (into kp.in, taken on the next turn), so a
 * key process writing answers never blocks while we wait here.
 * 0; -1 when no answer came by the deadline; -2 when the process is
 * lost (kp_lost() done): either channel ended, in whichever order the
 * kernel shows the two ends closing.
 */
static int
ctl_read(void *p, size_t len, int64_t deadline)
{
	struct pollfd pfd[2];
	size_t got = 0;
	ssize_t r;
	int64_t left;

	pfd[0].fd = kp.ctl;
	pfd[1].fd = kp.io.fd;
	pfd[0].events = pfd[1].events = POLLIN;
	while (got < len) {
		if ((left = deadline - now_us() / 1000) <= 0)
			return -1;
		if (poll(pfd, 2, (int)left) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (pfd[1].revents) {
			if (kp_fill() == -1)
				return -2;
			if (!timer_armed(&kp.drain))
				timer_add(&kp.drain, 0);
		}
		if (pfd[0].revents == 0)
			continue;
		if ((r = read(kp.ctl, (char *)p + got, len - got)) <= 0) {
			if (r == -1 && errno == EINTR)
				continue;
			kp_lost("died");
			return -2;
		}
		got += (size_t)r;
	}
	return 0;
}

/* The reload answer: the active keys' names. */
static int
parse_keys(const unsigned char *p, size_t len, int n, struct dkim_key **out)
{
	struct dkim_key *k = n > 0 ? xcalloc((size_t)n, sizeof(*k)) : NULL;
	char canon[33];

	for (int i = 0; i < n; i++) {
		if (len < 4 || len - 4 < (size_t)p[1] + p[2] + p[3] ||
		    p[0] > DKIM_ED25519_SHA256 || p[2] >= sizeof(k->selector) ||
		    p[3] >= sizeof(canon)) {
			free(k);
			return -1;
		}
		k[i].alg = (enum dkim_alg)p[0];
		memcpy(k[i].domain, p + 4, p[1]);
		memcpy(k[i].selector, p + 4 + p[1], p[2]);
		memcpy(canon, p + 4 + p[1] + p[2], p[3]);
		canon[p[3]] = '\0';
		if (dkim_parse_canon(canon, &k[i].hcanon, &k[i].bcanon) == -1) {
			k[i].hcanon = DKIM_RELAXED;
			k[i].bcanon = DKIM_RELAXED;
		}
		len -= 4 + (size_t)p[1] + p[2] + p[3];
		p += 4 + (size_t)p[1] + p[2] + p[3];
	}
	*out = k;
	return 0;
}

int
signer_load(sqlite3 *unused)
{
	unsigned char hdr[8], *body = NULL;
	int64_t deadline = now_us() / 1000 + KP_TIMEOUT_MS;
	struct dkim_key *k;
	uint32_t len;
	int n, rc;

	if (kp.pid <= 0)
		return -1;
	if (write(kp.ctl, "R", 1) != 1) {
		kp_lost("died");
		return -1;
	}
	if ((rc = ctl_read(hdr, sizeof(hdr), deadline)) == 0) {
		len = keyproc_get32(hdr);
		n = (int)keyproc_get32(hdr + 4);
		if (len < 4 || len > KEYPROC_FRAME_MAX)
			rc = -1;
		else {
			body = xmalloc(len - 4 + 1);
			rc = ctl_read(body, len - 4, deadline);
		}
	}
	if (rc == -1)
		kp_lost("did not answer a reload");
	if (rc != 0) {
		free(body);
		return -1;
	}
	if (n < 0 || parse_keys(body, len - 4, n, &k) == -1) {
		free(body);
		if (n >= 0)
			kp_lost("sent a malformed key list");
		return -1;
	}
	free(body);
	signer_set_keys(k, n);
	return n;
}
