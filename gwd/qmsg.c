/*
 * qmsg.c - the message registry and the body cache: every queued message
 * by queue id and in arrival order, and the bodies kept in memory while deliveries need them (read
 * back from queue.db otherwise).
 * Exposure: none from the network; bodies come from the store.
 * Diagnostics: allocation failure is fatal; a body queue.db cannot give
 * back is an error return (queue_load_body).
 *
 * A deep queue is mostly messages nobody is delivering now, so each
 * costs what scheduling needs (gwd.h): the table by queue id is chained
 * through the messages themselves (equal strings are pooled: gwd.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "log.h"
#include "queue.h"
#include "queue_int.h"
#include "schedule.h"
#include "store.h"
#include "store_read.h"
#include "util.h"

#define BODY_CACHE_MAX	((size_t)256 << 20)

int64_t			(*sched_clock)(void) = now_us;

static size_t		 body_bytes;
static int		 nheld;		/* messages on hold */
static int		 nquarantined;	/* of them, by a content policy */
/* Every queued message by queue id: buckets chained through hnext. */
static struct qmsg	**bucket;
static size_t		 nbucket, nmsg;
/* Every queued message, in arrival order (the oldest is first); those
 * read at start-up go after load_tail, before any accepted since. */
static struct qmsg	*qhead, *qtail, *load_tail;

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
	nbucket = 1024;
	bucket = xcalloc(nbucket, sizeof(*bucket));
}

/* The only writer of the counts of held (and quarantined) messages. */
static void
held_count(const struct qmsg *m, int sign)
{
	if (m->held)
		nheld += sign;
	if (m->held == QMSG_QUARANTINED)
		nquarantined += sign;
}

static struct qmsg **
qid_slot(const char *qid, unsigned h)
{
	struct qmsg **pp = &bucket[h & (nbucket - 1)];

	while (*pp && ((*pp)->qhash != h || strcmp((*pp)->qid, qid) != 0))
		pp = &(*pp)->hnext;
	return pp;
}

static void
qid_grow(void)
{
	size_t nb = nbucket * 2;
	struct qmsg **b = xcalloc(nb, sizeof(*b)), *m, *next;

	for (size_t i = 0; i < nbucket; i++)
		for (m = bucket[i]; m; m = next) {
			next = m->hnext;
			m->hnext = b[m->qhash & (nb - 1)];
			b[m->qhash & (nb - 1)] = m;
		}
	free(bucket);
	bucket = b;
	nbucket = nb;
}

static void
qid_put(struct qmsg *m)
{
	struct qmsg **pp;

	m->qhash = hmap_hash(m->qid);
	if (*(pp = qid_slot(m->qid, m->qhash)) != NULL)
		fatalx("qid=%s queued twice", m->qid);
	m->hnext = NULL;
	*pp = m;
	if (++nmsg > nbucket)
		qid_grow();
}

static void
list_insert_after(struct qmsg *prev, struct qmsg *m)
{
	struct qmsg *next = prev ? prev->qnext : qhead;

	m->qprev = prev;
	m->qnext = next;
	if (prev)
		prev->qnext = m;
	else
		qhead = m;
	if (next)
		next->qprev = m;
	else
		qtail = m;
}

/* A new message joins the queue, last in arrival order. */
void
qmsg_register(struct qmsg *m)
{
	qid_put(m);
	list_insert_after(qtail, m);
	held_count(m, 1);
}

/* A message read from queue.db at start-up: after those read before
 * it, before those accepted since gwd started. */
void
qmsg_register_loaded(struct qmsg *m)
{
	qid_put(m);
	list_insert_after(load_tail, m);
	load_tail = m;
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
	return (int)nmsg;
}

int
qmsg_count_held(void)
{
	return nheld;
}

int
qmsg_count_quarantined(void)
{
	return nquarantined;
}

/* Bodies: kept while deliveries need them, reloaded otherwise. */

/*
 * A new message is stored: its Message-ID is queue.db's now (read back
 * for an admin who asks), and its body stays in memory if the cache has
 * room.
 */
void
qmsg_stored(struct qmsg *m)
{
	free(m->message_id);
	m->message_id = NULL;
	qmsg_free_prefix(m);
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
	if (m == load_tail)
		load_tail = m->qprev;
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
	*qid_slot(m->qid, m->qhash) = m->hnext;
	nmsg--;
	qmsg_free(m);
}

struct qmsg *
qmsg_find(const char *qid)
{
	return *qid_slot(qid, hmap_hash(qid));
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
