/*
 * worker.h - a small pool of threads for CPU-heavy work (password
 * hashing, later DKIM signing), so the event loop never stalls on it.
 * run() executes on a worker; done() back on the main thread.
 */
#ifndef GW_WORKER_H
#define GW_WORKER_H

struct work {
	struct work	*next;
	void		(*run)(struct work *);
	void		(*done)(struct work *);
};

void	worker_init(int nthreads);
void	worker_submit(struct work *);
void	worker_shutdown(void);

#endif
