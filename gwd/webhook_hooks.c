/*
 * webhook_hooks.c - the webhooks gwd posts to (webhook_priv.h): gw.db's
 * rows read at start-up and each reload (a known webhook keeps its
 * queue and counters; a deleted one goes once its requests end), the
 * one "gwctl webhook test" asks for, and their Prometheus lines.
 * Exposure: gw.db is the admin's (gwctl checked the rows).
 * Diagnostics: a gw.db that cannot be read keeps the webhooks read
 * before, with a warning.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "db.h"
#include "hookset.h"
#include "log.h"
#include "util.h"
#include "webhook.h"
#include "webhook_priv.h"

/* ---- gw.db ---- */

struct load {
	struct hook	*list, **tail;
};

static void
set_str(char **p, const char *v)
{
	free(*p);
	*p = v ? xstrdup(v) : NULL;
}

static struct hook *
find_hook(long long id)
{
	for (struct hook *h = webhook_list; h; h = h->next)
		if (h->id == id && !h->gone)
			return h;
	return NULL;
}

static void
row_hook(sqlite3_stmt *st, void *arg)
{
	struct load *l = arg;
	long long id = sqlite3_column_int64(st, 0);
	struct hook *h, **pp;

	/* Keep a known webhook's queue and counters. */
	for (pp = &webhook_list; (h = *pp) != NULL; pp = &h->next)
		if (h->id == id && !h->gone)
			break;
	if (h != NULL)
		*pp = h->next;
	else {
		h = xcalloc(1, sizeof(*h));
		h->id = id;
		h->tail = &h->head;
	}
	set_str(&h->url, (const char *)sqlite3_column_text(st, 1));
	set_str(&h->subaccount, (const char *)sqlite3_column_text(st, 2));
	set_str(&h->events, (const char *)sqlite3_column_text(st, 3));
	set_str(&h->secret, (const char *)sqlite3_column_text(st, 4));
	h->filter.hook = id;
	h->filter.subaccount = h->subaccount;
	/* gwctl checked the list; a name gwd does not know wants nothing. */
	h->filter.actions = hookset_parse(h->events);
	h->next = NULL;
	*l->tail = h;
	l->tail = &h->next;
}

void
webhook_load(sqlite3 *gdb)
{
	struct load l = { NULL, &l.list };
	struct hookset_entry *set;
	struct hook *h, *next;
	int n = 0;

	if (db_rows(gdb, "SELECT id, url, subaccount, events, secret FROM "
	    "webhook ORDER BY id", row_hook, &l) == -1) {
		log_warnx("gw.db: cannot read the webhooks, keeping the "
		    "previous ones: %s", sqlite3_errmsg(gdb));
		/* Those read are back in the list, the rest stay. */
		*l.tail = webhook_list;
		webhook_list = l.list;
		return;
	}
	/* What is left of the old list was deleted. */
	for (h = webhook_list; h; h = next) {
		next = h->next;
		webhook_hook_gone(h);
		if (h->inflight == 0)
			webhook_hook_free(h);
		else {
			h->next = NULL;
			*l.tail = h;
			l.tail = &h->next;
		}
	}
	webhook_list = l.list;
	for (h = webhook_list; h; h = h->next)
		n += !h->gone;
	set = n ? xcalloc((size_t)n, sizeof(*set)) : NULL;
	n = 0;
	for (h = webhook_list; h; h = h->next)
		if (!h->gone)
			set[n++] = h->filter;
	hookset_set(set, n);
	free(set);
	/* Rows of deleted webhooks go; the store thread has the set. */
	webhook_sweep = 1;
	webhook_flush_acks();
}

int
webhook_lookup(long long id, const char **url, const char **secret)
{
	struct hook *h = find_hook(id);

	if (h == NULL)
		return -1;
	*url = h->url;
	*secret = h->secret;
	return 0;
}

/* ---- metrics ---- */

static void
prom_family(struct buf *out, const char *name, const char *type,
    const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

void
webhook_prometheus(struct buf *out)
{
	static const struct {
		const char	*name, *type, *help;
		size_t		 off;
		int		 isint;
	} fam[] = {
		{ "gw_webhook_events_pending", "gauge", "Events a webhook "
		    "has read and not acknowledged yet (in gwd's memory, "
		    "at most webhook.window).",
		    offsetof(struct hook, nitems), 1 },
		{ "gw_webhook_events_sent_total", "counter", "Events a "
		    "webhook acknowledged with a 2xx.",
		    offsetof(struct hook, sent), 0 },
		{ "gw_webhook_requests_failed_total", "counter", "Requests "
		    "to a webhook that got no 2xx (retried).",
		    offsetof(struct hook, failed), 0 },
		{ "gw_webhook_events_dropped_total", "counter", "Events "
		    "given up after webhook.retry_for.",
		    offsetof(struct hook, dropped), 0 },
	};

	if (webhook_list == NULL)
		return;
	for (size_t i = 0; i < nitems(fam); i++) {
		prom_family(out, fam[i].name, fam[i].type, fam[i].help);
		for (struct hook *h = webhook_list; h; h = h->next) {
			const char *p = (const char *)h + fam[i].off;
			unsigned long long v = fam[i].isint ?
			    (unsigned long long)*(const int *)p :
			    (unsigned long long)*(const uint64_t *)p;

			if (!h->gone)
				buf_printf(out, "%s{webhook=\"%lld\"} %llu\n",
				    fam[i].name, h->id, v);
		}
	}
}

