/*
 * keyproc.c - the key process: DKIM private keys, and nothing else.
 *
 * A request names a key (domain, selector, algorithm) and carries the
 * SHA-256 digest the signature covers (dkim_prepare() made it on a
 * worker of the network process); the answer is the signature.  Requests
 * are read as many as have arrived and answered in one write, so a busy
 * gateway pays a few system calls per batch, not per message.
 * Exposure: trusts its parent (the only peer of its sockets, set up
 * before exec); reads private keys from gw.db.  Runs as gwd's user, with
 * PR_SET_NO_NEW_PRIVS (with `sandbox`, confined: sandbox.h), and not
 * dumpable, so the network process (same user) cannot read its memory
 * through ptrace or /proc/PID/mem.  The spawner that starts it is in
 * keyproc_spawn.c.
 * Diagnostics: a key that does not load is logged and skipped; a request
 * for a key it does not hold gets an error answer (the message is then
 * refused with 451); a malformed frame, a read or write error or the
 * parent's end closing ends the process (the parent starts another).
 */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sqlite3.h>

#include "buf.h"
#include "db.h"
#include "dkim.h"
#include "dkimkey.h"
#include "keyproc.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

struct kkey {
	char		 domain[256];
	char		 selector[64];
	enum dkim_alg	 alg;
	EVP_PKEY	*pkey;
	EVP_PKEY_CTX	*rsa;		/* dkim_rsa_signer(), made once */
};

static struct kkey	*keys;		/* sorted by kkey_cmp */
static size_t		 nkeys;
static const char	*state_dir;

static int
kkey_cmp(const void *a, const void *b)
{
	const struct kkey *x = a, *y = b;
	int c;

	if ((c = strcmp(x->domain, y->domain)) != 0)
		return c;
	if ((c = strcmp(x->selector, y->selector)) != 0)
		return c;
	return (int)x->alg - (int)y->alg;
}

static void
keys_free(struct kkey *k, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		EVP_PKEY_CTX_free(k[i].rsa);
		EVP_PKEY_free(k[i].pkey);
	}
	free(k);
}

/* One row of the reload: the key into k (0), or -1 when it is skipped. */
static int
load_row(sqlite3_stmt *st, struct kkey *k)
{
	const char *dom = (const char *)sqlite3_column_text(st, 0);
	const char *sel = (const char *)sqlite3_column_text(st, 1);
	const char *alg = (const char *)sqlite3_column_text(st, 2);
	const char *pem = (const char *)sqlite3_column_text(st, 3);
	enum dkimkey_alg ka;
	const char *errstr;
	int bits;

	memset(k, 0, sizeof(*k));
	if (dom == NULL || sel == NULL || alg == NULL || pem == NULL ||
	    gw_strlcpy(k->domain, dom, sizeof(k->domain)) >=
	    sizeof(k->domain) ||
	    gw_strlcpy(k->selector, sel, sizeof(k->selector)) >=
	    sizeof(k->selector)) {
		log_warnx("dkim key %s/%s: bad row; not signing with it",
		    dom ? dom : "?", sel ? sel : "?");
		return -1;
	}
	k->alg = strcmp(alg, "ed25519-sha256") == 0 ? DKIM_ED25519_SHA256 :
	    DKIM_RSA_SHA256;
	if ((k->pkey = dkimkey_from_pem(pem, strlen(pem), &errstr)) == NULL ||
	    dkimkey_classify(k->pkey, &ka, &bits, &errstr) == -1 ||
	    (ka == DKIMKEY_ED25519) != (k->alg == DKIM_ED25519_SHA256)) {
		log_warnx("dkim key %s selector %s: %s; not signing with it",
		    dom, sel, k->pkey ? "not the key its algorithm says" :
		    errstr);
		EVP_PKEY_free(k->pkey);
		k->pkey = NULL;
		return -1;
	}
	if (k->alg == DKIM_RSA_SHA256)
		k->rsa = dkim_rsa_signer(k->pkey);	/* NULL: one per use */
	return 0;
}

/*
 * Read the keys that may sign: active ones, and retiring ones (a request
 * planned with the snapshot before a rotation may still name them).
 * Append the active ones to ans for the network process.  The number of
 * active keys, or -1 (the previous keys stay).
 */
