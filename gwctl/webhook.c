/*
 * webhook.c - gwctl webhook ...: where gwd posts events (gw.db's
 * webhook table; man/gw-events.7 for what is posted).
 *
 * The secret signs every request (HMAC-SHA256); gwd needs it to sign,
 * so gw.db keeps it as it is, and gwctl shows it only once, when it is
 * made.  `test` asks gwd (control socket) to post a test event and
 * prints the receiver's answer.
 * Diagnostics: each command returns a sysexits status and says why on
 * stderr; dies only when memory runs out ("output too long").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "buf.h"
#include "event.h"
#include "gwctl.h"
#include "json.h"
#include "log.h"
#include "output.h"
#include "util.h"

#define URL_MAX		2048
#define SECRET_MAX	256
#define SECRET_BYTES	32
#define TEST_WAIT_MS	(6 * 60 * 1000)	/* above webhook.timeout's max */

static int
webhook_check_url(const char *url)
{
	char esc[128];
	size_t n = strlen(url), scheme;

	scheme = strncasecmp(url, "https://", 8) == 0 ? 8 :
	    strncasecmp(url, "http://", 7) == 0 ? 7 : 0;
	if (scheme == 0 || n == scheme || n > URL_MAX ||
	    str_has_ctl(url, n) || strpbrk(url, " \"<>\\^`{|}") != NULL ||
	    url[scheme] == '/') {
		log_warnx("\"%s\" is not an http or https URL (at most %d "
		    "characters, no spaces)", log_escape(url, n, esc,
		    sizeof(esc)), URL_MAX);
		return EX_DATAERR;
	}
	return EX_OK;
}

/*
 * --events: names of EVENT_WEBHOOK_ACTIONS, comma-separated, into out
 * in the table's order, each once; none given means all of them.
 */
static int
webhook_events(const char *arg, char *out, size_t outsz)
{
	const char *all = EVENT_WEBHOOK_ACTIONS, *p, *q;
	unsigned want = 0;
	size_t n, m;
	char esc[128];
	int i;

	if (arg == NULL) {
		gw_strlcpy(out, all, outsz);
		return EX_OK;
	}
	for (p = arg;; p += n + 1) {
		n = strcspn(p, ",");
		for (i = 0, q = all; *q; q += m + (q[m] == ','), i++)
			if ((m = strcspn(q, ",")) == n &&
			    strncmp(p, q, n) == 0)
				break;
		if (n == 0 || *q == '\0') {
			log_warnx("--events \"%s\": a comma-separated list of "
			    "%s", log_escape(arg, strlen(arg), esc,
			    sizeof(esc)), all);
			return EX_DATAERR;
		}
		want |= 1u << i;
		if (p[n] == '\0')
			break;
	}
	out[0] = '\0';
	for (i = 0, q = all; *q; q += m + (q[m] == ','), i++) {
		m = strcspn(q, ",");
		if (want & (1u << i))
			snprintf(out + strlen(out), outsz - strlen(out),
			    "%s%.*s", out[0] ? "," : "", (int)m, q);
	}
	return EX_OK;
}

static int
webhook_secret(const struct args *a, char *secret, size_t sz)
{
	unsigned char raw[SECRET_BYTES];

	if (args_has(a, "--secret-stdin"))
		return ctx_read_secret("secret", SECRET_MAX, secret, sz);
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		log_warnx("no random bytes for a secret");
		return EX_SOFTWARE;
	}
	hex_encode(raw, sizeof(raw), secret);
	OPENSSL_cleanse(raw, sizeof(raw));
	return EX_OK;
}

int
webhook_add(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	const char *url = a->argv[0], *sub = args_get(a, "--subaccount");
	char events[sizeof(EVENT_WEBHOOK_ACTIONS) + 1];
	char secret[SECRET_MAX + 1];
	int64_t sid;
	int r;

	if ((r = webhook_check_url(url)) != EX_OK ||
	    (r = webhook_events(args_get(a, "--events"), events,
	    sizeof(events))) != EX_OK ||
	    (r = ctx_db(ctx)) != EX_OK ||
	    (sub && (r = subaccount_lookup(ctx, sub, &sid)) != EX_OK) ||
	    (r = webhook_secret(a, secret, sizeof(secret))) != EX_OK)
		return r;
	if ((r = ctx_exec(ctx, NULL, "INSERT INTO webhook (url, subaccount, "
	    "events, secret, created) VALUES (?, ?, ?, ?, ?)", "tttti", url,
	    sub, events, secret, ctx_now())) == EX_OK) {
		printf("webhook: %lld\n", (long long)sqlite3_last_insert_rowid(
		    ctx->db));
		if (!args_has(a, "--secret-stdin"))
			printf("secret: %s\n", secret);
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	return r;
}

/* "a,b" -> ["a","b"] */
static void
webhook_events_json(struct buf *b, const char *list)
{
	struct output_strv v;
	char *copy = xstrdup(list), *p, *save = NULL;

	memset(&v, 0, sizeof(v));
	for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save))
		output_strv_add(&v, p);
	output_strv_json(&v, b);
	output_strv_free(&v);
	free(copy);
}

