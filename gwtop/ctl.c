/*
 * ctl.c - gwd's answers on its control socket, asked through the client
 * gwctl uses too (ctlclient.c): one command line per connection, "key
 * value" lines back, whole or not at all.  Whether the socket accepts is
 * gwd's state; what it answers fills the live counters (`stats`), the
 * destinations (`destinations`), pools and subaccounts.  The answers are
 * gwd's, but a destination's error is a remote server's text, and a
 * pause reason may quote one: they are only ever shown through
 * view_put(), which cleans them.
 * Diagnostics: never dies; no answer, half an answer or an "error"
 * answer leaves the reply empty, and the panels say gwd is not
 * answering; a refusal (the socket's mode, or gwd's "error permission
 * denied") makes gwd's state "refused", and ctl_refusal() says why.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ctlclient.h"
#include "gwtop.h"
#include "util.h"

/* A socket that accepts but does not answer within CTL_MS still means
 * gwd is running (without numbers). */
#define CTL_MS	300

/* Why the socket or gwd last refused us; "" when they did not. */
static char ctl_why[512];

const char *
ctl_refusal(void)
{
	return ctl_why[0] ? ctl_why : NULL;
}

const char *
ctl_ask(const char *path, const char *cmd, struct buf *reply)
{
	int connected;

	buf_reset(reply);
	if (*path == '\0')
		return "unknown";
	if (ctlclient_ask(path, cmd, reply, CTL_MS, &connected) == -1) {
		/* Half a reply is none: nothing is shown from it. */
		buf_reset(reply);
		if (!connected && errno == EACCES) {
			snprintf(ctl_why, sizeof(ctl_why), "%s: permission "
			    "denied: the control socket admits root, gwd's "
			    "user and the members of its group", path);
			return "refused";
		}
		if (!connected)
			return errno == ENOENT || errno == ECONNREFUSED ?
			    "stopped" : errno == EAGAIN ? "running" :
			    "unknown";
	} else if (strncmp(buf_cstr(reply), "error", 5) == 0) {
		if (strncmp(buf_cstr(reply), "error permission denied",
		    23) == 0) {
			snprintf(ctl_why, sizeof(ctl_why), "%.*s",
			    (int)strcspn(buf_cstr(reply) + 6, "\n"),
			    buf_cstr(reply) + 6);
			buf_reset(reply);
			return "refused";
		}
		buf_reset(reply);
	}
	return "running";
}

