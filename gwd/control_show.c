/*
 * control_show.c - the control socket's read-only reports beside
 * `stats` (control.c): `destinations [N]`, `pools` and `subaccounts`,
 * each written whole into the answer buffer.
 * Exposure: the one argument (the count of `destinations`) is parsed and
 * bounded here; values that came from outside gwd (a remote reply, a
 * pause reason) have control bytes replaced by '?', one line each.
 * Diagnostics: none; a bad count is answered with an "error" line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "auth.h"
#include "buf.h"
#include "control_show.h"
#include "ctlproto.h"
#include "pause.h"
#include "queue.h"
#include "quota.h"
#include "smarthost.h"
#include "util.h"

/*
 * `destinations [N]`: the N (default and at most CTL_DEST_MAX) domains
 * with the most queued recipients, one line each after a line naming the
 * age buckets in minutes (ctlproto.h).  via= is the destination the
 * domain goes through ("-": none now), with its throttle state: limit=
 * connections at most, window= allowed now, gap_ms= between messages,
 * per_minute= (0: no limit), throttled=1 while backing off, health=
 * UP/TOTAL of its smarthosts (0/0: it goes by MX), tls= the TLS policy
 * of the last attempt through it that connected ("-": none yet) and
 * tls_verified= its result (1, 0, -1: no TLS).  The error is a
 * remote reply, last: control bytes become '?' so it stays one line.
 * Then one line per smarthost of gwd.conf and the rules
 * (smarthost.h: "smarthost HOST:PORT up=0|1 failures=N successes=N
 * changed=UNIX error=TEXT").
 */
/* One whole line or nothing: a full buffer never cuts a line. */
static int
write_dest(struct buf *out, const struct queue_dest *d)
{
	char err[sizeof(d->error)], age[CTL_AGES * 12], line[2048];
	size_t o = 0;

	gw_strlcpy(err, d->error[0] ? d->error : "-", sizeof(err));
	for (char *p = err; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	for (int i = 0; i < CTL_AGES; i++)
		o += (size_t)snprintf(age + o, sizeof(age) - o, "%s%d",
		    i ? "," : "", d->age[i]);
	if (snprintf(line, sizeof(line), "dest %s queued=%d active=%d "
	    "waiting=%d connections=%d next_attempt=%lld age=%s via=%s "
	    "limit=%d window=%d gap_ms=%lld per_minute=%d throttled=%d "
	    "health=%d/%d tls=%s tls_verified=%d error=%s\n", d->name,
	    d->queued, d->active, d->waiting, d->connections,
	    (long long)d->next_attempt, age, d->via[0] ? d->via : "-",
	    d->limit, d->window, (long long)d->gap_ms, d->per_minute,
	    d->throttled, d->sh_up, d->sh_total, d->tls[0] ? d->tls : "-",
	    d->tls[0] ? d->tls_verified : -1, err) >=
	    (int)sizeof(line))
		return -1;
	return buf_puts(out, line);
}

void
control_show_destinations(struct buf *out, const char *arg)
{
	struct queue_dest *d;
	char *end;
	long max = CTL_DEST_MAX;
	int n;

	if (*arg != '\0')
		max = strtol(arg, &end, 10);
	if (*arg != '\0' && (end == arg || *end != '\0' || max < 1 ||
	    max > CTL_DEST_MAX)) {
		buf_printf(out, "error count: expected 1 to %d\n",
		    CTL_DEST_MAX);
		return;
	}
	n = queue_destinations(&d);
	buf_puts(out, "buckets");
	for (int i = 0; i < CTL_AGES - 1; i++)
		buf_printf(out, " %d", ctl_age_min[i]);
	buf_printf(out, " %d+\n", ctl_age_min[CTL_AGES - 2]);
	for (int i = 0; i < n && i < max; i++)
		if (write_dest(out, &d[i]) == -1)
			break;
	free(d);
	smarthost_control(out);
}

/* One "sub" line: quotas and their use, paused or not. */
static void
write_sub(const struct subaccount *sa, void *arg)
{
	struct buf *out = arg;
	const char *why = pause_reason(sa->name);
	int64_t hour, day;
	char clean[256];

	quota_usage(sa, now_us(), &hour, &day);
	buf_printf(out, "sub %s enabled=%d quota_hour=%lld used_hour=%lld "
	    "quota_day=%lld used_day=%lld paused=%d", sa->name, sa->enabled,
	    (long long)sa->quota_hour, (long long)hour,
	    (long long)sa->quota_day, (long long)day, why != NULL);
	if (why) {
		size_t i;

		for (i = 0; why[i] && i < sizeof(clean) - 1; i++)
			clean[i] = (unsigned char)why[i] < 0x20 ? '?' : why[i];
		clean[i] = '\0';
		buf_printf(out, " reason=%s", clean);
	}
	buf_putc(out, '\n');
}

/*
 * `pools`: each IP pool of the current policy, then its addresses:
 *
 *   pool NAME connections=N delivered=N deferred=N bounced=N
 *       addresses=N destinations=DEST,...|-
 *   address NAME IP helo=HOST connections=N
 *
 * and "end".  Counts are recipients since gwd started (expired ones
 * count as bounced); connections are those open now, per source
 * address and for the whole pool.  Destinations are those sending from
 * the pool now.  Every value is from gw.db (checked by gwctl) or gwd.
 */
void
control_show_pools(struct buf *out, const char *arg)
{
	struct queue_pool *p;
	int n = queue_pools(&p);

	for (int i = 0; i < n; i++) {
		buf_printf(out, "pool %s connections=%d delivered=%lld "
		    "deferred=%lld bounced=%lld addresses=%d destinations=%s\n",
		    p[i].name, p[i].connections, (long long)p[i].delivered,
		    (long long)p[i].deferred, (long long)p[i].bounced,
		    p[i].naddr, p[i].dests[0] ? p[i].dests : "-");
		for (int a = 0; a < p[i].naddr; a++)
			buf_printf(out, "address %s %s helo=%s connections=%d\n",
			    p[i].name, p[i].addr[a].address, p[i].addr[a].helo,
			    p[i].addr[a].connections);
	}
	buf_puts(out, "end\n");
	queue_pools_free(p, n);
}

/* `subaccounts`: one "sub" line each. */
void
control_show_subaccounts(struct buf *out, const char *arg)
{
	accounts_foreach(write_sub, out);
}
