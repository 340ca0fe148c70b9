/*
 * suppress.c - the suppression list in gwd (see suppress.h).
 *
 * Keys are "SUBACCOUNT\nADDRESS" with the address in the form of
 * addr_key(): one spelling ("victim"@d is victim@d), in lower case, local
 * part included (the subaccount "" for global admin entries); a newline
 * can be in neither a subaccount name nor an address.  Rows are keyed
 * the same way when they are read, so rows an older gw wrote in another
 * spelling still refuse.
 * Exposure: addresses come from RCPT TO (already parsed), reasons from
 * remote replies (made printable by reply.c; cut and flattened here
 * before they go into a reply line) and from gwctl.
 * Diagnostics: dies only when memory runs out; suppress_init() returns
 * -1 with the reason in err at start-up, suppress_load_admin() -1
 * keeping the previous list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "buf.h"
#include "cluster.h"
#include "conn.h"
#include "control_commit.h"
#include "ctlproto.h"
#include "db.h"
#include "hmap.h"
#include "log.h"
#include "store.h"
#include "suppress.h"
#include "util.h"

#define KEY_MAX		(CTL_NAME_MAX + 1 + ADDR_PATH_MAX + 1)

static struct hmap	 admin;		/* gw.db's entries */
static struct hmap	 bounced;	/* gwd's, queue.db */
static struct hmap	 shared;	/* the cluster's (cluster_supp.c) */
static int		 ready;

static void
supp_free(void *v)
{
	struct suppression *s = v;

	if (s) {
		free(s->reason);
		free(s->source);
		free(s);
	}
}

static struct suppression *
supp_new(const char *reason, const char *source, int64_t created)
{
	struct suppression *s = xcalloc(1, sizeof(*s));

	s->reason = xstrdup(reason ? reason : "");
	/* A copy: suppress_add() passes its caller's `why`, which need
	 * not outlive the call. */
	s->source = xstrdup(source);
	s->created = created;
	return s;
}

/* 0, or -1 when either part is too long to be on the list. */
static int
make_key(char out[KEY_MAX], const char *sub, const char *addr)
{
	int n = snprintf(out, KEY_MAX, "%s\n", sub ? sub : "");

	if (n < 0 || n >= KEY_MAX)
		return -1;
	return addr_key(addr, out + n, KEY_MAX - (size_t)n);
}

/* The maps exist from the first use on (gw.db is read before queue.db). */
static void
supp_ready(void)
{
	if (!ready) {
		hmap_init(&admin);
		hmap_init(&bounced);
		hmap_init(&shared);
		ready = 1;
	}
}

static const char *
source_of(const char *s)
{
	return s && strcmp(s, "import") == 0 ? "import" : "admin";
}

int
suppress_load_admin(sqlite3 *gdb)
{
	struct hmap m;
	sqlite3_stmt *st;
	char key[KEY_MAX];
	int n = 0, rc;

	supp_ready();
	if (sqlite3_prepare_v2(gdb, "SELECT ifnull(s.name, ''), p.address,"
	    " p.reason, p.source, p.created FROM suppression p LEFT JOIN"
	    " subaccount s ON s.id = p.subaccount_id", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	hmap_init(&m);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (make_key(key, (const char *)sqlite3_column_text(st, 0),
		    (const char *)sqlite3_column_text(st, 1)) == -1)
			continue;
		supp_free(hmap_put(&m, key, supp_new((const char *)
		    sqlite3_column_text(st, 2), source_of((const char *)
		    sqlite3_column_text(st, 3)), sqlite3_column_int64(st, 4))));
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		hmap_free(&m, supp_free);
		return -1;
	}
	hmap_free(&admin, supp_free);
	admin = m;
	return n;
}

int
suppress_init(const char *state_dir, char *err, size_t errsz)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char key[KEY_MAX];
	const char *reason;
	int n = 0, rc;

	supp_ready();
	if ((db = db_open(state_dir, DB_QUEUE, DB_RDONLY, err, errsz)) ==
	    NULL)
		return -1;
	st = db_prepare(db, "SELECT subaccount, address, reason, created"
	    " FROM suppression");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (make_key(key, (const char *)sqlite3_column_text(st, 0),
		    (const char *)sqlite3_column_text(st, 1)) == -1)
			continue;
		reason = (const char *)sqlite3_column_text(st, 2);
		supp_free(hmap_put(&bounced, key, supp_new(reason,
		    reason && strcmp(reason, SUPPRESS_UNSUBSCRIBE) == 0 ?
		    "unsubscribe" : "bounce", sqlite3_column_int64(st, 3))));
		n++;
	}
	if (rc != SQLITE_DONE)
		snprintf(err, errsz, "queue.db: suppression: %s",
		    sqlite3_errmsg(db));
	sqlite3_finalize(st);
	db_close(db);
	if (rc != SQLITE_DONE)
		return -1;
	log_info("suppression list: %zu admin entries, %d from bounces",
	    hmap_count(&admin), n);
	return 0;
}

/* gwd's own entry: in memory now, in queue.db with op.  -1 when the
 * address has no key (then nothing is done). */
static int
suppress_put(struct store_op *op, const char *subaccount, const char *addr,
    const char *reason, const char *source, int64_t now)
{
	char key[KEY_MAX];

	if (subaccount == NULL || subaccount[0] == '\0' ||
	    make_key(key, subaccount, addr) == -1)
		return -1;
	supp_free(hmap_put(&bounced, key, supp_new(reason, source, now)));
	store_op_supp(op, 0, subaccount, strchr(key, '\n') + 1, reason, now);
	cluster_suppress_publish(1, key, reason, source, now);
	return 0;
}

