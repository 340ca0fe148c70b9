/*
 * alert.h - alerts (gwctl alert; the rules are rows of gw.db's alert
 * table): evaluated every alerts.interval from the counters gwd keeps
 * (alertstat.h for rates and latency, the queue for its depth and
 * oldest message, volume.h for the volume anomaly), with hysteresis
 * (common/alertrule.h): an alert fires once its value stayed above the
 * threshold for its --for, and resolves once it stayed below the clear
 * level (alerts.resolve_ratio of the threshold, 90%) as long.  Each
 * firing and resolving is one audit event (alert_firing,
 * alert_resolved) and one notification to each target: mail through gw
 * itself (queue.h's notice, DKIM-signed as DSNs are), Slack's JSON for
 * https URLs, PagerDuty Events v2 (alert_http.c).  A volume anomaly
 * alert with --throttle also throttles the subaccount (pause.h).
 *
 * Which alerts fire is restored at start-up from the last event of each
 * in log.db (of the last alerts.volume_days periods... see alert.c), so
 * a restart neither repeats a firing notification nor forgets to
 * resolve, and PagerDuty's dedup_key stays the same.
 */
#ifndef GW_ALERT_H
#define GW_ALERT_H

#include <stddef.h>

struct buf;
struct conn;

/* After accounts_init() and volume_init(): the rules from gw.db, the
 * firing ones from log.db. */
int	 alert_init(const char *state_dir, char *err, size_t errsz);
/* Start evaluating (on the loop). */
void	 alert_start(void);
/* gw_alert_firing{alert="NAME"} 0|1 for /metrics. */
void	 alert_prometheus(struct buf *);
/* "alerts_firing N" and one "alert_firing.NAME 1" per firing alert, for
 * the control socket's stats (gwtop's header). */
void	 alert_stats(struct buf *);
/* Control socket: "alert test NAME" (the text after "alert "). */
void	 alert_control(struct conn *, const char *args);

#endif
