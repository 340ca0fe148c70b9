/*
 * once.c - gwtop --once: one snapshot as key=value lines (like
 * `smtpctl show stats`) or as one JSON object with the same keys nested
 * at their dots ("queue.ready" -> {"queue":{"ready":...}}), so no key
 * may be both a value and a prefix ("gwd.state", not "gwd").
 * --screen destinations: the queue by destination and age, as qshape
 * prints it (a table) or as JSON.
 * Diagnostics: dies only when memory runs out; missing or unreadable
 * databases are 66 or 69, gwd not answering `destinations` 69, with the
 * reasons on stderr.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "buf.h"
#include "gwtop.h"
#include "json.h"
#include "log.h"
#include "util.h"

struct once {
	int		 json;
	struct json_obj	 o;
};

/* value is in JSON syntax already (a number, null or a string). */
static void
once_put(struct once *p, const char *key, const char *text,
    const char *json)
{
	if (p->json)
		json_obj_raw(&p->o, key, json);
	else
		printf("%s=%s\n", key, text);
}

static void
once_int(struct once *p, const char *key, int64_t v)
{
	char num[32];

	snprintf(num, sizeof(num), "%lld", (long long)v);
	once_put(p, key, num, num);
}

static void
once_str(struct once *p, const char *key, const char *v)
{
	if (p->json)
		json_obj_str(&p->o, key, v);
	else
		printf("%s=%s\n", key, v);
}

static void
once_rates(struct once *p, const struct snapshot *s, enum win w)
{
	char key[64], v[32];

	for (int r = 0; r < NRATE; r++) {
		double d = rates_get(s, w, (enum rate)r);

		snprintf(key, sizeof(key), "rates.%s.%s", win_name[w],
		    rate_name[r]);
		rates_format((enum rate)r, d, v, sizeof(v));
		once_put(p, key, v, d < 0 ? "null" : v);
	}
}

/* A pool's addresses as JSON objects, or as "IP,IP" in text. */
static void
once_paddrs(const struct snapshot *s, int pool, int json, struct buf *b)
{
	int n = 0;

	for (int i = 0; i < s->npaddr; i++) {
		const struct paddr *a = &s->paddr[i];

		if (a->pool != pool || a->address[0] == '-')
			continue;
		if (n++)
			buf_puts(b, ",");
		if (!json) {
			buf_puts(b, a->address);
			continue;
		}
		buf_puts(b, "{\"address\":");
		json_string(b, a->address);
		buf_puts(b, ",\"helo\":");
		json_string(b, a->helo);
		buf_printf(b, ",\"connections\":%lld}",
		    (long long)a->connections);
	}
}

/* JSON: "pools": [{"name", figures, "destinations": [...],
 * "addresses": [{"address", "helo", "connections"}]}]. */
static void
once_pools_json(struct once *p, const struct snapshot *s)
{
	struct buf b;

	buf_init(&b, 0);
	buf_puts(&b, "[");
	for (int i = 0; i < s->npool; i++) {
		const struct pool *pl = &s->pool[i];
		char *d, *save = NULL, dests[sizeof(pl->dests)];
		int n = 0;

		buf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
		json_string(&b, pl->name);
		buf_printf(&b, ",\"connections\":%lld,\"delivered\":%lld,"
		    "\"deferred\":%lld,\"bounced\":%lld,\"destinations\":[",
		    (long long)pl->connections, (long long)pl->delivered,
		    (long long)pl->deferred, (long long)pl->bounced);
		gw_strlcpy(dests, strcmp(pl->dests, "-") ? pl->dests : "",
		    sizeof(dests));
		for (d = strtok_r(dests, ",", &save); d;
		    d = strtok_r(NULL, ",", &save)) {
			if (n++)
				buf_puts(&b, ",");
			json_string(&b, d);
		}
		buf_puts(&b, "],\"addresses\":[");
		once_paddrs(s, i, 1, &b);
		buf_puts(&b, "]}");
	}
	buf_puts(&b, "]");
	json_obj_raw(&p->o, "pools", buf_cstr(&b));
	buf_free(&b);
}

/* Text: pools.NAME.KEY=VALUE (pool names have no dots). */
static void
once_pools(struct once *p, const struct snapshot *s)
{
	static const char *const keys[] = { "connections", "delivered",
	    "deferred", "bounced" };
	char key[192];
	struct buf b;

	if (!s->pools_ok)
		return;
	if (p->json) {
		once_pools_json(p, s);
		return;
	}
	for (int i = 0; i < s->npool; i++) {
		const struct pool *pl = &s->pool[i];
		const int64_t v[] = { pl->connections, pl->delivered,
		    pl->deferred, pl->bounced };

		for (size_t k = 0; k < nitems(keys); k++) {
			snprintf(key, sizeof(key), "pools.%s.%s", pl->name,
			    keys[k]);
			once_int(p, key, v[k]);
		}
		buf_init(&b, 0);
		once_paddrs(s, i, 0, &b);
		snprintf(key, sizeof(key), "pools.%s.addresses", pl->name);
		once_str(p, key, buf_len(&b) ? buf_cstr(&b) : "-");
		buf_free(&b);
		snprintf(key, sizeof(key), "pools.%s.destinations", pl->name);
		once_str(p, key, pl->dests);
	}
}

