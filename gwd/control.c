/*
 * control.c - the control socket.
 *
 * The control socket (control_socket, mode 0660) takes one command line
 * (after an optional protocol version word, ctlproto.h; the commands are
 * the table ctl_cmds) and answers with "key value" lines, then closes:
 * `stats` for counters and queue gauges, `ping`, `destinations [N]`
 * (qshape by domain, with each destination's throttle state), `pools`
 * (IP pools: addresses, connections, outcomes), `subaccounts` (one line
 * each: "sub NAME enabled=0|1 quota_hour=N used_hour=N quota_day=N
 * used_day=N paused=0|1 [reason=TEXT]"; quota 0: none), `suppression
 * delete`, `subaccount resume`, `auth blocks`, `auth unblock` (gwctl;
 * suppress.c, pause.c and authguard.c serve the last four; a change to
 * queue.db is answered once committed, control_commit.c), `webhook
 * test ID` (webhook_ctl.c: answered when the receiver has).  Peers are
 * checked with SO_PEERCRED and SO_PEERGROUPS: root and gwd's own user
 * manage (every command); the members of the socket's group observe
 * (the commands the table marks: nothing that changes gwd's state);
 * anyone else, and an observer asking for a change, gets one line
 * "error permission denied: ..." naming the rule, and the connection
 * closes (ctl_peer() and the table's observe column).  The HTTP
 * listeners are http.c's; all accept through admin_listen.c, which
 * keeps the descriptors SMTP needs.
 *
 * Queue commands (control_queue.c; gwctl queue).  ID is a queue id, 16
 * upper-case hex digits; ALL (upper case only) is every message; at most
 * 100 IDs a request:
 *
 *   queue list [--domain D] [--subaccount S] [--quarantined]
 *   queue show ID
 *   queue flush [ID ...|ALL|--domain D]	(nothing named: ALL)
 *   queue hold|release|delete|bounce ID ...|ALL
 *   queue release|delete --quarantined ID ... [--reason TEXT]
 *				(gwctl quarantine: others unchanged)
 *
 * A request gwd cannot parse gets one line, "error REASON".  Otherwise
 * the reply ends with the line "end"; a reply without it was cut short.
 * list and show: for each message, oldest first,
 *
 *   message QID          then: arrival UNIX-SECONDS, size BYTES,
 *                        sender ADDR ("<>": null sender), subaccount S,
 *                        message_id ID (if any), state quarantined|
 *                        held|active|ready|deferred, header LINE ...
 *                        (show only)
 *   recipient ADDR       per pending recipient (of D with --domain):
 *                        rcpt_state held|active|ready|deferred,
 *                        attempts N, next_attempt UNIX-SECONDS,
 *                        last_reply TEXT (if any)
 *
 * and "unknown QID" for a show of an id not queued.  Actions answer one
 * line per message: "flushed|held|released|deleted|bounced QID [NOTE]"
 * once the change and its audit event are committed to queue.db and
 * log.db (NOTE: recipients in delivery finish their attempt; no DSN);
 * "unchanged QID WHY" (already held, not held, held so not flushed,
 * nothing waiting, not quarantined), "busy QID WHY" (delete or bounce
 * while an attempt is under way), "unknown QID", or "failed QID ERROR"
 * (queue.db refused).
 * Control bytes in values are sent as '?' (TAB as it is).
 * Exposure: parses the control protocol from root or gwd's own user or
 * group (SO_PEERCRED, SO_PEERGROUPS); reads one line of less than
 * CTL_REQ_MAX bytes and nothing after it, and answers with gwd's own
 * figures.
 * Diagnostics: dies only when memory runs out; a request it cannot take
 * is answered with one "error ..." line, and control_bind() returns -1
 * with the reason in err at start-up.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin_listen.h"
#include "alert.h"
#include "auth.h"
#include "buf.h"
#include "conn.h"
#include "control_commit.h"
#include "control_queue.h"
#include "control_show.h"
#include "control.h"
#include "ctlproto.h"
#include "gwd.h"
#include "log.h"
#include "metrics_report.h"
#include "pause.h"
#include "suppress.h"
#include "tls_report.h"
#include "util.h"
#include "webhook_ctl.h"

enum ctl_role { CTL_MANAGE, CTL_OBSERVE, CTL_REFUSED };

static void	 ctl_take(struct admin_listener *, int fd);

static struct admin_listener	 ctl = {
	.name = "control_socket",
	.fd = -1,
	.take = ctl_take,
};
/* A control conn's arg: the peer's role. */
static enum ctl_role		 ctl_roles[] = {
	CTL_MANAGE, CTL_OBSERVE, CTL_REFUSED
};
static char			*ctl_path;
static gid_t			 ctl_gid;	/* the socket's group at bind */
static char			 ctl_user[64], ctl_group[64];