static int
reload(struct buf *ans)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	struct kkey *k = NULL;
	size_t n = 0;
	int rc, active = 0;
	char err[512];

	if ((db = db_open(state_dir, DB_GW, DB_RDONLY, err, sizeof(err))) ==
	    NULL) {
		log_warnx("%s", err);
		return -1;
	}
	if (sqlite3_prepare_v2(db, "SELECT k.domain, k.selector, k.algorithm,"
	    " k.private_key, coalesce(d.canon, 'relaxed/relaxed'), k.state"
	    " FROM dkim_key k LEFT JOIN dkim_domain d ON d.domain = k.domain"
	    " WHERE k.state IN ('active', 'retiring')"
	    " ORDER BY k.domain, k.algorithm", -1, &st, NULL) != SQLITE_OK) {
		log_warnx("gw.db: %s", sqlite3_errmsg(db));
		db_close(db);
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *canon = (const char *)sqlite3_column_text(st, 4);
		const char *state = (const char *)sqlite3_column_text(st, 5);
		unsigned char h[4];

		k = xreallocarray(k, n + 1, sizeof(*k));
		if (load_row(st, &k[n]) == -1)
			continue;
		if (strcmp(state, "active") == 0 && canon != NULL) {
			h[0] = (unsigned char)k[n].alg;
			h[1] = (unsigned char)strlen(k[n].domain);
			h[2] = (unsigned char)strlen(k[n].selector);
			h[3] = (unsigned char)strnlen(canon, 32);
			if (buf_append(ans, h, 4) == -1 ||
			    buf_append(ans, k[n].domain, h[1]) == -1 ||
			    buf_append(ans, k[n].selector, h[2]) == -1 ||
			    buf_append(ans, canon, h[3]) == -1)
				fatalx("out of memory");
			active++;
		}
		n++;
	}
	if (rc != SQLITE_DONE)
		log_warnx("gw.db: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	db_close(db);
	if (rc != SQLITE_DONE) {
		keys_free(k, n);
		return -1;
	}
	if (n > 0)
		qsort(k, n, sizeof(*k), kkey_cmp);
	keys_free(keys, nkeys);
	keys = k;
	nkeys = n;
	log_debug("keys loaded: %zu, active: %d", n, active);
	return active;
}

