/*
 * dns_wait.c - the resolver asked from a worker thread, waited for with
 * a deadline.
 * Exposure: none beyond dns.c's; names are the caller's.
 * Diagnostics: none; an unanswered question is "tempfail" with why
 * "timeout" (the caller logs).
 * Locking: inbox_mtx guards the inbox and the list of batches in
 * flight; each batch's mtx guards its answers, refs and pending.  The
 * loop thread never holds a batch's lock while it waits for anything.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns_wait.h"
#include "loop.h"
#include "util.h"

struct dns_wait_q {
	struct dns_wait		*owner;
	char			 name[DNS_NAME_MAX + 2];
	uint16_t		 qtype;
	int			 done;
	enum dns_status		 status;
	int			 naddr;
	struct dns_addr		 addr[DNS_MAX_ADDR];
};

struct dns_wait {
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;
	int			 refs;		/* the asker's, the loop's */
	int			 pending;	/* asked, not answered */
	int			 abandoned;	/* the asker stopped waiting */
	struct dns_wait_q	*q;
	int			 n;
	struct dns_wait		*inext;		/* the inbox */
	struct dns_wait		*wnext;		/* the batches waited for */
	struct dns_wait		**wprevp;
};

static pthread_mutex_t		 inbox_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct dns_wait		*inbox;		/* not yet asked */
static struct dns_wait		*waiting;	/* an asker waits */
static struct loop_waker	 waker;
static int			 started, stopping;

static void
unref(struct dns_wait *w)
{
	int left;

	pthread_mutex_lock(&w->mtx);
	left = --w->refs;
	pthread_mutex_unlock(&w->mtx);
	if (left > 0)
		return;
	pthread_mutex_destroy(&w->mtx);
	pthread_cond_destroy(&w->cond);
	free(w->q);
	free(w);
}

/* On the loop: one answer. */
static void
answered(void *arg, enum dns_status st, const struct dns_answer *a,
    const char *why)
{
	struct dns_wait_q *q = arg;
	struct dns_wait *w = q->owner;
	int last;

	pthread_mutex_lock(&w->mtx);
	if (!w->abandoned) {
		q->done = 1;
		q->status = st;
		if (st == DNS_OK && a) {
			q->naddr = a->naddr;
			memcpy(q->addr, a->addr, sizeof(q->addr));
		}
	}
	last = --w->pending == 0;
	if (last)
		pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mtx);
	if (last)
		unref(w);		/* the loop's */
}

/* On the loop: ask what the workers put in the inbox. */
static void
ask(void *arg)
{
	struct dns_wait *list, *next;

	pthread_mutex_lock(&inbox_mtx);
	list = inbox;
	inbox = NULL;
	pthread_mutex_unlock(&inbox_mtx);
	for (; list; list = next) {
		next = list->inext;
		for (int i = 0; i < list->n; i++)
			dns_query(list->q[i].name, list->q[i].qtype, answered,
			    &list->q[i]);
	}
}

void
dns_wait_init(void)
{
	if (started)
		return;
	loop_waker_init(&waker, ask, NULL);
	started = 1;
}

struct dns_wait *
dns_wait_new(void)
{
	struct dns_wait *w = xcalloc(1, sizeof(*w));

	pthread_mutex_init(&w->mtx, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	w->refs = 1;
	return w;
}

void
dns_wait_add(struct dns_wait *w, const char *name, uint16_t qtype)
{
	struct dns_wait_q *q;

	if ((w->n & 15) == 0)
		w->q = xreallocarray(w->q, (size_t)w->n + 16, sizeof(*w->q));
	q = &w->q[w->n++];
	memset(q, 0, sizeof(*q));
	gw_strlcpy(q->name, name, sizeof(q->name));
	q->qtype = qtype;
	q->status = DNS_TEMPFAIL;
}

int
dns_wait_run(struct dns_wait *w, int64_t timeout_ms)
{
	struct timespec until;
	int left;

	if (w->n == 0)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	w->pending = w->n;
	for (int i = 0; i < w->n; i++)
		w->q[i].owner = w;
	pthread_mutex_lock(&inbox_mtx);
	if (stopping || !started) {
		pthread_mutex_unlock(&inbox_mtx);
		return w->n;
	}
	w->refs++;			/* the loop's, until the last answer */
	w->inext = inbox;
	inbox = w;
	if ((w->wnext = waiting) != NULL)
		waiting->wprevp = &w->wnext;
	w->wprevp = &waiting;
	waiting = w;
	pthread_mutex_unlock(&inbox_mtx);
	loop_wakeup(&waker);

	pthread_mutex_lock(&w->mtx);
	while (w->pending > 0 && !w->abandoned)
		if (pthread_cond_timedwait(&w->cond, &w->mtx, &until) != 0)
			break;
	left = w->pending;
	w->abandoned = 1;
	pthread_mutex_unlock(&w->mtx);

	pthread_mutex_lock(&inbox_mtx);
	if ((*w->wprevp = w->wnext) != NULL)
		w->wnext->wprevp = w->wprevp;
	pthread_mutex_unlock(&inbox_mtx);
	return left;
}

void
dns_wait_shutdown(void)
{
	struct dns_wait *list, *next;

	pthread_mutex_lock(&inbox_mtx);
	stopping = 1;
	list = inbox;
	inbox = NULL;
	for (struct dns_wait *w = waiting; w; w = w->wnext) {
		pthread_mutex_lock(&w->mtx);
		w->abandoned = 1;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->mtx);
	}
	pthread_mutex_unlock(&inbox_mtx);
	/* Never asked: the loop's references go now. */
	for (; list; list = next) {
		next = list->inext;
		unref(list);
	}
}

enum dns_status
dns_wait_result(const struct dns_wait *w, int i, const struct dns_addr **addr,
    int *naddr)
{
	const struct dns_wait_q *q = &w->q[i];

	/* After dns_wait_run: abandoned, so the loop writes no more. */
	if (!q->done) {
		*addr = NULL;
		*naddr = 0;
		return DNS_TEMPFAIL;
	}
	*addr = q->addr;
	*naddr = q->naddr;
	return q->status;
}

void
dns_wait_free(struct dns_wait *w)
{
	if (w)
		unref(w);
}
