/*
 * loop.h - gwd's event loop: epoll for descriptors, a binary heap of
 * timers, hooks run before the loop sleeps (where replies are flushed,
 * so pipelined answers leave in one write).  Single-threaded: only the
 * main thread calls these, except loop_wakeup().
 */
#ifndef GW_LOOP_H
#define GW_LOOP_H

#include <stdint.h>

#define EV_READ		0x01
#define EV_WRITE	0x02

struct ev_io;
typedef void (*io_cb)(struct ev_io *, int revents);

struct ev_io {
	int		 fd;
	int		 events;	/* EV_READ | EV_WRITE wanted */
	int		 registered;
	io_cb		 cb;
	void		*arg;
};

struct ev_timer;
typedef void (*timer_cb)(struct ev_timer *);

struct ev_timer {
	int64_t		 when;		/* monotonic ms */
	int		 idx;		/* heap slot, -1 when not armed */
	timer_cb	 cb;
	void		*arg;
};

void	 loop_init(void);
void	 loop_run(void);
void	 loop_stop(void);
int64_t	 loop_now(void);		/* monotonic ms, cached per turn */

void	 io_init(struct ev_io *, int fd, io_cb, void *arg);
void	 io_set(struct ev_io *, int events);	/* 0 = stop watching */
void	 io_del(struct ev_io *);

void	 timer_init(struct ev_timer *, timer_cb, void *arg);
void	 timer_add(struct ev_timer *, int64_t ms);	/* (re)arm */
void	 timer_at(struct ev_timer *, int64_t when);
void	 timer_del(struct ev_timer *);
static inline int
timer_armed(const struct ev_timer *t)
{
	return t->idx >= 0;
}

/* Run fn(arg) before each sleep; at most a handful are registered. */
void	 loop_on_idle(void (*fn)(void *), void *arg);

/*
 * Cross-thread notification: another thread calls loop_wakeup(w) and the
 * main thread runs w's callback soon after.  Backed by one eventfd each.
 */
struct loop_waker {
	struct ev_io	 io;
	void		(*cb)(void *);
	void		*arg;
};
void	 loop_waker_init(struct loop_waker *, void (*cb)(void *), void *arg);
void	 loop_wakeup(struct loop_waker *);

#endif
