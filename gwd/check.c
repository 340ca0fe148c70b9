/*
 * check.c - gwd -n: what would stop gwd at start, found without starting
 * it.  Every problem is reported, each with the file, the line of the
 * setting (none for a default) and the setting's name:
 *
 *   gwd: /etc/gw/gwd.conf:7: tls.key: /etc/gw/key.pem: Permission denied
 *   gwd: /etc/gw/gwd.conf:2: state_dir: user "gw" cannot reach
 *       /srv/gw/state: no search permission on /srv/gw
 *
 * SECURITY: run as root, it forks a child that becomes `user` to try the
 * state directory with that user's rights; the child only calls
 * access(2) and exits.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "check.h"
#include "config.h"
#include "log.h"
#include "tls.h"
#include "util.h"

static int nproblems;

static void
check_err(const struct gw_config *cfg, const char *setting, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
check_err(const struct gw_config *cfg, const char *setting, const char *fmt,
    ...)
{
	int line = setting ? config_line(cfg, setting) : 0;
	char msg[6144], where[32] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(where, sizeof(where), ":%d", line);
	fprintf(stderr, "%s: %s%s: %s%s%s\n", log_progname(), cfg->path, where,
	    setting ? setting : "", setting ? ": " : "", msg);
	nproblems++;
}

/* A file gwd reads at start, as the user running -n (root: as gwd). */
static int
check_readable(const struct gw_config *cfg, const char *setting,
    const char *path)
{
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		check_err(cfg, setting, "%s: %s", path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

static void
check_tls(const struct gw_config *cfg)
{
	struct stat st;
	char err[512];
	SSL_CTX *ctx;

	if (cfg->nlisten > 0 && cfg->tls.certificate && cfg->tls.key) {
		if (cfg->tls.self_signed &&
		    stat(cfg->tls.certificate, &st) == -1 && errno == ENOENT &&
		    stat(cfg->tls.key, &st) == -1 && errno == ENOENT)
			printf("%s: tls.certificate %s will be made on first "
			    "start\n", log_progname(), cfg->tls.certificate);
		else if ((check_readable(cfg, "tls.certificate",
		    cfg->tls.certificate) | check_readable(cfg, "tls.key",
		    cfg->tls.key)) == 0) {
			if ((ctx = tls_server_ctx(cfg, err, sizeof(err))) ==
			    NULL)
				check_err(cfg, "tls.certificate", "%s", err);
			SSL_CTX_free(ctx);
		}
	}
	/* The CA store for delivery (relay.ca_file, relay.ca_dir). */
	if ((ctx = tls_client_ctx(cfg, err, sizeof(err))) == NULL)
		check_err(cfg, cfg->relay.ca_file ? "relay.ca_file" :
		    cfg->relay.ca_dir ? "relay.ca_dir" : NULL, "%s", err);
	SSL_CTX_free(ctx);
}

/*
 * In the child, as the user gwd will run as: can it reach and write
 * state_dir?  When state_dir does not exist yet, gwd (as root) makes
 * it; then the user needs to reach the part that exists.
 */
static int
check_dir_as_user(const char *dir, int made_by_root, char *why,
    size_t whysz)
{
	char path[4096], *p;
	struct stat st;

	if (gw_strlcpy(path, dir, sizeof(path)) >= sizeof(path)) {
		snprintf(why, whysz, "path too long");
		return -1;
	}
	/* Every existing ancestor must let the user through. */
	for (p = path + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (stat(path, &st) == -1) {
			*p = '/';
			break;
		}
		if (access(path, X_OK) == -1) {
			snprintf(why, whysz, "no search permission on %s", path);
			return -1;
		}
		*p = '/';
	}
	if (stat(dir, &st) == -1) {
		if (errno != ENOENT) {
			snprintf(why, whysz, "%s", strerror(errno));
			return -1;
		}
		if (made_by_root)
			return 0;
		/* Made by this user: the deepest existing parent must be
		 * writable. */
		while ((p = strrchr(path, '/')) != NULL && p != path) {
			*p = '\0';
			if (stat(path, &st) == 0)
				break;
		}
		if (p == path)
			gw_strlcpy(path, "/", sizeof(path));
		if (access(path, W_OK | X_OK) == -1) {
			snprintf(why, whysz, "cannot create it in %s: %s",
			    path, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, whysz, "not a directory");
		return -1;
	}
	if (access(dir, R_OK | W_OK | X_OK) == -1) {
		snprintf(why, whysz, "%s", strerror(errno));
		return -1;
	}
	return 0;
}

/* check_dir_as_user() in a child that becomes `user`; its reason comes
 * back through a pipe. */
static int
check_dir_forked(const char *user, const char *dir, char *why, size_t whysz)
{
	const char *errstr = "";
	int fds[2], status, r;
	ssize_t n;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	if (pipe2(fds, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
		snprintf(why, whysz, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		if (drop_privileges(user, &errstr) == -1)
			snprintf(why, whysz, "cannot become that user: %s",
			    errstr);
		else if (check_dir_as_user(dir, 1, why, whysz) == 0)
			_exit(0);
		r = write(fds[1], why, strlen(why));
		_exit(r >= 0 ? 1 : 2);
	}
	close(fds[1]);
	n = read(fds[0], why, whysz - 1);
	why[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (why[0] == '\0')
		snprintf(why, whysz, "the check failed");
	return -1;
}

static void
check_state_dir(const struct gw_config *cfg)
{
	const char *user = cfg->user && *cfg->user ? cfg->user : NULL;
	char why[4608] = "";

	if (geteuid() != 0) {
		if (check_dir_as_user(cfg->state_dir, 0, why, sizeof(why)) ==
		    -1)
			check_err(cfg, "state_dir", "uid %d cannot use %s: %s",
			    (int)geteuid(), cfg->state_dir, why);
	} else if (user != NULL && check_dir_forked(user, cfg->state_dir, why,
	    sizeof(why)) == -1)
		check_err(cfg, "state_dir", "user \"%s\" cannot use %s: %s",
		    user, cfg->state_dir, why);
}

void
check_hostname(const struct gw_config *cfg)
{
	int line = config_line(cfg, "hostname");
	char where[32] = "";

	if (config_hostname_fqdn(cfg->hostname))
		return;
	if (line > 0)
		snprintf(where, sizeof(where), ":%d", line);
	log_warnx("%s%s: warning: hostname \"%s\"%s is not a fully qualified "
	    "domain name; gwd gives it in EHLO to other mail servers, which "
	    "may refuse it (set hostname = \"mail.example.com\")", cfg->path,
	    where, cfg->hostname, line > 0 ? "" : " (the system's name)");
}

int
check_config(const struct gw_config *cfg, int verbose)
{
	uid_t u;
	gid_t g;

	nproblems = 0;
	check_tls(cfg);
	if (cfg->user && *cfg->user && lookup_user(cfg->user, &u, &g) == -1)
		check_err(cfg, "user", "no such user \"%s\"", cfg->user);
	else
		check_state_dir(cfg);
	if (nproblems > 0)
		return EX_CONFIG;
	check_hostname(cfg);
	if (verbose)
		config_print(stdout, cfg);
	printf("%s: configuration OK\n", log_progname());
	return 0;
}
