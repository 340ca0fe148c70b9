/*
 * worker.h - pools of threads for CPU-heavy work (DKIM signing, password
 * hashing), so the event loop never stalls on it.  run() executes on a
 * worker; done() back on the main thread.
 *
 * Each kind of work has its own pool, so one kind can never starve the
 * other: a flood of logins (scrypt) queues behind itself, not in front
 * of the signing of mail already accepted.  The default pool (worker_init,
 * worker_submit) signs; a pool may bound what waits in it.
 */
#ifndef GW_WORKER_H
#define GW_WORKER_H

struct work {
	struct work	*next;
	void		(*run)(struct work *);
	void		(*done)(struct work *);
};

struct worker_pool;

/* nthreads threads; at most max jobs queued or running (0: no bound). */
struct worker_pool *worker_pool_new(int nthreads, int max);
/* 0, or -1 when the pool holds its max already (the job is not taken). */
int	worker_pool_submit(struct worker_pool *, struct work *);
/* Jobs submitted whose done() has not run yet. */
int	worker_pool_depth(const struct worker_pool *);

void	worker_init(int nthreads);
void	worker_submit(struct work *);
/* Stop every pool, after running what was queued and its done(). */
void	worker_shutdown(void);

#endif