/*
 * The subaccounts gwd knows: subaccounts.NAME.KEY=VALUE in text (names
 * have no dots), and in JSON "subaccounts": [{"name", quotas and their
 * use, "paused": true|false, "reason": text or null}].
 */
static void
once_subs(struct once *p, const struct snapshot *s)
{
	static const char *const keys[] = { "quota_hour", "used_hour",
	    "quota_day", "used_day", "paused" };
	char key[192];
	struct buf b;
	int n = 0;

	if (!s->subs_ok)
		return;
	buf_init(&b, 0);
	buf_puts(&b, "[");
	for (int i = 0; i < s->nsub; i++) {
		const struct sub *u = &s->sub[i];
		const int64_t v[] = { u->quota_hour, u->used_hour,
		    u->quota_day, u->used_day, u->paused };

		if (!u->known)
			continue;
		if (p->json) {
			buf_puts(&b, n++ ? ",{\"name\":" : "{\"name\":");
			json_string(&b, u->name);
			buf_printf(&b, ",\"enabled\":%s,\"quota_hour\":%lld,"
			    "\"used_hour\":%lld,\"quota_day\":%lld,"
			    "\"used_day\":%lld,\"paused\":%s,\"reason\":",
			    u->enabled ? "true" : "false",
			    (long long)u->quota_hour, (long long)u->used_hour,
			    (long long)u->quota_day, (long long)u->used_day,
			    u->paused ? "true" : "false");
			if (u->paused)
				json_string(&b, u->reason);
			else
				buf_puts(&b, "null");
			buf_puts(&b, "}");
			continue;
		}
		for (size_t k = 0; k < nitems(keys); k++) {
			snprintf(key, sizeof(key), "subaccounts.%s.%s",
			    u->name, keys[k]);
			once_int(p, key, v[k]);
		}
		if (u->paused) {
			snprintf(key, sizeof(key), "subaccounts.%s.reason",
			    u->name);
			once_str(p, key, u->reason);
		}
	}
	buf_puts(&b, "]");
	if (p->json)
		json_obj_raw(&p->o, "subaccounts", buf_cstr(&b));
	buf_free(&b);
}

static void
once_body(struct once *p, const struct snapshot *s)
{
	char key[64], t[40];

	fmt_rfc3339(s->now_us, t, sizeof(t));
	once_str(p, "time", t);
	once_str(p, "gwd.state", s->gwd);
	if (s->live.ok) {
		once_int(p, "gwd.uptime_s", s->live.uptime_s);
		once_int(p, "gwd.sessions", s->live.sessions);
		once_int(p, "gwd.connections_out", s->live.connections_out);
		once_int(p, "gwd.received_total", s->live.received_total);
		once_int(p, "gwd.delivered_total", s->live.delivered_total);
		once_int(p, "gwd.deferred_total", s->live.deferred_total);
		once_int(p, "gwd.bounced_total", s->live.bounced_total);
		once_int(p, "gwd.cluster_degraded",
		    s->live.cluster_degraded);
	}
	once_int(p, "queue.recipients", s->rcpt_total);
	once_int(p, "queue.ready", s->rcpt_ready);
	once_int(p, "queue.deferred", s->rcpt_deferred);
	once_int(p, "queue.messages", s->messages);
	once_int(p, "queue.oldest_age_s", s->oldest_age_s);
	for (int w = 0; w < NWIN; w++)
		for (int a = 0; a < NACT; a++) {
			snprintf(key, sizeof(key), "events.%s.%s", win_name[w],
			    event_name((enum event_action)a));
			once_int(p, key, s->count[w][a]);
		}
	for (int w = 0; w < NWIN; w++)
		once_rates(p, s, (enum win)w);
	once_pools(p, s);
	once_subs(p, s);
}

/* "2/4,500ms" (allowed of the limit, gap), "ok", or "-" from a gwd
 * that does not say: one word, for awk. */
static void
once_throttle(const struct dest *d, char *out, size_t n)
{
	if (!d->has_throttle)
		snprintf(out, n, "-");
	else if (!d->throttled)
		snprintf(out, n, "ok");
	else
		snprintf(out, n, "%lld/%lld,%lldms", (long long)d->window,
		    (long long)d->limit, (long long)d->gap_ms);
}

