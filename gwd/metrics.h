/*
 * metrics.h - gwd's live counters (metrics.c), and the two ways out:
 * the control socket (`stats`, for gwtop and scripts; control.c) and an
 * optional HTTP listener with Prometheus text at /metrics and a
 * liveness check at /health (metrics_http.c); metrics_report.c writes
 * both.
 *
 * Counters are only touched on the main thread: no atomics.
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stdint.h>

struct gw_metrics {
	int64_t		 started_us;	/* unix microseconds */
	uint64_t	 sessions_total;
	int		 sessions_current;
	uint64_t	 messages_received_total;
	uint64_t	 bytes_received_total;
	uint64_t	 recipients_received_total;
	uint64_t	 messages_rejected_total;	/* refused after DATA */
	uint64_t	 auth_failures_total;
	uint64_t	 auth_checks_total;	/* passwords hashed (scrypt) */
	uint64_t	 auth_busy_total;	/* 454: the check queue full */
	uint64_t	 memory_closed_total;	/* sessions, limits.memory */
	uint64_t	 delivered_total;	/* per recipient */
	uint64_t	 deferred_total;
	uint64_t	 bounced_total;
	uint64_t	 expired_total;
	uint64_t	 dsn_total;
	uint64_t	 dkim_signed_total;
	uint64_t	 dkim_unsigned_total;
	int		 stopping;
	int		 ready;		/* listening, the queue recovered */
};

extern struct gw_metrics gm;

#endif
