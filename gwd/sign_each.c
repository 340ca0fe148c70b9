/*
 * sign_each.c - one DKIM signing per recipient's copy (sign_each.h).
 * The copies are signed one after another, each from a buffer holding
 * its fields and the body, so a message to N recipients costs N
 * signings (N body hashes, N private-key operations) but never more
 * than one extra copy of the body at a time.  Only bulk mail to several
 * recipients comes here.
 * Exposure: none from the network; the message is gwd's stored form.
 * Diagnostics: dies only when memory runs out; a failed signing ends
 * the chain and is the message's (data_end.c answers 451).
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "gwd.h"
#include "log.h"
#include "sign_each.h"
#include "signer.h"
#include "util.h"

struct sign_chain {
	struct sign_job	*plan;		/* the keys */
	struct qmsg	*m;
	int		 i;		/* the copy being signed */
	struct buf	 copy;		/* its fields and the body */
	void		(*done)(struct sign_job *);
	void		*arg;
};

static void	 chain_next(struct sign_chain *);

static void
chain_end(struct sign_chain *c, struct sign_job *j)
{
	buf_free(&c->copy);
	sign_job_free(c->plan);
	buf_reset(&j->sigs);
	j->done = c->done;
	j->arg = c->arg;
	free(c);
	j->done(j);
}

static void
prepend(struct rcpt_prefix *p, const struct buf *sigs)
{
	size_t n = buf_len(sigs);
	char *np = xmalloc(n + p->len);

	memcpy(np, buf_ptr(sigs), n);
	if (p->len)
		memcpy(np + n, p->p, p->len);
	free(p->p);
	p->p = np;
	p->len += n;
}

/* One copy is signed: its signatures on top of its fields. */
static void
copy_signed(struct sign_job *j)
{
	struct sign_chain *c = j->arg;

	if (!j->failed)
		prepend(&c->m->prefix[c->i], &j->sigs);
	if (j->failed || ++c->i == c->m->nrcpt) {
		chain_end(c, j);
		return;
	}
	sign_job_free(j);
	chain_next(c);
}

static void
chain_next(struct sign_chain *c)
{
	struct rcpt_prefix *p = &c->m->prefix[c->i];
	struct sign_job *j = xcalloc(1, sizeof(*j));

	memcpy(j->keys, c->plan->keys, sizeof(j->keys));
	j->nkeys = c->plan->nkeys;
	j->wait = c->plan->wait;
	j->done = copy_signed;
	j->arg = c;
	buf_reset(&c->copy);
	if ((p->len && buf_append(&c->copy, p->p, p->len) == -1) ||
	    buf_append(&c->copy, c->m->body, c->m->bodylen) == -1)
		fatalx("out of memory");
	signer_run(j, buf_ptr(&c->copy), buf_len(&c->copy),
	    now_us() / 1000000);
}

void
sign_each(struct sign_job *plan, struct qmsg *m,
    void (*done)(struct sign_job *), void *arg)
{
	struct sign_chain *c = xcalloc(1, sizeof(*c));

	c->plan = plan;
	c->m = m;
	c->done = done;
	c->arg = arg;
	buf_init(&c->copy, m->bodylen + 2048);
	chain_next(c);
}
