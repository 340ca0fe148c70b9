/*
 * worker.c - thread pools; completions return through a loop waker.
 * Exposure: none; runs work that others queued (scrypt, DKIM) on its
 * threads.
 * Diagnostics: dies (fatalx) when a worker thread cannot be started, at
 * start-up, or when memory runs out; work itself reports its own errors.
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "util.h"
#include "worker.h"

struct worker_pool {
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;
	struct work		*todo, **todo_tail;
	struct work		*done_list, **done_tail;
	pthread_t		*threads;
	int			 nthreads, stopping;
	int			 max;
	int			 depth;		/* main thread only */
	struct loop_waker	 waker;
	struct worker_pool	*next;
};

static struct worker_pool	*pools;
static struct worker_pool	*default_pool;

static void *
worker_main(void *arg)
{
	struct worker_pool *p = arg;
	struct work *w;
	int wake;

	thread_name("gwd-worker");
	for (;;) {
		pthread_mutex_lock(&p->mtx);
		while (p->todo == NULL && !p->stopping)
			pthread_cond_wait(&p->cond, &p->mtx);
		if (p->todo == NULL) {
			pthread_mutex_unlock(&p->mtx);
			return NULL;
		}
		w = p->todo;
		if ((p->todo = w->next) == NULL)
			p->todo_tail = &p->todo;
		pthread_mutex_unlock(&p->mtx);

		w->run(w);

		/* While the done list is not empty a wakeup is on its way:
		 * whoever found it empty writes the eventfd, and the loop
		 * reads the eventfd before it takes the whole list
		 * (waker_cb).  One write a batch, not one a job. */
		pthread_mutex_lock(&p->mtx);
		w->next = NULL;
		wake = p->done_list == NULL;
		*p->done_tail = w;
		p->done_tail = &w->next;
		pthread_mutex_unlock(&p->mtx);
		if (wake)
			loop_wakeup(&p->waker);
	}
}

static void
worker_completed(void *arg)
{
	struct worker_pool *p = arg;
	struct work *list, *next;

	pthread_mutex_lock(&p->mtx);
	list = p->done_list;
	p->done_list = NULL;
	p->done_tail = &p->done_list;
	pthread_mutex_unlock(&p->mtx);
	for (; list; list = next) {
		next = list->next;
		p->depth--;
		list->done(list);
	}
}

struct worker_pool *
worker_pool_new(int nthreads, int max)
{
	struct worker_pool *p = xcalloc(1, sizeof(*p));

	pthread_mutex_init(&p->mtx, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->todo_tail = &p->todo;
	p->done_tail = &p->done_list;
	p->max = max;
	loop_waker_init(&p->waker, worker_completed, p);
	p->nthreads = nthreads;
	p->threads = xcalloc((size_t)nthreads, sizeof(*p->threads));
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0)
			fatalx("cannot start worker thread");
	p->next = pools;
	pools = p;
	return p;
}

int
worker_pool_submit(struct worker_pool *p, struct work *w)
{
	if (p->max > 0 && p->depth >= p->max)
		return -1;
	p->depth++;
	w->next = NULL;
	pthread_mutex_lock(&p->mtx);
	*p->todo_tail = w;
	p->todo_tail = &w->next;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mtx);
	return 0;
}

int
worker_pool_depth(const struct worker_pool *p)
{
	return p->depth;
}

void
worker_init(int nthreads)
{
	default_pool = worker_pool_new(nthreads, 0);
}

void
worker_submit(struct work *w)
{
	worker_pool_submit(default_pool, w);
}

void
worker_shutdown(void)
{
	struct worker_pool *p, *next;

	for (p = pools; p; p = next) {
		next = p->next;
		pthread_mutex_lock(&p->mtx);
		p->stopping = 1;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->mtx);
		for (int i = 0; i < p->nthreads; i++)
			pthread_join(p->threads[i], NULL);
		worker_completed(p);
		io_del(&p->waker.io);
		close(p->waker.io.fd);
		free(p->threads);
		free(p);
	}
	pools = default_pool = NULL;
}
