/*
 * window.h - per-subaccount counts over the last day, by the minute:
 * accepted messages (the quotas) and final delivery outcomes (the
 * bounce rate that pauses a subaccount).
 *
 * Seeded at start-up from log.db's events of the last 24 hours, so a
 * restart keeps them.  Accepted messages and delivery outcomes include
 * a client's mail with the null sender (its DSNs); neither counts the
 * DSNs gwd makes.
 */
#ifndef GW_WINDOW_H
#define GW_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#define WIN_HOUR	60		/* minutes */
#define WIN_DAY		1440

enum win_counter {
	WIN_ACCEPTED,		/* messages accepted (250 after DATA) */
	WIN_FINAL,		/* recipients delivered, bounced or expired */
	WIN_BOUNCED,		/* recipients bounced (an async bounce,
				   after delivery, counts in WIN_FINAL
				   again, as its event does at start-up) */
	WIN_COMPLAINED,		/* abuse reports matched to a recipient */
	WIN_NCOUNTERS
};

int	 window_init(const char *state_dir, char *err, size_t errsz);
void	 window_add(const char *subaccount, enum win_counter, int64_t ts_us,
	    int delta);
/* The count of the `minutes` minutes up to and including now's. */
int64_t	 window_sum(const char *subaccount, enum win_counter, int64_t now_us,
	    int minutes);
/* Forget what the counter holds up to ts_us (a fresh start), to the
 * minute: counts of ts_us's own minute go too. */
void	 window_forget(const char *subaccount, enum win_counter, int64_t ts_us);

#endif
