/*
 * archdir.c - the compliance archive's directory (archdir.h).
 * Exposure: reads a directory and files that someone with write access
 * may have changed; names that are not eight digits and ".gwa" are
 * ignored, and the anchor is parsed strictly (archfile.c).
 * Diagnostics: never dies; -1 with errno set.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archdir.h"
#include "util.h"

static int
day_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

int
archdir_days(const char *dir, archday_t **days)
{
	DIR *d;
	struct dirent *e;
	archday_t *v = NULL;
	size_t n = 0, cap = 0;

	*days = NULL;
	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d)) != NULL) {
		if (strlen(e->d_name) != 12 || strcmp(e->d_name + 8, ".gwa"))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		memcpy(v[n], e->d_name, 8);
		v[n][8] = '\0';
		if (archfile_day_valid(v[n]))
			n++;
	}
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof(*v), day_cmp);
	*days = v;
	return (int)n;
}

char *
archdir_path(const char *dir, const char *day)
{
	return xasprintf("%s/%s.gwa", dir, day);
}

int
archdir_map(const char *path, const uint8_t **p, size_t *n)
{
	struct stat st;
	void *m;
	int fd;

	*p = NULL;
	*n = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return -1;
	}
	if (st.st_size == 0) {
		close(fd);
		return 0;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -1;
	*p = m;
	*n = (size_t)st.st_size;
	return 0;
}

void
archdir_unmap(const uint8_t *p, size_t n)
{
	if (p)
		munmap((void *)p, n);
}

int
archdir_anchor_read(const char *dir, char day[9], uint8_t prev[ARCH_HASH_LEN])
{
	char *path = xasprintf("%s/anchor", dir), s[ARCH_ANCHOR_MAX];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	n = read(fd, s, sizeof(s));
	close(fd);
	if (n <= 0 || archfile_anchor_parse(s, (size_t)n, day, prev) == -1) {
		errno = EINVAL;
		return -1;
	}
	return 1;
}

int
archdir_sync(const char *dir)
{
	int fd, r;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int
archdir_anchor_write(const char *dir, const char *day, const uint8_t *prev)
{
	char s[ARCH_ANCHOR_MAX], *tmp, *path;
	size_t len;
	int fd, r = -1;

	if (archfile_anchor_format(day, prev, s, sizeof(s)) == -1) {
		errno = EINVAL;
		return -1;
	}
	len = strlen(s);
	tmp = xasprintf("%s/anchor.new", dir);
	path = xasprintf("%s/anchor", dir);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) !=
	    -1) {
		if (write(fd, s, len) == (ssize_t)len && fsync(fd) == 0 &&
		    close(fd) == 0) {
			fd = -1;
			if (rename(tmp, path) == 0 && archdir_sync(dir) == 0)
				r = 0;
		}
		if (fd != -1)
			close(fd);
	}
	free(tmp);
	free(path);
	return r;
}
