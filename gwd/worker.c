/*
 * worker.c - thread pool; completions return through a loop waker.
 * Exposure: none; runs work that others queued (scrypt, DKIM) on its
 * threads.
 * Diagnostics: dies (fatalx) when a worker thread cannot be started, at
 * start-up, or when memory runs out; work itself reports its own errors.
 */
#include <pthread.h>
#include <stdlib.h>

#include "log.h"
#include "loop.h"
#include "util.h"
#include "worker.h"

static pthread_mutex_t	 mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 cond = PTHREAD_COND_INITIALIZER;
static struct work	*todo, **todo_tail = &todo;
static struct work	*done_list, **done_tail = &done_list;
static pthread_t	*threads;
static int		 nthreads, stopping;
static struct loop_waker waker;

static void *
worker_main(void *arg)
{
	struct work *w;

	for (;;) {
		pthread_mutex_lock(&mtx);
		while (todo == NULL && !stopping)
			pthread_cond_wait(&cond, &mtx);
		if (todo == NULL) {
			pthread_mutex_unlock(&mtx);
			return NULL;
		}
		w = todo;
		if ((todo = w->next) == NULL)
			todo_tail = &todo;
		pthread_mutex_unlock(&mtx);

		w->run(w);

		pthread_mutex_lock(&mtx);
		w->next = NULL;
		*done_tail = w;
		done_tail = &w->next;
		pthread_mutex_unlock(&mtx);
		loop_wakeup(&waker);
	}
}

static void
worker_completed(void *arg)
{
	struct work *list, *next;

	pthread_mutex_lock(&mtx);
	list = done_list;
	done_list = NULL;
	done_tail = &done_list;
	pthread_mutex_unlock(&mtx);
	for (; list; list = next) {
		next = list->next;
		list->done(list);
	}
}

void
worker_init(int n)
{
	loop_waker_init(&waker, worker_completed, NULL);
	nthreads = n;
	threads = xcalloc((size_t)n, sizeof(*threads));
	for (int i = 0; i < n; i++)
		if (pthread_create(&threads[i], NULL, worker_main, NULL) != 0)
			fatalx("cannot start worker thread");
}

void
worker_submit(struct work *w)
{
	w->next = NULL;
	pthread_mutex_lock(&mtx);
	*todo_tail = w;
	todo_tail = &w->next;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&mtx);
}

void
worker_shutdown(void)
{
	pthread_mutex_lock(&mtx);
	stopping = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&mtx);
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	worker_completed(NULL);
	free(threads);
}
