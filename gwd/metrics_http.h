/*
 * metrics_http.h - the metrics listener: /metrics and /health over HTTP
 * (on http.c's MHD).
 */
#ifndef GW_METRICS_HTTP_H
#define GW_METRICS_HTTP_H

#include <stddef.h>

/* Bind metrics.listen when configured, before privileges are dropped:
 * -1 with err.  Then serve it from the loop (-1 with err). */
int	 metrics_http_bind(char *err, size_t errsz);
int	 metrics_http_start(char *err, size_t errsz);

#endif
