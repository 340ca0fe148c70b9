/*
 * loop.c - epoll event loop with a timer heap.
 * Exposure: none directly; it only dispatches.
 * Diagnostics: dies (fatal) when epoll or eventfd fail, or more idle
 * hooks are set than it has room for: the loop cannot go on without
 * them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "heap.h"
#include "log.h"
#include "loop.h"
#include "util.h"

#define MAX_EVENTS	256
#define MAX_IDLE	8

static int		 epfd = -1;
static int		 running;
static int64_t		 now;
/* Armed timers, earliest first; each timer knows its slot. */
static struct heap	 timers = HEAP_INITIALIZER(struct ev_timer, when, idx);
static struct {
	void	(*fn)(void *);
	void	*arg;
} idle[MAX_IDLE];
static int		 nidle;

void
loop_init(void)
{
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	now = mono_ms();
}

int64_t
loop_now(void)
{
	return now;
}

void
loop_stop(void)
{
	running = 0;
}

void
loop_on_idle(void (*fn)(void *), void *arg)
{
	if (nidle == MAX_IDLE)
		fatalx("loop_on_idle: too many hooks");
	idle[nidle].fn = fn;
	idle[nidle].arg = arg;
	nidle++;
}

void
io_init(struct ev_io *io, int fd, io_cb cb, void *arg)
{
	memset(io, 0, sizeof(*io));
	io->fd = fd;
	io->cb = cb;
	io->arg = arg;
}

void
io_set(struct ev_io *io, int events)
{
	struct epoll_event ev;

	if (io->registered && events == io->events)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = ((events & EV_READ) ? EPOLLIN : 0) |
	    ((events & EV_WRITE) ? EPOLLOUT : 0);
	ev.data.ptr = io;
	if (!io->registered) {
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, io->fd, &ev) == -1)
			fatal("epoll_ctl add fd %d", io->fd);
		io->registered = 1;
	} else if (epoll_ctl(epfd, EPOLL_CTL_MOD, io->fd, &ev) == -1)
		fatal("epoll_ctl mod fd %d", io->fd);
	io->events = events;
}

void
io_del(struct ev_io *io)
{
	if (io->registered) {
		if (epoll_ctl(epfd, EPOLL_CTL_DEL, io->fd, NULL) == -1 &&
		    errno != EBADF && errno != ENOENT)
			log_warn("epoll_ctl del fd %d", io->fd);
		io->registered = 0;
	}
	io->events = 0;
}

void
timer_init(struct ev_timer *t, timer_cb cb, void *arg)
{
	t->when = 0;
	t->idx = -1;
	t->cb = cb;
	t->arg = arg;
}

void
timer_del(struct ev_timer *t)
{
	heap_remove(&timers, t);
}

void
timer_at(struct ev_timer *t, int64_t when)
{
	t->when = when;
	if (t->idx >= 0)
		heap_fix(&timers, t);
	else
		heap_insert(&timers, t);
}

void
timer_add(struct ev_timer *t, int64_t ms)
{
	timer_at(t, now + ms);
}

static void
run_timers(void)
{
	struct ev_timer *t;

	while ((t = heap_top(&timers)) != NULL && t->when <= now) {

		timer_del(t);
		t->cb(t);
	}
}

void
loop_run(void)
{
	struct epoll_event evs[MAX_EVENTS];
	int n, timeout;

	running = 1;
	while (running) {
		for (int i = 0; i < nidle; i++)
			idle[i].fn(idle[i].arg);
		now = mono_ms();
		run_timers();
		/* A timer may have produced output: flush it before sleeping. */
		for (int i = 0; i < nidle; i++)
			idle[i].fn(idle[i].arg);
		if (!running)
			break;
		timeout = -1;
		if (heap_top(&timers) != NULL) {
			int64_t d = heap_key(&timers, heap_top(&timers)) - now;

			timeout = d < 0 ? 0 : d > 60000 ? 60000 : (int)d;
		}
		n = epoll_wait(epfd, evs, MAX_EVENTS, timeout);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fatal("epoll_wait");
		}
		now = mono_ms();
		for (int i = 0; i < n; i++) {
			struct ev_io *io = evs[i].data.ptr;
			int re = 0;

			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				re |= EV_READ;
			if (evs[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
				re |= EV_WRITE;
			io->cb(io, re);
		}
	}
}

static void
waker_cb(struct ev_io *io, int revents)
{
	struct loop_waker *w = io->arg;
	uint64_t v;

	if (read(io->fd, &v, sizeof(v)) == -1 && errno != EAGAIN)
		log_warn("eventfd read");
	w->cb(w->arg);
}

void
loop_waker_init(struct loop_waker *w, void (*cb)(void *), void *arg)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	if (fd == -1)
		fatal("eventfd");
	w->cb = cb;
	w->arg = arg;
	io_init(&w->io, fd, waker_cb, w);
	io_set(&w->io, EV_READ);
}

void
loop_wakeup(struct loop_waker *w)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is saturated: a wakeup is pending. */
	if (write(w->io.fd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("eventfd write");
}
