/*
 * alertstat.h - the rates alerts watch, over the last alerts.window
 * (15 minutes): per recipient outcome (delivered, bounced or expired,
 * hard bounces, deferred attempts), complaints, and the latency of each
 * delivery, for all mail and for each subaccount and recipient domain an
 * alert names (alertstat_watch).  Kept in 60 slots of a sixtieth of the
 * window each: a rate moves in steps of that, never jumps at once.
 * Not kept across a restart: the rates start again from nothing, and
 * alerts.min_outcomes stops the first few outcomes from firing one.
 * gwd's own mail (DSNs, alert notices) is not counted.
 */
#ifndef GW_ALERTSTAT_H
#define GW_ALERTSTAT_H

#include <stdint.h>

#include "alertrule.h"
#include "metrics.h"

void	 alertstat_init(int64_t window_ms);
/* Count for this scope from now on: "s:SUBACCOUNT" or "d:DOMAIN". */
void	 alertstat_watch(const char *scope);
/* A recipient's attempt ended (result as metrics.h counts it). */
void	 alertstat_outcome(const char *subaccount, const char *rcpt,
	    enum gm_result, enum bounce_class, int64_t received_us,
	    int64_t now_us);
void	 alertstat_complaint(const char *subaccount, const char *rcpt,
	    int64_t now_us);
/*
 * The value of a rate metric (bounce_rate, hard_bounce_rate,
 * complaint_rate, deferral_rate: percent; latency_p95: seconds, the
 * upper bound of the latency histogram's bucket the 95th percentile
 * falls in) for scope (NULL: all mail).  A scope with fewer than
 * min_outcomes outcomes (attempts, for the deferral rate; deliveries,
 * for latency) in the window has no value: NAN (alert_step() then
 * keeps the state: an alert neither fires nor resolves on too little).
 */
double	 alertstat_value(const char *scope, enum alert_metric,
	    int min_outcomes, int64_t now_us);

#endif