/* The last attempt's TLS, one word: "dane/ok", "mta-sts/no",
 * "opportunistic/-" (no TLS), or "-" (none yet). */
static void
once_tls(const struct dest *d, char *out, size_t n)
{
	if (!d->has_tls)
		snprintf(out, n, "-");
	else
		snprintf(out, n, "%s/%s", d->tls, d->tls_verified == 1 ? "ok" :
		    d->tls_verified == 0 ? "no" : "-");
}

/* Seconds until the next attempt of what backs off; -1: none. */
static int64_t
once_next(const struct snapshot *s, const struct dest *d)
{
	int64_t in = d->next_attempt - s->now_us / 1000000;

	if (d->waiting == 0 || d->next_attempt == 0)
		return -1;
	return in > 0 ? in : 0;
}

/*
 * qshape's table: a line of titles, TOTAL, then each domain, the most
 * queued first; every field is one word but the error, which is last
 * and whole.  NEXT is in seconds.
 */
static void
once_dest_text(const struct snapshot *s)
{
	int64_t total[CTL_AGES] = { 0 }, queued = 0, active = 0, conn = 0;
	char title[16], thr[64], next[24], tls[40];

	printf("%-30s %6s", "DOMAIN", "QUEUED");
	for (int i = 0; i < CTL_AGES; i++) {
		ctl_age_title(i, title, sizeof(title));
		printf(" %5s", title);
	}
	printf(" %4s %4s %-14s %6s %-16s %s\n", "ACT", "CONN", "THROTTLE",
	    "NEXT", "TLS", "ERROR");
	for (int d = 0; d < s->ndest; d++) {
		queued += s->dest[d].queued;
		active += s->dest[d].active;
		conn += s->dest[d].connections;
		for (int i = 0; i < CTL_AGES; i++)
			total[i] += s->dest[d].age[i];
	}
	printf("%-30s %6lld", "TOTAL", (long long)queued);
	for (int i = 0; i < CTL_AGES; i++)
		printf(" %5lld", (long long)total[i]);
	printf(" %4lld %4lld\n", (long long)active, (long long)conn);
	for (int d = 0; d < s->ndest; d++) {
		const struct dest *ds = &s->dest[d];

		printf("%-30s %6lld", ds->name, (long long)ds->queued);
		for (int i = 0; i < CTL_AGES; i++)
			printf(" %5lld", (long long)ds->age[i]);
		once_throttle(ds, thr, sizeof(thr));
		if (once_next(s, ds) < 0)
			snprintf(next, sizeof(next), "-");
		else
			snprintf(next, sizeof(next), "%lld",
			    (long long)once_next(s, ds));
		once_tls(ds, tls, sizeof(tls));
		printf(" %4lld %4lld %-14s %6s %-16s %s\n",
		    (long long)ds->active, (long long)ds->connections, thr,
		    next, tls, ds->error[0] ? ds->error : "-");
	}
}

/* One destination as a JSON object into b. */
static void
once_dest_json1(const struct snapshot *s, const struct dest *d,
    struct buf *b)
{
	char t[40];

	buf_puts(b, "{\"domain\":");
	json_string(b, d->name);
	buf_printf(b, ",\"queued\":%lld,\"ages\":[", (long long)d->queued);
	for (int i = 0; i < CTL_AGES; i++)
		buf_printf(b, "%s%lld", i ? "," : "", (long long)d->age[i]);
	buf_printf(b, "],\"active\":%lld,\"waiting\":%lld,"
	    "\"connections\":%lld,\"next_attempt\":", (long long)d->active,
	    (long long)d->waiting, (long long)d->connections);
	if (once_next(s, d) < 0)
		buf_puts(b, "null");
	else {
		fmt_rfc3339(d->next_attempt * 1000000, t, sizeof(t));
		json_string(b, t);
	}
	buf_puts(b, ",\"via\":");
	json_string(b, d->has_throttle && strcmp(d->via, "-") ? d->via :
	    NULL);
	buf_puts(b, ",\"throttle\":");
	if (d->has_throttle)
		buf_printf(b, "{\"throttled\":%s,\"limit\":%lld,"
		    "\"window\":%lld,\"gap_ms\":%lld,\"per_minute\":%lld}",
		    d->throttled ? "true" : "false", (long long)d->limit,
		    (long long)d->window, (long long)d->gap_ms,
		    (long long)d->per_minute);
	else
		buf_puts(b, "null");
	buf_puts(b, ",\"health\":");
	if (d->has_health && d->sh_total > 0)
		buf_printf(b, "{\"up\":%lld,\"total\":%lld}",
		    (long long)d->sh_up, (long long)d->sh_total);
	else
		buf_puts(b, "null");
	buf_puts(b, ",\"tls\":");
	if (d->has_tls) {
		buf_puts(b, "{\"policy\":");
		json_string(b, d->tls);
		buf_printf(b, ",\"verified\":%s}", d->tls_verified == 1 ?
		    "true" : d->tls_verified == 0 ? "false" : "null");
	} else
		buf_puts(b, "null");
	buf_puts(b, ",\"error\":");
	json_string(b, d->error[0] ? d->error : NULL);
	buf_puts(b, "}");
}

