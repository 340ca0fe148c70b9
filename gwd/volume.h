/*
 * volume.h - how many messages each subaccount sent, per bucket of
 * alerts.volume_bucket (5 minutes), over alerts.volume_days (7) periods
 * of alerts.volume_period (a day): the history the volume anomaly alert
 * compares the last bucket with (common/alertrule.h, vol_baseline()).
 *
 * Derived from log.db at start-up, not kept anywhere of its own: each
 * message a client sent already has a "received" event with its time
 * and subaccount, in the index event_window, so one index-only scan
 * rebuilds the history, nothing is added to the commit of each message,
 * and the history is exactly the audit trail's (log.retention_days
 * shorter than the history shortens it; gwd(8) says so).  DSNs gwd
 * makes are not counted (no client).
 */
#ifndef GW_VOLUME_H
#define GW_VOLUME_H

#include <stddef.h>
#include <stdint.h>

struct vol_baseline;

int	 volume_init(const char *state_dir, char *err, size_t errsz);
/* A message of the subaccount accepted at ts_us (delta 1), or one
 * counted that was not stored after all (-1). */
void	 volume_add(const char *subaccount, int64_t ts_us, int delta);
/* Messages in the bucket of now so far, and in the bucket before. */
uint32_t volume_now(const char *subaccount, int64_t now_us, uint32_t *prev);
/* The baseline for the bucket of now: 0, or -1 when history does not
 * yet cover one span of a previous period. */
int	 volume_baseline_of(const char *subaccount, int64_t now_us,
	    struct vol_baseline *);
/* The bucket length, in µs. */
int64_t	 volume_bucket_us(void);

#endif