static void
write_stats_cmd(struct buf *out, const char *arg)
{
	metrics_report_stats(out);
}

static void
write_pong(struct buf *out, const char *arg)
{
	buf_puts(out, "pong\n");
}

static void
take_queue(struct conn *c, const char *line, const char *args)
{
	control_queue(c, line);		/* ctlproto.c parses "queue ..." */
}

static void
take_suppression(struct conn *c, const char *line, const char *args)
{
	suppress_control(c, args);
}

static void
take_subaccount(struct conn *c, const char *line, const char *args)
{
	pause_control(c, args);
}

static void
take_webhook(struct conn *c, const char *line, const char *args)
{
	webhook_control(c, args);
}

static void
take_tls_report(struct conn *c, const char *line, const char *args)
{
	tls_report_control(c, args);
}

static void
take_alert(struct conn *c, const char *line, const char *args)
{
	alert_control(c, args);
}

/*
 * The commands: each either writes its whole answer at once (answer),
 * or takes the connection and answers it itself, later if it must wait
 * for a commit (take).  args: whether words may follow the name.
 * observe: what the members of the socket's group may ask: NULL
 * nothing, "" the command, else the first words it may be followed by
 * (space-separated); root and gwd's user may ask everything.
 */
static const struct ctl_cmd {
	const char	*name;
	int		 args;
	void		(*answer)(struct buf *out, const char *args);
	void		(*take)(struct conn *, const char *line,
			    const char *args);
	const char	*observe;
} ctl_cmds[] = {
	{ "stats", 0, write_stats_cmd, NULL, "" },
	{ "destinations", 1, control_show_destinations, NULL, "" },
	{ "pools", 0, control_show_pools, NULL, "" },
	{ "subaccounts", 0, control_show_subaccounts, NULL, "" },
	{ "ping", 0, write_pong, NULL, "" },
	{ "queue", 1, NULL, take_queue, "list show" },
	{ "suppression", 1, NULL, take_suppression, NULL },
	{ "subaccount", 1, NULL, take_subaccount, NULL },
	{ "alert", 1, NULL, take_alert, NULL },
	{ "auth", 1, authguard_control, NULL, "blocks" },
	{ "webhook", 1, NULL, take_webhook, NULL },
	{ "tls-report", 1, NULL, take_tls_report, NULL },
};

/* Send out as the whole answer, then close. */
static void
answer_buf(struct conn *c, struct buf *out)
{
	conn_write(c, buf_ptr(out), buf_len(out));
	buf_free(out);
	conn_close_after_flush(c);
}

/* "error WHAT "WORD"[ (try: the commands)]": word is the first n bytes
 * of the request, escaped. */
static void
answer_error(struct conn *c, const char *what, const char *word, size_t n,
    int list)
{
	char esc[128];
	struct buf out;

	buf_init(&out, 0);
	log_escape(word, n, esc, sizeof(esc));
	buf_printf(&out, "error %s \"%s\"", what, esc);
	for (size_t i = 0; list && i < nitems(ctl_cmds); i++)
		buf_printf(&out, "%s%s", i ? ", " : " (try: ",
		    ctl_cmds[i].name);
	buf_puts(&out, list ? ")\n" : "\n");
	answer_buf(c, &out);
}

/* Does the table let an observer ask cmd with these args? */
static int
ctl_observable(const struct ctl_cmd *cmd, const char *args)
{
	const char *p = cmd->observe;
	size_t n = strcspn(args, " "), w;

	if (p == NULL || *p == '\0')
		return p != NULL;
	for (; *p; p += w, p += strspn(p, " ")) {
		w = strcspn(p, " ");
		if (w == n && memcmp(p, args, n) == 0)
			return 1;
	}
	return 0;
}

