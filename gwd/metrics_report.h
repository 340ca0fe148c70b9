/*
 * metrics_report.h - every figure of gwd at once, for the control
 * socket's `stats` (control.c) and for /metrics (metrics_http.c).
 */
#ifndef GW_METRICS_REPORT_H
#define GW_METRICS_REPORT_H

struct buf;

/* "name value" lines, one per figure. */
void	 metrics_report_stats(struct buf *);
/* Prometheus text (version 0.0.4), with the IP pools' figures. */
void	 metrics_report_prometheus(struct buf *);

#endif
