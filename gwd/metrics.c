/*
 * metrics.c - gwd's live counters (metrics.h): one struct, counted by
 * the modules that see the events, read by metrics_report.c.  It needs
 * nothing, so every module may count without depending on the reports
 * that read the queue.
 * Exposure: none.
 * Diagnostics: none.
 */
#include "metrics.h"

struct gw_metrics gm;