/* The permission refusal for a peer of this role: one line, closed. */
static void
answer_denied(struct conn *c, enum ctl_role role)
{
	struct buf out;

	buf_init(&out, 0);
	if (role == CTL_REFUSED)
		buf_printf(&out, "error permission denied: the control socket "
		    "admits root and user %s (to manage) and members of group "
		    "%s (to observe), see gwd.conf(5)\n", ctl_user, ctl_group);
	else {
		buf_printf(&out, "error permission denied: only root and user "
		    "%s may change gwd's state; members of group %s observe (",
		    ctl_user, ctl_group);
		for (size_t i = 0, k = 0; i < nitems(ctl_cmds); i++) {
			const char *p = ctl_cmds[i].observe;
			size_t w;

			if (p != NULL && *p == '\0')
				buf_printf(&out, "%s%s", k++ ? ", " : "",
				    ctl_cmds[i].name);
			for (; p && *p; p += w, p += strspn(p, " ")) {
				w = strcspn(p, " ");
				buf_printf(&out, "%s%s %.*s", k++ ? ", " : "",
				    ctl_cmds[i].name, (int)w, p);
			}
		}
		buf_puts(&out, ")\n");
	}
	answer_buf(c, &out);
}

static void
answer_control(struct conn *c, const char *line)
{
	enum ctl_role role = *(const enum ctl_role *)c->arg;
	const struct ctl_cmd *cmd = NULL;
	char err[128];
	struct buf out;
	size_t n;

	if (role == CTL_REFUSED) {
		answer_denied(c, role);
		return;
	}
	if (ctl_version(&line, err, sizeof(err)) == -1) {
		buf_init(&out, 0);
		buf_printf(&out, "error %s\n", err);
		answer_buf(c, &out);
		return;
	}
	n = strcspn(line, " ");
	for (size_t i = 0; i < nitems(ctl_cmds) && cmd == NULL; i++)
		if (strlen(ctl_cmds[i].name) == n &&
		    memcmp(line, ctl_cmds[i].name, n) == 0)
			cmd = &ctl_cmds[i];
	if (cmd == NULL)
		answer_error(c, "unknown command", line, n, 1);
	else if (line[n] != '\0' && !cmd->args)
		answer_error(c, "no arguments to", line, n, 0);
	else if (role == CTL_OBSERVE &&
	    !ctl_observable(cmd, line[n] ? line + n + 1 : ""))
		answer_denied(c, role);
	else if (cmd->take)
		cmd->take(c, line, line[n] ? line + n + 1 : "");
	else {
		/* The reply's own limit: gwctl and gwtop read it whole. */
		buf_init(&out, CTL_REPLY_MAX);
		cmd->answer(&out, line[n] ? line + n + 1 : "");
		answer_buf(c, &out);
	}
}

static void
on_read(struct conn *c)
{
	char *line;

	if ((line = admin_listen_line(c)) != NULL)
		answer_control(c, line);
}

static void
on_error(struct conn *c)
{
	conn_close(c);
}

static void
on_close(struct conn *c)
{
	control_commit_gone(c);
	webhook_control_gone(c);
}

static const struct conn_ops ctl_ops = {
	.on_read = on_read,
	.on_error = on_error,
	.on_close = on_close,
};

/* The socket file's group now (an admin may chgrp it), else at bind. */
static gid_t
ctl_socket_group(void)
{
	struct stat st;

	return ctl_path && stat(ctl_path, &st) == 0 ? st.st_gid : ctl_gid;
}

/*
 * Root and gwd's own user manage; a peer whose group or supplementary
 * groups (SO_PEERGROUPS: as they were at connect) hold the socket's
 * group observes; anyone else is refused, and told so.
 */