void
ctl_stats(char *text, struct live *l)
{
	static const struct { const char *name; size_t off; } keys[] = {
		{ "uptime_seconds", offsetof(struct live, uptime_s) },
		{ "sessions", offsetof(struct live, sessions) },
		{ "connections_out", offsetof(struct live, connections_out) },
		{ "messages_received_total",
		    offsetof(struct live, received_total) },
		{ "delivered_total", offsetof(struct live, delivered_total) },
		{ "deferred_total", offsetof(struct live, deferred_total) },
		{ "bounced_total", offsetof(struct live, bounced_total) },
		{ "cluster_degraded",
		    offsetof(struct live, cluster_degraded) },
		{ "alerts_firing", offsetof(struct live, alerts_firing) },
	};
	char *line, *save = NULL, name[64];
	long long v;

	memset(l, 0, sizeof(*l));
	if (*text == '\0')
		return;
	for (line = strtok_r(text, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%63s %lld", name, &v) != 2)
			continue;
		/* "alert_firing.NAME 1", one per firing alert. */
		if (strncmp(name, "alert_firing.", 13) == 0 && name[13] &&
		    l->alert_first[0] == '\0')
			snprintf(l->alert_first, sizeof(l->alert_first), "%s",
			    name + 13);
		for (size_t i = 0; i < nitems(keys); i++)
			if (strcmp(name, keys[i].name) == 0)
				*(int64_t *)(void *)((char *)l + keys[i].off) = v;
	}
	l->ok = 1;
}

/*
 * The throttle state between age= and error= (up to err, if not
 * NULL): "via=DEST limit=N window=N gap_ms=N per_minute=N throttled=N".
 * Only what comes before the error is read: the error is a remote
 * server's text and may say anything.
 */
static void
ctl_throttle(const char *from, const char *err, struct dest *d)
{
	char head[1024];
	const char *h;
	long long l, w, g, p, t, u, n2;
	size_t n = err ? (size_t)(err - from) : strlen(from);

	if (n >= sizeof(head))
		return;
	memcpy(head, from, n);
	head[n] = '\0';
	if (sscanf(head, "via=%" CTL_STR(CTL_DEST_NAME_MAX) "s limit=%lld "
	    "window=%lld gap_ms=%lld per_minute=%lld throttled=%lld", d->via,
	    &l, &w, &g, &p, &t) != 6)
		return;
	d->limit = l;
	d->window = w;
	d->gap_ms = g;
	d->per_minute = p;
	d->throttled = t;
	d->has_throttle = 1;
	if ((h = strstr(head, " health=")) != NULL &&
	    sscanf(h, " health=%lld/%lld", &u, &n2) == 2 && n2 >= 0 &&
	    u >= 0 && u <= n2) {
		d->has_health = 1;
		d->sh_up = u;
		d->sh_total = n2;
	}
	if ((h = strstr(head, " tls=")) != NULL &&
	    sscanf(h, " tls=%15s tls_verified=%lld", d->tls, &u) == 2 &&
	    strcmp(d->tls, "-") != 0 && u >= -1 && u <= 1) {
		d->has_tls = 1;
		d->tls_verified = u;
	}
}

/*
 * "dest NAME queued=N active=N waiting=N connections=N next_attempt=T
 * age=a,b,c,d,e,f error=TEXT": the error is last and runs to the end.
 */
static int
ctl_dest(const char *line, struct dest *d)
{
	long long q, a, w, c, t, g[CTL_AGES];
	const char *err;
	int used = 0;

	_Static_assert(CTL_AGES == 6, "one %lld per age bucket");
	memset(d, 0, sizeof(*d));
	if (sscanf(line, "dest %" CTL_STR(CTL_DOMAIN_MAX) "s queued=%lld "
	    "active=%lld waiting=%lld connections=%lld next_attempt=%lld "
	    "age=%lld,%lld,%lld,%lld,%lld,%lld %n", d->name, &q, &a, &w, &c,
	    &t, &g[0], &g[1], &g[2], &g[3], &g[4], &g[5], &used) != 12 ||
	    used == 0)
		return -1;
	d->queued = q;
	d->active = a;
	d->waiting = w;
	d->connections = c;
	d->next_attempt = t;
	for (int i = 0; i < CTL_AGES; i++)
		d->age[i] = g[i];
	if ((err = strstr(line + used, "error=")) != NULL &&
	    strcmp(err + 6, "-") != 0)
		gw_strlcpy(d->error, err + 6, sizeof(d->error));
	ctl_throttle(line + used, err, d);
	return 0;
}

void
ctl_age_title(int i, char *out, size_t n)
{
	if (i < CTL_AGES - 1)
		snprintf(out, n, "<%dm", ctl_age_min[i]);
	else
		snprintf(out, n, "%dm+", ctl_age_min[CTL_AGES - 2]);
}

int
ctl_destinations(char *text, struct dest *d, int max)
{
	char *line, *save = NULL;
	int n = 0;

	for (line = strtok_r(text, "\n", &save); line && n < max;
	    line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "dest ", 5) == 0 &&
		    ctl_dest(line, &d[n]) == 0)
			n++;
	return n;
}

/*
 * "smarthost NAME up=0|1 failures=N successes=N changed=T error=TEXT",
 * the error last and whole.  Read line by line without changing text
 * (ctl_destinations() cuts it up after).
 */
int
ctl_smarthosts(const char *text, struct smarthost *sh, int max)
{
	int n = 0;

	for (const char *l = text; l && *l && n < max;
	    l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		struct smarthost *h = &sh[n];
		long long up, f, s, c;
		const char *err, *end;
		size_t len;

		if (strncmp(l, "smarthost ", 10) != 0)
			continue;
		memset(h, 0, sizeof(*h));
		if (sscanf(l, "smarthost %299s up=%lld failures=%lld "
		    "successes=%lld changed=%lld", h->name, &up, &f, &s,
		    &c) != 5)
			continue;
		h->up = up != 0;
		h->failures = f;
		h->successes = s;
		h->changed = c;
		end = strchr(l, '\n');
		len = end ? (size_t)(end - l) : strlen(l);
		if ((err = strstr(l, " error=")) != NULL && err < l + len) {
			size_t el = len - (size_t)(err + 7 - l);

			if (el >= sizeof(h->error))
				el = sizeof(h->error) - 1;
			memcpy(h->error, err + 7, el);
			h->error[el] = '\0';
			if (strcmp(h->error, "-") == 0)
				h->error[0] = '\0';
		}
		n++;
	}
	return n;
}

