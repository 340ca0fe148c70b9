/*
 * dns_wait.h - DNS for a thread that is not the loop's: a worker (the
 * content scan's URI blocklist lookups) hands a batch of questions to
 * gwd's resolver (dns.c), which runs only on the loop, and waits for the
 * answers with a deadline.  The loop never waits for the worker: the
 * questions go to it through a waker, the answers come back under the
 * batch's lock, and a batch the worker gave up on (its deadline passed)
 * is freed by whichever side lets go of it last.
 */
#ifndef GW_DNS_WAIT_H
#define GW_DNS_WAIT_H

#include <stdint.h>

#include "dns.h"

struct dns_wait;

/* Once, on the loop thread, after loop_init(). */
void	 dns_wait_init(void);
/* gwd stops: every batch waiting is answered "tempfail" now. */
void	 dns_wait_shutdown(void);

/* Any thread but the loop's: a batch, its questions, then wait. */
struct dns_wait *dns_wait_new(void);
void	 dns_wait_add(struct dns_wait *, const char *name, uint16_t qtype);
/* Ask every question and wait at most timeout_ms for the answers:
 * returns how many are still unanswered (then "tempfail", why
 * "timeout"). */
int	 dns_wait_run(struct dns_wait *, int64_t timeout_ms);
/* The answer to question i (after dns_wait_run): its status, and for
 * DNS_OK the A/AAAA addresses in *addr (*naddr of them). */
enum dns_status dns_wait_result(const struct dns_wait *, int i,
	    const struct dns_addr **addr, int *naddr);
void	 dns_wait_free(struct dns_wait *);

#endif
