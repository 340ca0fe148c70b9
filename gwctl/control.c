/*
 * control.c - one request to gwd over its control socket, saying what
 * went wrong in an admin's words.
 *
 * The protocol is gwd's (ctlproto.h): one command line in, "key value"
 * lines out, then gwd closes; the exchange itself is ctlclient.c's, as
 * gwtop's is.  Used for what only gwd may change or knows: its own
 * state in queue.db, the queue (queue.c).
 * Diagnostics: returns an exit status (EX_UNAVAILABLE: gwd not running,
 * EX_NOPERM, EX_TEMPFAIL: no whole reply in time, EX_SOFTWARE: gwd
 * answered "error"), each said with log_warn*; never dies.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "buf.h"
#include "ctlclient.h"
#include "gwctl.h"
#include "log.h"
#include "util.h"

#define CONTROL_TIMEOUT_MS	30000

/* Connect to gwd, send one request, read the reply; say what failed. */
int
control_exchange(struct ctx *ctx, const char *req, struct buf *reply,
    int ms)
{
	const char *path;
	int connected, r;

	if ((r = ctx_state(ctx)) != EX_OK)
		return r;
	path = ctx->cfg.control_socket ? ctx->cfg.control_socket : "";
	if (*path == '\0') {
		log_warnx("%s: control_socket is empty", ctx->cfg.path);
		return EX_CONFIG;
	}
	if (ctlclient_ask(path, req, reply, ms, &connected) == 0)
		return EX_OK;
	if (connected) {
		log_warn("%s: reading gwd's reply", path);
		return EX_TEMPFAIL;
	}
	if (errno == ENOENT || errno == ECONNREFUSED) {
		log_warnx("gwd is not running (nothing answers on %s)", path);
		return EX_UNAVAILABLE;
	}
	r = errno == EACCES ? EX_NOPERM : EX_UNAVAILABLE;
	log_warn("%s", path);
	return r;
}

/* A short exchange into out (subaccount resume, suppression delete). */
int
control_request(struct ctx *ctx, const char *line, char *out, size_t outsz)
{
	struct buf reply;
	int r;

	buf_init(&reply, outsz > 0 ? outsz - 1 : 0);
	r = control_exchange(ctx, line, &reply, CONTROL_TIMEOUT_MS);
	if (r == EX_OK && buf_len(&reply) == 0) {
		log_warnx("gwd closed the control socket without an answer "
		    "(gwd stopping?)");
		r = EX_UNAVAILABLE;
	}
	if (outsz > 0)
		gw_strlcpy(out, r == EX_OK ? buf_cstr(&reply) : "", outsz);
	buf_free(&reply);
	if (r == EX_OK && strncmp(out, "error ", 6) == 0) {
		out[strcspn(out, "\n")] = '\0';
		log_warnx("gwd: %s", out + 6);
		return EX_SOFTWARE;
	}
	return r;
}