/* "pool NAME connections=N delivered=N deferred=N bounced=N
 * addresses=N destinations=LIST" */
static int
ctl_pool(const char *line, struct pool *p)
{
	long long c, dl, df, b, na;

	memset(p, 0, sizeof(*p));
	if (sscanf(line, "pool %" CTL_STR(CTL_NAME_MAX) "s connections=%lld "
	    "delivered=%lld deferred=%lld bounced=%lld addresses=%lld "
	    "destinations=%1023s",
	    p->name, &c, &dl, &df, &b, &na, p->dests) != 7)
		return -1;
	p->connections = c;
	p->delivered = dl;
	p->deferred = df;
	p->bounced = b;
	return 0;
}

/* "address POOL IP helo=HOST connections=N", of the last pool. */
static int
ctl_paddr(const char *line, const struct snapshot *s, struct paddr *a)
{
	char pool[CTL_NAME_MAX + 1];
	long long c;

	memset(a, 0, sizeof(*a));
	if (s->npool == 0 || sscanf(line, "address %" CTL_STR(CTL_NAME_MAX)
	    "s %63s helo=%255s connections=%lld", pool, a->address, a->helo,
	    &c) != 4 ||
	    strcmp(pool, s->pool[s->npool - 1].name) != 0)
		return -1;
	a->pool = s->npool - 1;
	a->connections = c;
	return 0;
}

/* A pool gets a row of its own only if it has no address. */
static void
ctl_pool_row(struct snapshot *s, int had)
{
	struct paddr *a;

	if (s->npool == 0 || s->npaddr > had || s->npaddr == PADDR_MAX)
		return;
	a = &s->paddr[s->npaddr++];
	memset(a, 0, sizeof(*a));
	a->pool = s->npool - 1;
	gw_strlcpy(a->address, "-", sizeof(a->address));
	gw_strlcpy(a->helo, "-", sizeof(a->helo));
}

int
ctl_pools(char *text, struct snapshot *s)
{
	char *line, *save = NULL;
	int ended = 0, had = 0;

	s->npool = s->npaddr = 0;
	for (line = strtok_r(text, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strcmp(line, "end") == 0) {
			ended = 1;
			break;
		}
		if (strncmp(line, "pool ", 5) == 0 && s->npool < POOL_MAX) {
			ctl_pool_row(s, had);
			if (ctl_pool(line, &s->pool[s->npool]) == 0) {
				s->npool++;
				had = s->npaddr;
			}
		} else if (strncmp(line, "address ", 8) == 0 &&
		    s->npaddr < PADDR_MAX &&
		    ctl_paddr(line, s, &s->paddr[s->npaddr]) == 0)
			s->npaddr++;
	}
	ctl_pool_row(s, had);
	return ended ? 0 : -1;
}

/* "sub NAME enabled=0|1 quota_hour=N used_hour=N quota_day=N used_day=N
 * paused=0|1 [reason=TEXT]": the reason runs to the end of the line. */
static int
ctl_sub(const char *line, struct snapshot *s)
{
	char name[CTL_NAME_MAX + 1];
	long long qh, uh, qd, ud;
	int en, pa, used = 0;
	struct sub *u;

	if (sscanf(line, "sub %" CTL_STR(CTL_NAME_MAX) "s enabled=%d "
	    "quota_hour=%lld used_hour=%lld quota_day=%lld used_day=%lld "
	    "paused=%d%n", name, &en, &qh, &uh,
	    &qd, &ud, &pa, &used) != 7 || used == 0 ||
	    (u = model_sub(s, name)) == NULL)
		return -1;
	u->known = 1;
	u->enabled = en;
	u->paused = pa != 0;
	u->quota_hour = qh;
	u->used_hour = uh;
	u->quota_day = qd;
	u->used_day = ud;
	u->reason[0] = '\0';
	if (u->paused && strncmp(line + used, " reason=", 8) == 0)
		gw_strlcpy(u->reason, line + used + 8, sizeof(u->reason));
	else if (u->paused)
		gw_strlcpy(u->reason, "-", sizeof(u->reason));
	return 0;
}

int
ctl_subaccounts(char *text, struct snapshot *s)
{
	char *line, *save = NULL;
	int n = 0;

	if (strncmp(text, "error", 5) == 0)
		return -1;	/* a gwd without the command */
	for (line = strtok_r(text, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "sub ", 4) == 0 && ctl_sub(line, s) == 0)
			n++;
	return n;
}
