/*
 * control.c - one request to gwd over its control socket, saying what
 * went wrong in an admin's words.
 *
 * The protocol is gwd's (ctlproto.h): one command line in, "key value"
 * lines out, then gwd closes; the exchange itself is ctlclient.c's, as
 * gwtop's is.  Used for what only gwd may change or knows: its own
 * state in queue.db, the queue (queue.c).
 * Diagnostics: returns an exit status (EX_UNAVAILABLE: gwd not running,
 * EX_NOPERM: the socket or gwd refused this user, with the rule,
 * EX_TEMPFAIL: no whole reply in time, EX_SOFTWARE: gwd
 * answered "error"), each said with log_warn*; never dies.
 */
#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "buf.h"
#include "ctlclient.h"
#include "gwctl.h"
#include "log.h"
#include "util.h"

#define CONTROL_TIMEOUT_MS	30000

/* The socket's mode kept us out: say who it admits. */
static int
control_denied(const struct ctx *ctx, const char *path)
{
	const char *user = ctx->cfg.user && *ctx->cfg.user ? ctx->cfg.user :
	    "root";
	char group[64] = "?";
	struct group *gr;
	struct stat st;
	uid_t uid;
	gid_t gid = 0;

	/* The socket's group; if we cannot even see it, gwd's user's. */
	if (stat(path, &st) == 0)
		gid = st.st_gid;
	else if (lookup_user(user, &uid, &gid) == -1)
		gid = (gid_t)-1;
	if (gid != (gid_t)-1 && (gr = getgrgid(gid)) != NULL)
		snprintf(group, sizeof(group), "%s", gr->gr_name);
	else if (gid != (gid_t)-1)
		snprintf(group, sizeof(group), "%d", (int)gid);
	log_warnx("%s: permission denied: the control socket admits root "
	    "and user %s (to manage) and members of group %s (to observe); "
	    "run as one of them, or ask to be added to group %s", path, user,
	    group, group);
	return EX_NOPERM;
}

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
	if (ctlclient_ask(path, req, reply, ms, &connected) == 0) {
		/* gwd says why it refuses this user, then closes. */
		if (buf_len(reply) > 24 && strncmp(buf_cstr(reply),
		    "error permission denied", 23) == 0) {
			log_warnx("gwd: %.*s", (int)strcspn(buf_cstr(reply) +
			    6, "\n"), buf_cstr(reply) + 6);
			return EX_NOPERM;
		}
		return EX_OK;
	}
	if (connected) {
		log_warn("%s: reading gwd's reply", path);
		return EX_TEMPFAIL;
	}
	if (errno == ENOENT || errno == ECONNREFUSED) {
		log_warnx("gwd is not running (nothing answers on %s)", path);
		return EX_UNAVAILABLE;
	}
	if (errno == EACCES)
		return control_denied(ctx, path);
	log_warn("%s", path);
	return EX_UNAVAILABLE;
}

int
control_unanswered(void)
{
	log_warnx("gwd closed the control socket without an answer (gwd "
	    "stopping?); the request may still have been carried out: look "
	    "again once gwd is back");
	return EX_UNAVAILABLE;
}

/* A short exchange into out (subaccount resume, suppression delete). */
int
control_request(struct ctx *ctx, const char *line, char *out, size_t outsz)
{
	struct buf reply;
	int r;

	buf_init(&reply, outsz > 0 ? outsz - 1 : 0);
	r = control_exchange(ctx, line, &reply, CONTROL_TIMEOUT_MS);
	if (r == EX_OK && buf_len(&reply) == 0)
		r = control_unanswered();
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

int
control_tally(struct ctx *ctx, const char *req, int ms,
    int (*errcode)(const char *line), void (*line)(const char *, int))
{
	struct buf reply;
	const char *p, *e;
	int r, failed = -1;

	buf_init(&reply, 1 << 20);
	if ((r = control_exchange(ctx, req, &reply, ms)) != EX_OK) {
		buf_free(&reply);
		return r;
	}
	for (p = buf_cstr(&reply); *p; p = *e ? e + 1 : e) {
		e = p + strcspn(p, "\n");
		if (strncmp(p, "error ", 6) == 0) {
			log_warnx("gwd: %.*s", (int)(e - p - 6), p + 6);
			r = errcode ? errcode(p) : EX_SOFTWARE;
			buf_free(&reply);
			return r;
		}
		if (strncmp(p, "failed ", 7) == 0)
			failed = atoi(p + 7);
		line(p, (int)(e - p));
	}
	buf_free(&reply);
	if (failed == -1) {
		log_warnx("gwd gave no whole answer (gwd stopping?)");
		return EX_TEMPFAIL;
	}
	return failed ? EX_UNAVAILABLE : EX_OK;
}
