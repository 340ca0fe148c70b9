// sources: gwd/sandbox.c
/*
 * test_sandbox_paths.c - every file gwd.conf can name is reachable under
 * the sandbox, and nothing beside it.
 *
 * The option table (common/config.c) is the one list of path settings;
 * the sandbox walks it (config_each_path).  This test takes the setting
 * names from config_print, so a new row is covered without a line here:
 *   - a setting whose name says it is a file ("*_file", "*_dir", "*.key",
 *     "*certificate", "*blocklist", "*socket") must be a path setting;
 *   - with every path setting pointed at its own directory under /tmp
 *     (outside every directory the sandbox allows by default), a child
 *     that has called sandbox_files() reads each file (writes in each
 *     writable directory, binds the control socket) and cannot read a
 *     file next to them.
 * Skipped when the kernel has no Landlock.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/landlock.h>

#include "config.h"
#include "sandbox.h"

#define MAXNAMES	512

static char	 tmp[64];
static char	*names[MAXNAMES];
static int	 nnames;

static void
put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Every setting name, from what `gwd -n -v` prints. */
static void
setting_names(void)
{
	struct gw_config cfg;
	char path[128], *text = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/empty.conf", tmp);
	put(path, "");
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(config_load(path, &cfg), 0);
	assert_non_null(f = open_memstream(&text, &len));
	config_print(f, &cfg);
	fclose(f);
	config_free(&cfg);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		size_t n = strcspn(line, " =");

		if (line[0] == '#' || strncmp(line, "listen ", 7) == 0)
			continue;
		assert_true(nnames < MAXNAMES);
		names[nnames++] = strndup(line, n);
	}
	free(text);
	assert_true(nnames > 50);
}

static int
ends(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void
test_file_settings_are_paths(void **state)
{
	static const char *const filey[] = { "_file", "_dir", ".key",
	    "certificate", "blocklist", "socket" };
	int paths = 0;

	(void)state;
	for (int i = 0; i < nnames; i++) {
		int use = config_path_use(names[i]);

		paths += use >= 0;
		for (size_t j = 0; j < sizeof(filey) / sizeof(*filey); j++)
			if (ends(names[i], filey[j]) && use < 0)
				fail_msg("%s names a file but is no path "
				    "setting (O_PATH in config.c)", names[i]);
	}
	assert_true(paths >= 10);
}

/* The file (or directory) a path setting of this use is pointed at. */
static void
make_target(const char *name, int use, char *out, size_t size)
{
	char dir[256], file[600];

	snprintf(dir, sizeof(dir), "%s/%s", tmp, name);
	assert_int_equal(mkdir(dir, 0700), 0);
	switch (use) {
	case CONFIG_PATH_READ:
		snprintf(out, size, "%s/f", dir);
		put(out, "x");
		break;
	case CONFIG_PATH_READ_DIR:
		snprintf(out, size, "%s/d", dir);
		assert_int_equal(mkdir(out, 0700), 0);
		snprintf(file, sizeof(file), "%s/f", out);
		put(file, "x");
		break;
	case CONFIG_PATH_RW:
		snprintf(out, size, "%s/d", dir);
		assert_int_equal(mkdir(out, 0700), 0);
		break;
	case CONFIG_PATH_SOCKET:
		snprintf(out, size, "%s/sock", dir);
		break;
	default:
		fail_msg("%s: unknown use %d", name, use);
	}
}

/*
 * gwd.conf text setting each path setting (name[i], one dot at most) to
 * value[i], a group's members in one group.
 */
static void
conf_write(FILE *f, char *const *name, char *const *value, int n)
{
	for (int i = 0; i < n; i++) {
		const char *dot = strchr(name[i], '.');
		size_t g;
		int seen = 0;

		if (dot == NULL) {
			fprintf(f, "%s = \"%s\";\n", name[i], value[i]);
			continue;
		}
		assert_null(strchr(dot + 1, '.'));
		g = (size_t)(dot - name[i]) + 1;	/* "tls." */
		for (int j = 0; j < i && !seen; j++)
			seen = strncmp(name[j], name[i], g) == 0;
		if (seen)
			continue;
		fprintf(f, "%.*s = {\n", (int)g - 1, name[i]);
		for (int j = i; j < n; j++)
			if (strncmp(name[j], name[i], g) == 0)
				fprintf(f, "  %s = \"%s\";\n", name[j] + g,
				    value[j]);
		fprintf(f, "};\n");
	}
}

/* In the sandboxed child: can gwd do there what the setting is for? */
static int
probe(void *arg, const char *name, const char *path,
    enum config_path_use use)
{
	int *bad = arg, fd = -1, ok = 0;
	struct sockaddr_un sun;
	char file[512];

	switch (use) {
	case CONFIG_PATH_READ:
		ok = (fd = open(path, O_RDONLY)) != -1;
		break;
	case CONFIG_PATH_READ_DIR:
		snprintf(file, sizeof(file), "%s/f", path);
		ok = (fd = open(file, O_RDONLY)) != -1;
		break;
	case CONFIG_PATH_RW:
		snprintf(file, sizeof(file), "%s/new", path);
		ok = (fd = open(file, O_RDWR | O_CREAT, 0600)) != -1;
		break;
	case CONFIG_PATH_SOCKET:
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		ok = fd != -1 && bind(fd, (struct sockaddr *)&sun,
		    sizeof(sun)) == 0;
		break;
	}
	if (!ok) {
		fprintf(stderr, "sandboxed: %s = %s: %s\n", name, path,
		    strerror(errno));
		(*bad)++;
	}
	if (fd != -1)
		close(fd);
	return 0;
}

static void
test_every_path_reachable(void **state)
{
	char conf[128], outside[128], err[512], *pname[MAXNAMES],
	    *pvalue[MAXNAMES];
	struct gw_config cfg;
	int st, paths = 0;
	pid_t pid;
	FILE *f;

	(void)state;
	if (syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION) < 1)
		skip();
	snprintf(conf, sizeof(conf), "%s/gwd.conf", tmp);
	for (int i = 0; i < nnames; i++) {
		int use = config_path_use(names[i]);

		if (use < 0)
			continue;
		pname[paths] = names[i];
		pvalue[paths] = malloc(512);
		make_target(names[i], use, pvalue[paths], 512);
		paths++;
	}
	assert_non_null(f = fopen(conf, "w"));
	conf_write(f, pname, pvalue, paths);
	fclose(f);
	for (int i = 0; i < paths; i++)
		free(pvalue[i]);
	snprintf(outside, sizeof(outside), "%s/secret", tmp);
	put(outside, "x");
	memset(&cfg, 0, sizeof(cfg));
	/* Errors of sense (a CA file that is no PEM...) do not matter:
	 * every value is set all the same. */
	config_load(conf, &cfg);
	if ((pid = fork()) == 0) {
		int bad = 0;

		if (sandbox_files(&cfg, cfg.state_dir, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			_exit(100);
		}
		config_each_path(&cfg, probe, &bad);
		if (open(outside, O_RDONLY) != -1 || errno != EACCES) {
			fprintf(stderr, "sandboxed: %s readable\n", outside);
			bad++;
		}
		_exit(bad);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_true(paths >= 10);
	config_free(&cfg);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/gw-sbx.XXXXXX");
	if (mkdtemp(tmp) == NULL)
		return -1;
	setting_names();
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	for (int i = 0; i < nnames; i++)
		free(names[i]);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_settings_are_paths),
		cmocka_unit_test(test_every_path_reachable),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
