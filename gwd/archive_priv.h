/*
 * archive_priv.h - what the archive thread (archive.c) tells the store
 * thread's side (archive_store.c).
 */
#ifndef GW_ARCHIVE_PRIV_H
#define GW_ARCHIVE_PRIV_H

#include <stdint.h>

#include "archfile.h"

/* The last record synced to the day file, and, unless hash is NULL,
 * its hash: the rows up to it may be deleted from queue.db. */
int64_t	 archive_synced(uint8_t hash[ARCH_HASH_LEN]);

#endif