const struct suppression *
suppress_find(const char *subaccount, const char *addr)
{
	struct suppression *s;
	char key[KEY_MAX];

	supp_ready();
	if (make_key(key, subaccount, addr) == -1)
		return NULL;
	if ((s = hmap_get(&bounced, key)) != NULL ||
	    (s = hmap_get(&admin, key)) != NULL ||
	    (s = hmap_get(&shared, key)) != NULL)
		return s;
	if (make_key(key, "", addr) == -1)
		return NULL;
	if ((s = hmap_get(&admin, key)) != NULL)
		return s;
	return hmap_get(&shared, key);
}

/* The names a shared entry's source may have (suppression.source). */
static const char *
shared_source(const char *s)
{
	static const char *const names[] = { "admin", "import", "bounce",
	    "unsubscribe", "complaint" };

	for (size_t i = 0; i < nitems(names); i++)
		if (strcmp(s, names[i]) == 0)
			return names[i];
	return "admin";
}

/*
 * From another node or gwctl, through Redis: checked as untrusted, the
 * key made again from its parts (so it is in addr_key()'s form whoever
 * wrote it), the reason flattened to printable ASCII and cut, since it
 * goes into a reply line.
 */
void
suppress_shared(int add, const char *rkey, const char *reason,
    const char *source, int64_t created)
{
	char key[KEY_MAX], sub[CTL_NAME_MAX + 1], r[SUPPRESS_REASON_MAX + 1];
	const char *nl = strchr(rkey, '\n');
	size_t sublen;

	supp_ready();
	if (nl == NULL || (sublen = (size_t)(nl - rkey)) > CTL_NAME_MAX)
		return;
	memcpy(sub, rkey, sublen);
	sub[sublen] = '\0';
	if (make_key(key, sub, nl + 1) == -1)
		return;
	if (!add) {
		supp_free(hmap_del(&shared, key));
		return;
	}
	gw_strlcpy(r, reason, sizeof(r));
	for (char *p = r; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = ' ';
	supp_free(hmap_put(&shared, key, supp_new(r, shared_source(source),
	    created)));
}

void
suppress_bounce(struct store_op *op, const char *subaccount,
    const char *addr, const char *reply)
{
	suppress_add(op, subaccount, addr, "hard bounce", reply);
}

void
suppress_add(struct store_op *op, const char *subaccount, const char *addr,
    const char *why, const char *text)
{
	char day[16], reason[SUPPRESS_REASON_MAX + 1];
	time_t now = time(NULL);
	struct tm tm;
	int n;

	gmtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	/* One line, bounded: it goes into a 550 reply at each RCPT. */
	n = snprintf(reason, sizeof(reason), "%s %s: %s", why, day,
	    text ? text : "");
	if (n < 0)
		return;
	for (char *p = reason; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = ' ';
	suppress_put(op, subaccount, addr, reason, strcmp(why, "hard bounce") ==
	    0 ? "bounce" : why, (int64_t)now);
}

int
suppress_unsubscribe(struct store_op *op, const char *subaccount,
    const char *addr)
{
	return suppress_put(op, subaccount, addr, SUPPRESS_UNSUBSCRIBE,
	    "unsubscribe", (int64_t)time(NULL));
}

void
suppress_forget(const char *subaccount, const char *addr)
{
	char key[KEY_MAX];

	if (make_key(key, subaccount, addr) == 0)
		supp_free(hmap_del(&bounced, key));
}

/* Control socket. */

static void
deleted(struct store_op *op, void *arg, struct buf *out)
{
	struct suppression *old = arg;
	char key[KEY_MAX];

	if (op->failed) {
		/* Not deleted after all: back in memory, as on disk. */
		log_warnx("suppression delete not stored: %s", op->error);
		if (make_key(key, op->supp[0].subaccount,
		    op->supp[0].address) == 0) {
			supp_free(hmap_put(&bounced, key, old));
			old = NULL;
		}
		buf_printf(out, "error %s\n", op->error);
	} else {
		if (make_key(key, op->supp[0].subaccount,
		    op->supp[0].address) == 0)
			cluster_suppress_publish(0, key, "", "bounce", 0);
		buf_puts(out, "deleted 1\n");
	}
	supp_free(old);
}

void
suppress_control(struct conn *c, const char *args)
{
	char sub[CTL_NAME_MAX + 1], key[KEY_MAX];
	struct suppression *old;
	struct store_op *op;
	const char *addr;
	int n = 0;

	/* The address is the rest of the line: a quoted local part may
	 * hold spaces. */
	if (sscanf(args, "delete %" CTL_STR(CTL_NAME_MAX) "s %n", sub,
	    &n) != 1 || n == 0 ||
	    *(addr = args + n) == '\0' || strlen(addr) > ADDR_PATH_MAX) {
		conn_printf(c, "error usage: suppression delete SUBACCOUNT "
		    "ADDRESS\n");
		conn_close_after_flush(c);
		return;
	}
	if (make_key(key, sub, addr) == -1 ||
	    (old = hmap_del(&bounced, key)) == NULL) {
		conn_printf(c, "deleted 0\n");
		conn_close_after_flush(c);
		return;
	}
	/* Gone from memory now (the next RCPT may pass); "deleted" is said
	 * only after the commit, so never of an entry a crash brings back. */
	op = store_op_new();
	store_op_supp(op, 1, sub, strchr(key, '\n') + 1, NULL, 0);
	log_info("suppression: deleting %s for subaccount %s", addr, sub);
	control_commit(c, op, deleted, old);
}