/* Each smarthost's health: [{"host", "up", "failures", "successes",
 * "changed", "error"}]. */
static void
once_smarthosts_json(const struct snapshot *s, struct buf *b)
{
	char t[40];

	buf_puts(b, "[");
	for (int i = 0; i < s->nsh; i++) {
		const struct smarthost *h = &s->sh[i];

		buf_puts(b, i ? ",{\"host\":" : "{\"host\":");
		json_string(b, h->name);
		buf_printf(b, ",\"up\":%s,\"failures\":%lld,"
		    "\"successes\":%lld,\"changed\":", h->up ? "true" :
		    "false", (long long)h->failures, (long long)h->successes);
		fmt_rfc3339(h->changed * 1000000, t, sizeof(t));
		json_string(b, t);
		buf_puts(b, ",\"error\":");
		json_string(b, h->error[0] ? h->error : NULL);
		buf_puts(b, "}");
	}
	buf_puts(b, "]");
}

/* After the table: each smarthost, when there are any. */
static void
once_smarthosts_text(const struct snapshot *s)
{
	if (s->nsh == 0)
		return;
	printf("\n%-30s %4s %8s %s\n", "SMARTHOST", "UP", "FAILURES",
	    "ERROR");
	for (int i = 0; i < s->nsh; i++)
		printf("%-30s %4s %8lld %s\n", s->sh[i].name, s->sh[i].up ?
		    "up" : "down", (long long)s->sh[i].failures,
		    s->sh[i].error[0] ? s->sh[i].error : "-");
}

/* {"time", "gwd": {"state"}, "buckets": [minutes], "destinations":
 * [{...}]}: the same figures as the text. */
static int
once_dest_json(struct once *p, const struct snapshot *s)
{
	char t[40];
	struct buf b;

	fmt_rfc3339(s->now_us, t, sizeof(t));
	once_str(p, "time", t);
	once_str(p, "gwd.state", s->gwd);
	buf_init(&b, 0);
	buf_puts(&b, "[");
	for (int i = 0; i < CTL_AGES - 1; i++)
		buf_printf(&b, "%s%d", i ? "," : "", ctl_age_min[i]);
	buf_puts(&b, "]");
	json_obj_raw(&p->o, "buckets", buf_cstr(&b));
	buf_reset(&b);
	buf_puts(&b, "[");
	for (int d = 0; d < s->ndest; d++) {
		if (d)
			buf_puts(&b, ",");
		once_dest_json1(s, &s->dest[d], &b);
	}
	buf_puts(&b, "]");
	json_obj_raw(&p->o, "destinations", buf_cstr(&b));
	buf_reset(&b);
	once_smarthosts_json(s, &b);
	json_obj_raw(&p->o, "smarthosts", buf_cstr(&b));
	buf_free(&b);
	return 0;
}

/* --once --screen destinations; gwd must answer. */
static int
once_destinations(const struct snapshot *s, int json)
{
	struct once p = { .json = json };
	struct buf b;

	if (!s->dest_ok) {
		log_warnx("gwd (%s) does not answer `destinations` on its "
		    "control socket", s->gwd);
		return EX_UNAVAILABLE;
	}
	if (!json) {
		once_dest_text(s);
		once_smarthosts_text(s);
		return EX_OK;
	}
	buf_init(&b, 0);
	json_obj_begin(&p.o, &b);
	once_dest_json(&p, s);
	if (json_obj_end(&p.o) == -1)
		fatalx("output too long");
	printf("%s\n", buf_cstr(&b));
	buf_free(&b);
	return EX_OK;
}

int
once_print(const struct snapshot *s, int json, enum once_screen screen)
{
	struct once p = { .json = json };
	struct buf b;

	if (screen == ONCE_DESTINATIONS)
		return once_destinations(s, json);
	if (!s->queue_ok || !s->log_ok) {
		if (!s->queue_ok)
			log_warnx("%s", s->queue_err);
		if (!s->log_ok)
			log_warnx("%s", s->log_err);
		return s->queue_missing || s->log_missing ? EX_NOINPUT :
		    EX_UNAVAILABLE;
	}
	buf_init(&b, 0);
	if (json)
		json_obj_begin(&p.o, &b);
	once_body(&p, s);
	if (json) {
		if (json_obj_end(&p.o) == -1)
			fatalx("output too long");
		printf("%s\n", buf_cstr(&b));
	}
	buf_free(&b);
	return EX_OK;
}