static int
write_all(int fd, const void *p, size_t len)
{
	const char *c = p;
	ssize_t w;

	while (len > 0) {
		if ((w = write(fd, c, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		len -= (size_t)w;
	}
	return 0;
}

static void
on_ctl(int fd)
{
	struct buf ans;
	unsigned char req, hdr[8];
	ssize_t r;
	int n;

	if ((r = read(fd, &req, 1)) == 0)
		exit(0);		/* gwd is gone */
	if (r == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		fatal("key process: control channel");
	}
	if (req != 'R')
		fatalx("key process: unknown request %d", req);
	buf_init(&ans, 0);
	n = reload(&ans);
	keyproc_put32(hdr, (uint32_t)(4 + buf_len(&ans)));
	keyproc_put32(hdr + 4, (uint32_t)n);
	if (write_all(fd, hdr, sizeof(hdr)) == -1 || (buf_len(&ans) > 0 &&
	    write_all(fd, buf_ptr(&ans), buf_len(&ans)) == -1))
		fatal("key process: control channel");
	buf_free(&ans);
}

static const struct kkey *
find_key(const char *dom, const char *sel, enum dkim_alg alg)
{
	struct kkey want;

	if (nkeys == 0)
		return NULL;
	memset(&want, 0, sizeof(want));
	gw_strlcpy(want.domain, dom, sizeof(want.domain));
	gw_strlcpy(want.selector, sel, sizeof(want.selector));
	want.alg = alg;
	return bsearch(&want, keys, nkeys, sizeof(*keys), kkey_cmp);
}

/* Sign the n digests of one request into ans (after its header); NULL,
 * or why not. */
static const char *
sign_request(const unsigned char *p, size_t len, struct buf *ans,
    char *why, size_t whysz)
{
	unsigned n = len > 0 ? p[0] : 0;
	char dom[256], sel[64];
	const struct kkey *k;
	struct buf sig;
	unsigned char l[2];
	size_t step;

	if (len < 1 || n == 0 || n > DKIM_MAX_SIGS)
		fatalx("key process: malformed request");
	p++;
	len--;
	buf_init(&sig, 0);
	for (unsigned i = 0; i < n; i++) {
		if (len < 3 || p[0] > DKIM_ED25519_SHA256 || p[1] == 0 ||
		    p[2] == 0 || (size_t)p[2] >= sizeof(sel) ||
		    len < 3 + (size_t)p[1] + p[2] + DKIM_DIGEST_LEN)
			fatalx("key process: malformed request");
		memcpy(dom, p + 3, p[1]);
		dom[p[1]] = '\0';
		memcpy(sel, p + 3 + p[1], p[2]);
		sel[p[2]] = '\0';
		if ((k = find_key(dom, sel, (enum dkim_alg)p[0])) == NULL) {
			snprintf(why, whysz, "key process holds no %s key "
			    "d=%s s=%s", dkim_alg_name((enum dkim_alg)p[0]),
			    dom, sel);
			buf_free(&sig);
			return why;
		}
		buf_reset(&sig);
		if (dkim_sign_digest(k->pkey, k->rsa, k->alg,
		    p + 3 + p[1] + p[2], &sig) == -1 ||
		    buf_len(&sig) > 0xffff) {
			snprintf(why, whysz, "signing with d=%s s=%s failed",
			    dom, sel);
			buf_free(&sig);
			return why;
		}
		l[0] = (unsigned char)(buf_len(&sig) >> 8);
		l[1] = (unsigned char)buf_len(&sig);
		if (buf_append(ans, l, 2) == -1 ||
		    buf_append(ans, buf_ptr(&sig), buf_len(&sig)) == -1)
			fatalx("out of memory");
		step = 3 + (size_t)p[1] + p[2] + DKIM_DIGEST_LEN;
		p += step;
		len -= step;
	}
	buf_free(&sig);
	return NULL;
}

/* Answer every whole request in in, in order, into out. */
static void
answer_all(struct buf *in, struct buf *out)
{
	const unsigned char *p;
	uint32_t len;
	size_t start;
	char why[400];
	const char *err;
	unsigned char st;

	while (buf_len(in) >= 4) {
		p = (const unsigned char *)buf_ptr(in);
		len = keyproc_get32(p);
		if (len < 5 || len > KEYPROC_FRAME_MAX)
			fatalx("key process: bad frame length %u", len);
		if (buf_len(in) < 4 + (size_t)len)
			return;
		start = buf_len(out);
		st = 0;
		/* header: length (filled in below), id, status */
		if (buf_append(out, p, 8) == -1 || buf_append(out, &st, 1) == -1)
			fatalx("out of memory");
		if ((err = sign_request(p + 8, len - 4, out, why,
		    sizeof(why))) != NULL) {
			out->len = out->off + start + 9;
			((unsigned char *)buf_ptr(out))[start + 8] = 1;
			if (buf_puts(out, err) == -1)
				fatalx("out of memory");
		}
		keyproc_put32((unsigned char *)buf_ptr(out) + start,
		    (uint32_t)(buf_len(out) - start - 4));
		buf_consume(in, 4 + (size_t)len);
	}
}

static void
on_sign(int fd, struct buf *in, struct buf *out)
{
	ssize_t r;

	if (buf_reserve(in, 65536) == -1)
		fatalx("out of memory");
	if ((r = read(fd, buf_tail(in), 65536)) == 0)
		exit(0);
	if (r == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		fatal("key process: sign channel");
	}
	buf_added(in, (size_t)r);
	answer_all(in, out);
	if (write_all(fd, buf_ptr(out), buf_len(out)) == -1)
		fatal("key process: sign channel");
	buf_reset(out);
}

int
keyproc_main(int argc, char *argv[])
{
	struct pollfd pfd[2];
	struct buf in, out;
	const char *errstr;

	char err[512];

	if (argc != 7)
		return EX_USAGE;
	prctl(PR_SET_NAME, "gwd-keyproc");
	log_init("gwd-keyproc", strcmp(argv[4], "1") == 0 ? LOG_DEST_SYSLOG :
	    LOG_DEST_STDERR, strcmp(argv[5], "1") == 0);
	state_dir = argv[2];
	signal(SIGPIPE, SIG_IGN);
	/* Nothing but its two channels (and stdio). */
	close_range(KEYPROC_CTL_FD + 1, ~0U, 0);
	if (drop_privileges(argv[3], &errstr) == -1) {
		log_warnx("cannot become user \"%s\": %s", argv[3], errstr);
		return EX_NOUSER;
	}
	/* Not dumpable: the network process, the same user, cannot ptrace
	 * it or read /proc/PID/mem. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("prctl");
	if (strcmp(argv[6], "1") == 0 && (sandbox_files(NULL, state_dir, err,
	    sizeof(err)) == -1 || sandbox_syscalls(SANDBOX_KEYPROC, err,
	    sizeof(err)) == -1))
		fatalx("%s", err);
	buf_init(&in, 0);
	buf_init(&out, 0);
	pfd[0].fd = KEYPROC_CTL_FD;
	pfd[1].fd = KEYPROC_SIGN_FD;
	pfd[0].events = pfd[1].events = POLLIN;
	log_info("key process started (pid %ld)", (long)getpid());
	for (;;) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (pfd[0].revents)
			on_ctl(KEYPROC_CTL_FD);
		if (pfd[1].revents)
			on_sign(KEYPROC_SIGN_FD, &in, &out);
	}
}
