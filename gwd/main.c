/*
 * gwd - the gw outbound SMTP gateway daemon.
 *
 * SECURITY: parses untrusted SMTP from clients and from remote servers.
 * Starts the key process (keyproc.c, the only holder of DKIM private
 * keys), binds its listeners and reads the TLS key as root (when started
 * as root), then runs as the configured `user`, confined with `sandbox`
 * (sandbox.h).  Holds password hashes of gw.db and the TLS key in
 * memory; never logs credentials.
 * STANDARDS: RFC 5321, 3207, 4954, 1870, 2920, 6152, 2034, 3463, 3464,
 * 6409, 7505, 8446.
 * Diagnostics: exits 64 on usage errors, 78 on configuration errors (all
 * printed first), and 73, 67 or 69 when the state directory, the user or
 * a listener or database cannot be had at start-up, with the reason;
 * once serving it exits only on SIGTERM or SIGINT, or on a fatal
 * elsewhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "alert.h"
#include "api.h"
#include "archive.h"
#include "auth.h"
#include "authguard.h"
#include "check.h"
#include "cluster.h"
#include "config.h"
#include "conn.h"
#include "control.h"
#include "dns.h"
#include "dns_wait.h"
#include "fbl.h"
#include "gwd.h"
#include "hookset.h"
#include "httpc.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "metrics_report.h"
#include "https.h"
#include "volume.h"
#include "pause.h"
#include "loop.h"
#include "queue.h"
#include "quarantine.h"
#include "retpath.h"
#include "sandbox.h"
#include "session.h"
#include "signer.h"
#include "keyproc.h"
#include "smarthost.h"
#include "store.h"
#include "store_read.h"
#include "sts.h"
#include "tls_report.h"
#include "suppress.h"
#include "tls.h"
#include "util.h"
#include "webhook.h"
#include "window.h"
#include "worker.h"

static struct ev_io	 sigio;
static struct ev_timer	 poll_timer;
static struct ev_timer	 stop_timer;
static int		 stopping;
static int64_t		 stop_began;	/* loop_now() at SIGTERM */

static void
usage(FILE *f)
{
	fprintf(f, "usage: gwd [-nv] [-c file]\n"
	    "  -c file   configuration (default %s)\n"
	    "  -n        check the configuration and exit (with -v: print it)\n"
	    "  -v        verbose logging\n"
	    "  --help, --version\n", GW_DEFAULT_CONFIG);
}

/* systemd's readiness protocol without libsystemd: one datagram. */
static void
sd_notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sun.sun_path))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(path))) == -1)
		log_debug("sd_notify: %s", strerror(errno));
	close(fd);
}

static void
poll_cb(struct ev_timer *t)
{
	accounts_poll();
	timer_add(t, 500);
}

/* Deliveries under way: their recipients are active. */
static int
deliveries_active(void)
{
	struct queue_stats q;

	queue_stats(&q);
	return q.active;
}

/*
 * Stopping: wait for the deliveries under way to end, for every commit
 * (their outcomes, the sessions' last messages) to be on disk and for
 * the send API's answers to leave (api.c), at most shutdown_timeout.  A delivery cut short would be made again
 * after the restart.
 */
static void
stop_check(struct ev_timer *t)
{
	int active = deliveries_active();

	/* Sessions whose last message was being committed at SIGTERM have
	 * had their answer: they go too, before they send another. */
	sessions_close_all();
	if (sessions_count() == 0 && store_backlog() == 0 && active == 0 &&
	    queue_dsn_signing() == 0 && api_requests() == 0) {
		loop_stop();
		return;
	}
	/* Not t->when: each timer_add() moves it. */
	if (loop_now() >= stop_began + gcfg->shutdown_timeout_ms) {
		if (active > 0)
			log_warnx("shutdown_timeout: %d deliveries still under "
			    "way; they will be made again after a restart "
			    "(possible duplicates)", active);
		loop_stop();
		return;
	}
	timer_add(t, 50);
}