static enum ctl_role
ctl_peer(int fd)
{
	gid_t groups[256], g = ctl_socket_group();
	struct ucred uc = { .uid = (uid_t)-1 };
	socklen_t ul = sizeof(uc), gl = sizeof(groups);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == -1) {
		log_warn("control: SO_PEERCRED");
		return CTL_REFUSED;
	}
	if (uc.uid == 0 || uc.uid == geteuid())
		return CTL_MANAGE;
	if (uc.gid == g)
		return CTL_OBSERVE;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &gl) == 0)
		for (size_t i = 0; i < gl / sizeof(gid_t); i++)
			if (groups[i] == g)
				return CTL_OBSERVE;
	log_warnx("control: refused uid %d: not root, not user %s, not in "
	    "group %s", (int)uc.uid, ctl_user, ctl_group);
	return CTL_REFUSED;
}

/* A connection to the control socket: its peer's role is its arg. */
static void
ctl_take(struct admin_listener *l, int fd)
{
	if (conn_new(fd, &ctl_ops, &ctl_roles[ctl_peer(fd)], REQ_MAX,
	    CTL_OUT_MAX) == NULL)
		close(fd);
}

/* Names for the refusals, looked up once (no NSS on the loop later). */
static void
ctl_names(const char *user, gid_t gid)
{
	struct group *gr;

	ctl_gid = gid;
	snprintf(ctl_user, sizeof(ctl_user), "%s", user ? user : "root");
	if ((gr = getgrgid(gid)) != NULL)
		snprintf(ctl_group, sizeof(ctl_group), "%s", gr->gr_name);
	else
		snprintf(ctl_group, sizeof(ctl_group), "%d", (int)gid);
}

static int
bind_control(char *err, size_t errsz)
{
	struct sockaddr_un sun;
	char *slash;
	mode_t old;
	uid_t uid;
	gid_t gid;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (gw_strlcpy(sun.sun_path, gcfg->control_socket,
	    sizeof(sun.sun_path)) >= sizeof(sun.sun_path)) {
		snprintf(err, errsz, "control_socket: path too long: %s",
		    gcfg->control_socket);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		snprintf(err, errsz, "socket: %s", strerror(errno));
		return -1;
	}
	/* A stale socket from a crash; a live gwd would still answer. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		snprintf(err, errsz, "%s: another gwd is running",
		    gcfg->control_socket);
		close(fd);
		return -1;
	}
	unlink(sun.sun_path);
	/* A directory made here (/run/gw after a boot) is the user's: its
	 * group reaches the socket, and gwd removes it at exit. */
	owner_ids(gcfg->user, &uid, &gid);
	if ((slash = strrchr(sun.sun_path, '/')) != NULL && slash != sun.sun_path) {
		*slash = '\0';
		if (mkdir_p_owned(sun.sun_path, 0750, uid, gid) == -1)
			log_warn("mkdir %s", sun.sun_path);
		*slash = '/';
	}
	old = umask(077);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, 64) == -1) {
		snprintf(err, errsz, "%s: %s", gcfg->control_socket,
		    strerror(errno));
		umask(old);
		close(fd);
		return -1;
	}
	umask(old);
	/* 0660 for gwd's user and group: gwd (after dropping root) and the
	 * admins in group gw may talk to it. */
	if (uid != (uid_t)-1 && chown(sun.sun_path, uid, gid) == -1)
		log_warn("chown %s", sun.sun_path);
	if (chmod(sun.sun_path, 0660) == -1)
		log_warn("chmod %s", sun.sun_path);
	ctl_names(uid != (uid_t)-1 ? gcfg->user : NULL, uid != (uid_t)-1 ?
	    gid : getegid());
	ctl.fd = fd;
	ctl_path = xstrdup(sun.sun_path);
	return 0;
}

int
control_bind(char *err, size_t errsz)
{
	if (gcfg->control_socket && gcfg->control_socket[0] &&
	    bind_control(err, errsz) == -1)
		return -1;
	return 0;
}

void
control_start(void)
{
	admin_listen_start(&ctl);
}

static int
ctl_conn(const struct conn *c)
{
	return c->ops == &ctl_ops || control_queue_conn(c);
}

void
control_close_all(void)
{
	conn_close_left(ctl_conn);
}

void
control_stop(void)
{
	if (ctl.fd != -1) {
		unlink(ctl_path);
		free(ctl_path);
	}
	admin_listen_stop(&ctl);
}
