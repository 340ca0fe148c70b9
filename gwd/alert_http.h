/*
 * alert_http.h - alert notifications over HTTP (httpc.h): Slack's
 * incoming-webhook JSON ({"text": SUMMARY}) to an http(s) URL, or a
 * PagerDuty Events API v2 event to alerts.pagerduty_url: trigger when
 * the alert fires, resolve when it resolves, with the same dedup_key.
 * A notification that gets no 2xx is tried again after 5 s, 10 s, 20 s,
 * 40 s, then dropped (logged); none is kept across a restart.
 */
#ifndef GW_ALERT_HTTP_H
#define GW_ALERT_HTTP_H

#include "alertrule.h"

/* On the loop: the reply to one request ("HTTP 200", "HTTP 500: ...",
 * "failed: why"); ok when 2xx. */
typedef void alert_http_done_fn(void *arg, const char *target, int ok,
    const char *result);

/*
 * Send the notification of alert `name` to target (kind AT_WEBHOOK: the
 * URL; AT_PAGERDUTY: the routing key).  With done, one try and done()
 * with its reply (alert test); without, tried again as said above.
 */
void	 alert_http_send(enum alert_target_kind, const char *target,
	    const char *name, const char *summary, const char *dedup,
	    int fired, alert_http_done_fn *done, void *arg);

#endif