static void
begin_shutdown(void)
{
	if (stopping)
		return;
	stopping = 1;
	sd_notify("STOPPING=1");
	store_stop_deliveries();
	log_info("shutting down: %d deliveries under way, waiting for them "
	    "(shutdown_timeout %.1fs at most)", deliveries_active(),
	    (double)gcfg->shutdown_timeout_ms / 1000);
	listeners_stop();
	gm.stopping = 1;		/* /health says so from now on */
	control_stop();
	https_stop();
	sessions_close_all();
	queue_shutdown();
	smarthost_stop();
	stop_began = loop_now();
	timer_add(&stop_timer, 0);
}

/*
 * SIGHUP re-reads gwd.conf.  The running configuration is never changed
 * in place: a new one is loaded on the loop thread; a setting that needs
 * a restart gets its running value back (and is logged with its old and
 * new values); then gcfg points at the new struct.  The store and
 * checkpointer threads read gcfg through the atomic pointer, a field at
 * a time; the old struct is kept until exit, because a listener, a
 * session or a delivery may hold a pointer into it (a listen entry, an
 * EHLO name).  A few kilobytes a reload.
 */
struct retired_cfg {
	struct gw_config	*cfg;
	struct retired_cfg	*next;
};
static struct retired_cfg	*retired;

static void
reload_note(void *arg, const char *name, const char *oldv, const char *newv,
    int live)
{
	int *restart = arg;

	if (live) {
		log_info("SIGHUP: %s: %s -> %s", name, oldv, newv);
		return;
	}
	log_warnx("SIGHUP: %s needs a restart: %s -> %s (keeping %s)", name,
	    oldv, newv, oldv);
	(*restart)++;
}

static void
reload_config(void)
{
	struct gw_config *old = gcfg, *nc = xcalloc(1, sizeof(*nc));
	struct retired_cfg *r;
	int changed, restart = 0;
	char err[512];

	if (config_load(old->path, nc) != 0) {
		log_warnx("SIGHUP: %s has errors (above); the running "
		    "configuration stays", old->path);
		config_free(nc);
		free(nc);
		return;
	}
	changed = config_reload_merge(old, nc, reload_note, &restart);
	r = xcalloc(1, sizeof(*r));
	r->cfg = old;
	r->next = retired;
	retired = r;
	gcfg = nc;
	if (dns_init(nc, err, sizeof(err)) == -1)
		log_warnx("SIGHUP: %s; DNS keeps its previous servers", err);
	check_hostname(nc);
	/* A new policy generation: destinations re-read relay limits. */
	accounts_reload();
	log_info("SIGHUP: %s re-read: %d setting%s changed, %d of them need "
	    "a restart", old->path, changed, changed == 1 ? "" : "s",
	    restart);
}

static void
signal_cb(struct ev_io *io, int revents)
{
	struct signalfd_siginfo si;

	while (read(io->fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			begin_shutdown();
			break;
		case SIGHUP:
			sd_notify("RELOADING=1");
			reload_config();
			sd_notify("READY=1");
			break;
		}
	}
}