static void
webhook_print_json(sqlite3_stmt *st)
{
	struct json_obj o;
	struct buf b, ev;
	char t[32];

	output_time(sqlite3_column_int64(st, 4), t, sizeof(t));
	buf_init(&b, 0);
	buf_init(&ev, 0);
	json_obj_begin(&o, &b);
	json_obj_int(&o, "id", sqlite3_column_int64(st, 0));
	json_obj_str(&o, "url", (const char *)sqlite3_column_text(st, 1));
	json_obj_str_or_null(&o, "subaccount",
	    (const char *)sqlite3_column_text(st, 2));
	webhook_events_json(&ev, (const char *)sqlite3_column_text(st, 3));
	json_obj_raw(&o, "events", buf_cstr(&ev));
	json_obj_str(&o, "created", t);
	if (json_obj_end(&o) == -1)
		fatalx("output too long");
	printf("%s\n", buf_cstr(&b));
	buf_free(&ev);
	buf_free(&b);
}

static void
webhook_table_row(struct output_table *t, sqlite3_stmt *st)
{
	char id[24], ts[32];
	const char *sub = (const char *)sqlite3_column_text(st, 2);

	snprintf(id, sizeof(id), "%lld", (long long)sqlite3_column_int64(st,
	    0));
	output_time(sqlite3_column_int64(st, 4), ts, sizeof(ts));
	output_table_row(t, id, (const char *)sqlite3_column_text(st, 1),
	    sub ? sub : "*", (const char *)sqlite3_column_text(st, 3), ts);
}

int
webhook_list(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	struct output_table t;
	sqlite3_stmt *st;
	int r, json;

	if ((r = output_format(c, a, &json)) != EX_OK ||
	    (r = ctx_db(ctx)) != EX_OK)
		return r;
	if ((st = ctx_stmt(ctx, "SELECT id, url, subaccount, events, created "
	    "FROM webhook ORDER BY id", "")) == NULL)
		return EX_SOFTWARE;
	output_table_init(&t, 5, "ID", "URL", "SUBACCOUNT", "EVENTS",
	    "CREATED");
	return output_list(ctx, st, json, &t, webhook_print_json, webhook_table_row);
}

/* The ID argument, a positive number naming a row: EX_OK, or said. */
static int
webhook_id(struct ctx *ctx, const char *arg, long long *id)
{
	sqlite3_stmt *st;
	char esc[64], *end;
	int rc;

	*id = strtoll(arg, &end, 10);
	if (*arg < '1' || *arg > '9' || *end != '\0' || *id <= 0) {
		log_warnx("\"%s\" is not a webhook id (gwctl webhook list)",
		    log_escape(arg, strlen(arg), esc, sizeof(esc)));
		return EX_DATAERR;
	}
	if ((st = ctx_stmt(ctx, "SELECT 1 FROM webhook WHERE id = ?", "i",
	    (int64_t)*id)) == NULL)
		return EX_SOFTWARE;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE) {
		log_warnx("no webhook %lld", *id);
		return EX_NOUSER;
	}
	return rc == SQLITE_ROW ? EX_OK : ctx_sqlerr(ctx, "gw.db");
}

int
webhook_delete(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	long long id;
	int r;

	if ((r = ctx_db(ctx)) != EX_OK ||
	    (r = webhook_id(ctx, a->argv[0], &id)) != EX_OK)
		return r;
	return ctx_exec(ctx, NULL, "DELETE FROM webhook WHERE id = ?", "i",
	    (int64_t)id);
}

/* Print gwd's "key value" answer as "key: value" lines; the status. */
static long
webhook_print_answer(const char *p)
{
	long status = 0;

	while (*p && strncmp(p, "end\n", 4) != 0) {
		size_t n = strcspn(p, "\n"), k = strcspn(p, " \n");

		if (k == 6 && strncmp(p, "status", 6) == 0)
			status = strtol(p + 7, NULL, 10);
		printf("%.*s:%.*s\n", (int)k, p, (int)(n - k), p + k);
		p += n + (p[n] == '\n');
	}
	return status;
}

int
webhook_test(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	char line[64];
	struct buf reply;
	long long id;
	long status;
	int r;

	if ((r = ctx_db(ctx)) != EX_OK ||
	    (r = webhook_id(ctx, a->argv[0], &id)) != EX_OK)
		return r;
	snprintf(line, sizeof(line), "webhook test %lld", id);
	buf_init(&reply, 64 * 1024);
	if ((r = control_exchange(ctx, line, &reply, TEST_WAIT_MS)) != EX_OK ||
	    (buf_len(&reply) == 0 && (r = control_unanswered()))) {
		buf_free(&reply);
		return r;
	}
	if (strncmp(buf_cstr(&reply), "error ", 6) == 0) {
		log_warnx("gwd: %.*s", (int)strcspn(buf_cstr(&reply) + 6,
		    "\n"), buf_cstr(&reply) + 6);
		buf_free(&reply);
		return EX_SOFTWARE;
	}
	status = webhook_print_answer(buf_cstr(&reply));
	buf_free(&reply);
	/* The receiver did not take it: as a failed delivery would be. */
	return status >= 200 && status < 300 ? EX_OK : EX_UNAVAILABLE;
}
