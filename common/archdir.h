/*
 * archdir.h - the compliance archive's directory (state_dir/archive):
 * its day files, named YYYYMMDD.gwa (archfile.h), and its anchor.  The
 * file-system side that gwd (writing) and gwctl (verifying, reading)
 * share.
 */
#ifndef GW_ARCHDIR_H
#define GW_ARCHDIR_H

#include <stddef.h>
#include <stdint.h>

#include "archfile.h"

typedef char archday_t[9];

/* The day files in dir, oldest first, into *days (malloc'd): how many,
 * 0 when dir does not exist, or -1 (errno). */
int	 archdir_days(const char *dir, archday_t **days);
/* dir/DAY.gwa, malloc'd. */
char	*archdir_path(const char *dir, const char *day);

/* A whole file mapped read-only (an empty one is p NULL, n 0).  0, or
 * -1 (errno). */
int	 archdir_map(const char *path, const uint8_t **p, size_t *n);
void	 archdir_unmap(const uint8_t *p, size_t n);

/* The anchor: 1 read, 0 there is none, -1 unreadable or malformed. */
int	 archdir_anchor_read(const char *dir, char day[9],
	    uint8_t prev[ARCH_HASH_LEN]);
/* Replace the anchor durably (a new file, synced, renamed over the old,
 * the directory synced).  0, or -1 (errno). */
int	 archdir_anchor_write(const char *dir, const char *day,
	    const uint8_t *prev);
/* fsync a directory: 0 or -1. */
int	 archdir_sync(const char *dir);

#endif
