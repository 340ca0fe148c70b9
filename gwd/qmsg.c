/*
 * qmsg.c - the message registry and the body cache: every queued message
 * by queue id and in arrival order, and the bodies kept in memory while
 * deliveries need them (read back from queue.db otherwise).
 * Exposure: none from the network; bodies come from the store.
 * Diagnostics: allocation failure is fatal; a body queue.db cannot give
 * back is an error return (queue_load_body).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "queue.h"
#include "queue_int.h"
#include "schedule.h"
#include "store.h"
#include "util.h"

#define BODY_CACHE_MAX	((size_t)256 << 20)

int64_t			(*sched_clock)(void) = now_us;

static size_t		 body_bytes;
static int		 nheld;		/* messages on hold */
/* Every queued message by queue id. */
static struct hmap	 byqid;
/* Every queued message, in arrival order (the oldest is first). */
static struct qmsg	*qhead, *qtail;

struct qmsg *
queue_msg_new(const char *sender, const char *subaccount, int nrcpt)
{
	struct qmsg *m = qmsg_new(sender, subaccount, nrcpt);

	qid_make(m->qid);
	return m;
}

void
qmsg_init(void)
{
	hmap_init(&byqid);
}

/* The only writer of the count of held messages. */
static void
held_count(const struct qmsg *m, int sign)
{
	if (m->held)
		nheld += sign;
}

/* A new or loaded message joins the queue, last in arrival order. */
void
qmsg_register(struct qmsg *m)
{
	m->qnext = NULL;
	m->qprev = qtail;
	if (qtail)
		qtail->qnext = m;
	else
		qhead = m;
	qtail = m;
	hmap_put(&byqid, m->qid, m);
	held_count(m, 1);
}

/* An admin holds (1) or releases (0) a queued message. */
void
qmsg_set_held(struct qmsg *m, int held)
{
	held_count(m, -1);
	m->held = held;
	held_count(m, 1);
}

int
qmsg_count(void)
{
	return (int)hmap_count(&byqid);
}

int
qmsg_count_held(void)
{
	return nheld;
}

/* Bodies: kept while deliveries need them, reloaded otherwise. */

/* A new message's body stays in memory if the cache has room. */
void
qmsg_cache_body(struct qmsg *m)
{
	if (m->body) {
		if (body_bytes + m->bodylen > BODY_CACHE_MAX) {
			free(m->body);
			m->body = NULL;
		} else
			body_bytes += m->bodylen;
	}
}

int
queue_load_body(struct qmsg *m)
{
	if (m->body == NULL) {
		if (store_load_body(m) == -1)
			return -1;
		body_bytes += m->bodylen;
	}
	m->body_users++;
	return 0;
}

void
qmsg_drop_body(struct qmsg *m)
{
	if (m->body) {
		body_bytes -= m->bodylen;
		free(m->body);
		m->body = NULL;
	}
}

void
queue_release_body(struct qmsg *m)
{
	m->body_users--;
}

/* No one is delivering it and nothing is ready: the body can go. */
void
qmsg_maybe_drop_body(struct qmsg *m)
{
	if (m->body_users > 0)
		return;
	for (int i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].state == QR_READY ||
		    m->rcpt[i].state == QR_ACTIVE)
			return;
	qmsg_drop_body(m);
}

void
qmsg_forget(struct qmsg *m)
{
	if (m->qprev)
		m->qprev->qnext = m->qnext;
	else
		qhead = m->qnext;
	if (m->qnext)
		m->qnext->qprev = m->qprev;
	else
		qtail = m->qprev;
	qmsg_drop_body(m);
	held_count(m, -1);
	hmap_del(&byqid, m->qid);
	qmsg_free(m);
}

struct qmsg *
queue_find(const char *qid)
{
	return hmap_get(&byqid, qid);
}

struct qmsg *
queue_first(void)
{
	return qhead;
}

int
queue_msg_active(const struct qmsg *m)
{
	int n = 0;

	for (int i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].state == QR_ACTIVE)
			n++;
	return n;
}
