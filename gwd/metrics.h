/*
 * metrics.h - gwd's live counters (metrics.c), and the two ways out:
 * the control socket (`stats`, for gwtop and scripts; control.c) and an
 * optional HTTP listener with Prometheus text at /metrics and a
 * liveness check at /health (metrics_http.c, on http.c's
 * libmicrohttpd); metrics_report.c writes both.
 *
 * The counters of struct gw_metrics are only touched on the main
 * thread: plain increments, no atomics.  The histograms are also fed by
 * the store thread (commit latency): their buckets are atomics, added
 * to with relaxed order, so no lock is ever taken for a message.
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "bounce.h"

/*
 * Why a client was refused, at which stage: one row each in
 * metrics_report.c's table (stage and reason labels of
 * gw_rejections_total).  Refusals of bad syntax or command order
 * (5.5.x) are protocol errors, not counted here.
 */
enum gm_reject {
	REJ_MAIL_TLS,		/* 530: STARTTLS first */
	REJ_MAIL_AUTH,		/* 530: not authenticated */
	REJ_MAIL_DISABLED,	/* the subaccount is disabled or gone */
	REJ_MAIL_SIZE,		/* SIZE= over limits.message_size */
	REJ_MAIL_STORAGE,	/* 452: the disk is short */
	REJ_MAIL_SENDER,	/* sender domain not the subaccount's */
	REJ_MAIL_PAUSED,	/* bounce rate (pause.h) */
	REJ_MAIL_QUOTA,
	REJ_RCPT_LITERAL,	/* an address literal */
	REJ_RCPT_SUPPRESSION,
	REJ_RCPT_LIMIT,		/* limits.recipients; one for <> */
	REJ_RCPT_POLICY,	/* a routing rule rejects */
	REJ_DATA_MEMORY,	/* limits.memory at DATA */
	REJ_DATA_CONTENT,	/* bare CR/LF, NUL, long lines, too big */
	REJ_DATA_HEADERS,	/* mail loop, no From, author domains */
	REJ_DATA_QUOTA,
	REJ_DATA_POLICY,	/* a routing rule rejects */
	REJ_DATA_CONTENT_POLICY, /* a content policy blocks, or the scan
				 * cannot run (failed, too many waiting) */
	REJ_DATA_STORAGE,	/* the commit failed, or no memory */
	REJ_DATA_DKIM,		/* signing failed */
	REJ_COUNT
};

/* Why a PROXY header was refused: the reason label of
 * gw_proxy_refused_total (proxy_accept.c). */
enum gm_proxy {
	GM_PROXY_UNTRUSTED,	/* the peer is not in trusted_proxies */
	GM_PROXY_MALFORMED,
	GM_PROXY_MISSING,	/* closed or silent before a whole one */
	GM_PROXY_COUNT
};

/* Delivery results: the result label of gw_deliveries_total. */
enum gm_result {
	GM_DELIVERED,
	GM_DEFERRED,
	GM_BOUNCED,
	GM_EXPIRED,
	GM_NRESULTS
};

/*
 * Prometheus histograms: observations in microseconds against fixed
 * upper bounds (metrics.c's, in seconds).  counts[i] is the
 * observations of bucket i alone (not cumulative; the last is +Inf).
 */
enum gm_hist_id {
	GM_HIST_DELIVERY,	/* acceptance to delivery, per recipient */
	GM_HIST_COMMIT,		/* one queue.db commit, its fsync */
	GM_NHISTS
};
#define GM_HIST_MAX	16
struct gm_hist {
	_Atomic uint64_t counts[GM_HIST_MAX];
	_Atomic uint64_t sum_us;
};

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
	uint64_t	 proxy_refused[GM_PROXY_COUNT];
	/* per recipient, by result and bounce class (BC_NONE: delivered) */
	uint64_t	 deliveries[GM_NRESULTS][BC_COUNT];
	uint64_t	 dsn_total;
	/* The feedback listener (fbl.c): reports by verdict (matched,
	 * nothing, unmatched, forged, unreadable), and what matched. */
	uint64_t	 feedback_reports_total[5];
	uint64_t	 complaints_total;
	uint64_t	 async_bounces_total;
	uint64_t	 dkim_signed_total;
	uint64_t	 dkim_unsigned_total;
	uint64_t	 rejections[REJ_COUNT];
	/* MTA-STS (sts.c): _mta-sts TXT lookups asked of the DNS and
	 * answered from the cache; policy fetches started, failed, and
	 * not started because the last one of that id failed recently. */
	uint64_t	 sts_txt_queries_total;
	uint64_t	 sts_txt_cache_hits_total;
	uint64_t	 sts_fetches_total;
	uint64_t	 sts_fetch_failures_total;
	uint64_t	 sts_fetch_backoff_total;
	struct gm_hist	 hist[GM_NHISTS];
	int		 stopping;
	int		 ready;		/* listening, the queue recovered */
};

extern struct gw_metrics gm;

/* Per-subaccount counters: messages accepted, recipients delivered and
 * bounced (expired included), the subaccount's own mail only. */
enum gm_sub_counter {
	GM_SUB_ACCEPTED,
	GM_SUB_DELIVERED,
	GM_SUB_BOUNCED,
	GM_SUB_COMPLAINED,	/* abuse reports matched (fbl.c) */
	GM_SUB_NCOUNTERS
};

static inline void
metrics_reject(enum gm_reject r)
{
	gm.rejections[r]++;
}

/* Add one observation of us microseconds (any thread). */
void	 metrics_observe(enum gm_hist_id, int64_t us);
/* The histogram's upper bounds, seconds, ascending; how many (fewer
 * than GM_HIST_MAX: the last bucket is +Inf). */
int	 metrics_hist_bounds(enum gm_hist_id, const double **);
/* One recipient's attempt ended: counted by result and class, and for
 * its subaccount (NULL: not the subaccount's mail, e.g. a DSN);
 * delivered ones add their latency since acceptance (received_us). */
void	 metrics_delivery(const char *subaccount, enum gm_result,
	    enum bounce_class, int64_t received_us);
/* Add n to the subaccount's counter c (main thread; NULL or "": none). */
void	 metrics_sub_add(const char *subaccount, enum gm_sub_counter c,
	    uint64_t n);
/* Each subaccount counted since start, with its counters. */
void	 metrics_sub_foreach(void (*fn)(const char *name,
	    const uint64_t *counts, void *), void *arg);
/* Recipients by result, all classes summed. */
uint64_t metrics_result_total(enum gm_result);

#endif
