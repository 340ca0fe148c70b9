/*
 * pause.h - subaccounts gwd pauses when too much of their mail bounces.
 *
 * Over the last 24 hours (window.h), once a subaccount has at least
 * limits.bounce_pause_minimum final outcomes (delivered, bounced,
 * expired recipients) and more than limits.bounce_pause_percent of them
 * bounced, gwd pauses it: MAIL gets 451 4.7.1 until an admin resumes it
 * (gwctl subaccount resume, over the control socket).  Mail already
 * queued is still delivered.  The paused state is gwd's, in queue.db.
 * Complaints (abuse reports through the feedback listener, fbl.c) pause
 * the same way: at least limits.complaint_pause_minimum final outcomes
 * and more than limits.complaint_pause_percent of them complained of.
 */
#ifndef GW_PAUSE_H
#define GW_PAUSE_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct store_op;

/* After window_init(): the paused subaccounts from queue.db. */
int	 pause_init(const char *state_dir, char *err, size_t errsz);
/* A recipient of the subaccount's mail reached its end (bounced or
 * not) at ts_us; may pause the subaccount, with op. */
void	 pause_outcome(struct store_op *, const char *subaccount, int bounced,
	    int64_t ts_us);
/* A recipient of the subaccount's mail complained at ts_us; may pause
 * the subaccount, with op. */
void	 pause_complaint(struct store_op *, const char *subaccount,
	    int64_t ts_us);
/*
 * A volume anomaly alert with --throttle (alert.c): the subaccount keeps
 * sending up to limit messages per volume bucket (volume.h); beyond, MAIL
 * gets 451 4.7.1, until an admin resumes it as a paused one.  Kept in
 * queue.db's subaccount_pause as paused = PAUSE_THROTTLED + limit (a
 * gwd that predates throttling reads that as paused: the safe side).
 * Nothing when the subaccount is paused or throttled already.
 */
#define PAUSE_THROTTLED	2
void	 pause_throttle(struct store_op *, const char *subaccount,
	    uint32_t limit, int64_t ts_us, const char *reason);
/* NULL, or the 451 refusal for MAIL (in buf) when paused, or throttled
 * and over its limit. */
const char *pause_check(const char *subaccount, char *buf, size_t bufsz);
/* Control socket: "subaccount resume NAME" (the text after
 * "subaccount "). */
void	 pause_control(struct conn *, const char *args);
/* Why the subaccount is paused, or NULL when it is not. */
const char *pause_reason(const char *subaccount);

/*
 * Cluster mode (gwd/cluster_shared.c, wired by main.c so that neither
 * module depends on the other): paused is told of each pause this
 * node makes for a bounce or complaint rate, resumed of each resume an
 * administrator asks here; pause_apply_shared() pauses a subaccount
 * another node paused (in memory: the cluster keeps it), and
 * pause_lift_shared() resumes one the cluster no longer has paused
 * (stored, with its event).
 */
void	 pause_share(void (*paused)(const char *sub, const char *reason),
	    void (*resumed)(const char *sub));
void	 pause_apply_shared(const char *sub, const char *reason);
void	 pause_lift_shared(const char *sub);

#endif