static void
setup_signals(void)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* Blocked in every thread (set before threads start), read here. */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		fatalx("pthread_sigmask");
	if ((fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	io_init(&sigio, fd, signal_cb, NULL);
	io_set(&sigio, EV_READ);
}

static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * The state directory exists and belongs to the user gwd runs as.  The
 * parents it lacked are made for that user too (root would otherwise
 * own them 0750 and shut the user out of state_dir).
 */
static int
prepare_state_dir(const struct gw_config *cfg)
{
	uid_t uid;
	gid_t gid;

	owner_ids(cfg->user, &uid, &gid);
	if (mkdir_p_owned(cfg->state_dir, 0750, uid, gid) == -1) {
		log_warn("%s", cfg->state_dir);
		return -1;
	}
	if (uid != (uid_t)-1 && chown(cfg->state_dir, uid, gid) == -1) {
		log_warn("chown %s", cfg->state_dir);
		return -1;
	}
	return 0;
}

/* After the drop: a state_dir the user cannot reach fails here, with
 * its name, not later as "unable to open database file". */
static int
check_state_dir(const struct gw_config *cfg)
{
	if (access(cfg->state_dir, R_OK | W_OK | X_OK) == 0)
		return 0;
	log_warnx("state_dir %s: %s for user \"%s\" (each directory above "
	    "it must let that user in)", cfg->state_dir, strerror(errno),
	    cfg->user && *cfg->user ? cfg->user : "running gwd");
	return -1;
}

/*
 * One gwd per state_dir: two daemons on one queue.db would both load and
 * deliver every message.  An exclusive flock on state_dir/gwd.lock, held
 * (by the open descriptor) until exit, taken before any listener is
 * bound; the file holds the pid for the message of the one that loses.
 */
static int
lock_state_dir(const struct gw_config *cfg)
{
	char path[4096], pid[32];
	ssize_t n;
	uid_t uid;
	gid_t gid;
	int fd;

	if (snprintf(path, sizeof(path), "%s/gwd.lock", cfg->state_dir) >=
	    (int)sizeof(path) || (fd = open(path, O_RDWR | O_CREAT |
	    O_NOFOLLOW | O_CLOEXEC, 0640)) == -1) {
		log_warn("%s/gwd.lock", cfg->state_dir);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK) {
			log_warn("flock %s", path);
			close(fd);
			return -1;
		}
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		log_warnx("another gwd (pid %s) uses %s", *pid ? pid : "?",
		    cfg->state_dir);
		close(fd);
		return -1;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, pid, (size_t)n, 0) != n)
		log_warn("%s", path);
	if (geteuid() == 0 && cfg->user && *cfg->user &&
	    lookup_user(cfg->user, &uid, &gid) == 0 &&
	    fchown(fd, uid, gid) == -1)
		log_warn("chown %s", path);
	return 0;		/* fd stays open: the lock lives with gwd */
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *path = GW_DEFAULT_CONFIG, *errstr;
	static struct gw_config cfg;	/* reachable until exit: gcfg */
	int ch, checkonly = 0, verbose = 0;
	char err[512];

	if (argc > 1 && strcmp(argv[1], KEYPROC_ARG) == 0)
		return keyproc_main(argc, argv);
	log_init("gwd", LOG_DEST_STDERR, 0);
	while ((ch = getopt_long(argc, argv, "c:nvh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			checkonly = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("gwd %s\n", GW_VERSION);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if (config_load(path, &cfg) != 0)
		return EX_CONFIG;
	gcfg = &cfg;
	if (checkonly)
		return check_config(&cfg, verbose);
	log_init("gwd", cfg.syslog ? LOG_DEST_SYSLOG : LOG_DEST_STDERR,
	    verbose);
	check_hostname(&cfg);

	raise_fd_limit();
	loop_init();
	setup_signals();		/* before any thread starts */
	conn_init_module();
	if (prepare_state_dir(&cfg) == -1)
		return EX_CANTCREAT;
	if (lock_state_dir(&cfg) == -1)
		return EX_TEMPFAIL;
	/* The DKIM keys' own process, before the drop (keyproc.h). */
	if (signer_start(&cfg, verbose, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return EX_OSERR;
	}
	if (cfg.nlisten > 0 &&
	    (server_tls = tls_server_ctx(&cfg, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		return EX_CONFIG;
	}
	if (server_tls != NULL && cfg.tls.lean_sessions &&
	    conn_tls_lean(server_tls) == -1) {
		log_warnx("tls.lean_sessions: OpenSSL gave no ex_data index");
		return EX_SOFTWARE;
	}
	if ((client_tls = tls_client_ctx(&cfg, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		return EX_CONFIG;
	}
	gm.started_us = now_us();
	/* Its password file may be readable by root only. */
	if (cluster_init(&cfg, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return EX_CONFIG;
	}
	if (listeners_bind(err, sizeof(err)) == -1 ||
	    control_bind(err, sizeof(err)) == -1 ||
	    metrics_http_bind(err, sizeof(err)) == -1 ||
	    https_bind(err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return EX_UNAVAILABLE;
	}
	if (drop_privileges(cfg.user, &errstr) == -1) {
		log_warnx("cannot become user \"%s\": %s", cfg.user, errstr);
		return EX_NOUSER;
	}
	if (geteuid() == 0)
		log_warnx("running as root: set `user` in %s", cfg.path);
	if (check_state_dir(&cfg) == -1)
		return EX_CANTCREAT;
	/* Before the first thread: Landlock binds this one and its
	 * children. */
	if (cfg.sandbox && sandbox_files(&cfg, cfg.state_dir, err,
	    sizeof(err)) == -1) {
		log_warnx("%s", err);
		return EX_OSERR;
	}

	worker_init(2);
	dns_wait_init();	/* workers ask DNS through the loop */
	if (httpc_start() == -1)
		return EX_OSERR;
	auth_init();
	if (dns_init(&cfg, err, sizeof(err)) == -1 ||
	    accounts_init(cfg.state_dir, err, sizeof(err)) == -1 ||
	    archive_init(cfg.state_dir, err, sizeof(err)) == -1 ||
	    store_init(cfg.state_dir, err, sizeof(err)) == -1 ||
	    archive_start(err, sizeof(err)) == -1 ||
	    store_read_open(cfg.state_dir, err, sizeof(err)) == -1 ||
	    suppress_init(cfg.state_dir, err, sizeof(err)) == -1 ||
	    window_init(cfg.state_dir, err, sizeof(err)) == -1 ||
	    volume_init(cfg.state_dir, err, sizeof(err)) == -1 ||
	    pause_init(cfg.state_dir, err, sizeof(err)) == -1 ||
	    sts_init(cfg.state_dir, err, sizeof(err)) == -1 ||
	    alert_init(cfg.state_dir, err, sizeof(err)) == -1 ||
	    retpath_init(cfg.state_dir, err, sizeof(err)) == -1 ||
	    fbl_init(cfg.state_dir, err, sizeof(err)) == -1 ||
	    queue_init(err, sizeof(err)) == -1 ||
	    webhook_start(cfg.state_dir, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return EX_UNAVAILABLE;
	}
	timer_init(&poll_timer, poll_cb, NULL);
	timer_add(&poll_timer, 500);
	quarantine_start();
	alert_start();
	tls_report_start();
	timer_init(&stop_timer, stop_check, NULL);
	cluster_share_guard(authguard_block_ip, authguard_unblock_ip);
	authguard_share(cluster_authblock_publish, cluster_authblock_lift);
	cluster_share_pauses(pause_apply_shared, pause_lift_shared);
	pause_share(cluster_pause_publish, cluster_pause_lift);
	cluster_start(suppress_shared, metrics_report_stats);
	listeners_start();
	smarthost_start();
	control_start();
	if (metrics_http_start(err, sizeof(err)) == -1 ||
	    https_start(err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return EX_UNAVAILABLE;
	}
	gm.ready = 1;
	log_info("gwd %s ready: hostname=%s state_dir=%s relay=%s", GW_VERSION,
	    cfg.hostname, cfg.state_dir, cfg.relay.mode == RELAY_SMARTHOST ?
	    cfg.relay.host : "mx");
	/* Every thread is running: the filter goes on all of them. */
	if (cfg.sandbox && sandbox_syscalls(SANDBOX_NETWORK, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return EX_OSERR;
	}
	sd_notify("READY=1");
	sandbox_selftest();

	loop_run();

	/* Control clients still waiting (for a webhook test's answer, a
	 * commit) are let go: their on_close hooks drop what points at
	 * them, and nothing else would free them now the loop is over. */
	control_close_all();
	/* Requests in flight are abandoned first, so the webhooks' last
	 * acknowledgements reach the store before it stops. */
	httpc_stop();
	webhook_stop();
	store_shutdown();
	hookset_set(NULL, 0);	/* webhook_stop() left it to the store */
	archive_stop();
	store_read_close();
	dns_wait_shutdown();	/* a content scan waiting for DNS goes on */
	worker_shutdown();
	log_info("stopped");
	return 0;
}
