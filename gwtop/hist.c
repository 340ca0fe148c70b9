/*
 * hist.c - the last HIST_MAX samples of gwd's counters, so gwtop can show
 * messages per second in and out now and as a sparkline.  A counter
 * going backwards means gwd restarted: the history starts over.
 * Diagnostics: never dies; nothing here fails.
 */
#include <string.h>

#include "gwtop.h"

void
hist_add(struct hist *h, int64_t t_us, const struct live *l)
{
	if (!l->ok)
		return;
	if (h->n > 0 && (l->received_total < h->in[h->n - 1] ||
	    l->delivered_total < h->out[h->n - 1]))
		h->n = 0;
	if (h->n == HIST_MAX) {
		memmove(h->t_us, h->t_us + 1, (HIST_MAX - 1) * sizeof(int64_t));
		memmove(h->in, h->in + 1, (HIST_MAX - 1) * sizeof(int64_t));
		memmove(h->out, h->out + 1, (HIST_MAX - 1) * sizeof(int64_t));
		h->n--;
	}
	h->t_us[h->n] = t_us;
	h->in[h->n] = l->received_total;
	h->out[h->n] = l->delivered_total;
	h->n++;
}

double
hist_rate(const struct hist *h, int i, int out)
{
	const int64_t *v = out ? h->out : h->in;
	int64_t dt;

	if (i < 1 || i >= h->n || (dt = h->t_us[i] - h->t_us[i - 1]) <= 0)
		return 0;
	return (double)(v[i] - v[i - 1]) * 1e6 / (double)dt;
}
