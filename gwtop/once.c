/*
 * once.c - gwtop --once: one snapshot as key=value lines (like
 * `smtpctl show stats`) or as one JSON object with the same keys nested
 * at their dots ("queue.ready" -> {"queue":{"ready":...}}).
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

static void
once_body(struct once *p, const struct snapshot *s)
{
	char key[64], t[40];

	fmt_rfc3339(s->now_us, t, sizeof(t));
	once_str(p, "time", t);
	once_str(p, "gwd", s->gwd);
	if (s->live.ok) {
		once_int(p, "gwd.uptime_s", s->live.uptime_s);
		once_int(p, "gwd.sessions", s->live.sessions);
		once_int(p, "gwd.connections_out", s->live.connections_out);
		once_int(p, "gwd.received_total", s->live.received_total);
		once_int(p, "gwd.delivered_total", s->live.delivered_total);
		once_int(p, "gwd.deferred_total", s->live.deferred_total);
		once_int(p, "gwd.bounced_total", s->live.bounced_total);
	}
	once_int(p, "queue.recipients", s->rcpt_total);
	once_int(p, "queue.ready", s->rcpt_ready);
	once_int(p, "queue.deferred", s->rcpt_deferred);
	once_int(p, "queue.messages", s->messages);
	once_int(p, "queue.oldest_age_s", s->oldest_age_s);
	for (int w = 0; w < NWIN; w++)
		for (int a = 0; a < NACT; a++) {
			snprintf(key, sizeof(key), "events.%s.%s", win_name[w],
			    act_name[a]);
			once_int(p, key, s->count[w][a]);
		}
	for (int w = 0; w < NWIN; w++)
		once_rates(p, s, (enum win)w);
}

int
once_print(const struct snapshot *s, int json)
{
	struct once p = { .json = json };
	struct buf b;

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
