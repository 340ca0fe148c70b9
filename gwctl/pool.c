/*
 * pool.c - gwctl pool ...: IP pools, the local source addresses a
 * routing rule can send from, each with the HELO name to give for it
 * (the name its PTR record should show).
 * Diagnostics: each command returns a sysexits status and says why on
 * stderr (65 for an address this machine does not have); dies only when
 * memory runs out.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cidr.h"
#include "ctlproto.h"
#include "gwctl.h"
#include "log.h"
#include "output.h"
#include "policy.h"
#include "util.h"

static int
pool_check_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CTL_NAME_MAX)
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			goto bad;
	return EX_OK;
bad:
	log_warnx("\"%s\": a pool name has 1 to %d letters, digits, '-' and "
	    "'_'", s, CTL_NAME_MAX);
	return EX_USAGE;
}

static int
pool_check_helo(const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
			n = 0;
	if (n == 0 || n > 253) {
		log_warnx("--helo: a host name such as mta1.example.com");
		return EX_USAGE;
	}
	return EX_OK;
}

/* An address this machine has: binding to it must work. */
static int
pool_check_address(const char *s, char *canon, size_t canonsz)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, err = 0;

	if (strchr(s, '/') || sockaddr_parse(s, 0, &ss, &len) == -1 ||
	    ((struct sockaddr_in *)&ss)->sin_port != 0) {
		log_warnx("\"%s\": expected an IPv4 or IPv6 address", s);
		return EX_USAGE;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&ss, len) == -1)
		err = errno;
	if (fd != -1)
		close(fd);
	if (err == EADDRNOTAVAIL) {
		log_warnx("%s is not an address of this machine", s);
		return EX_DATAERR;
	}
	sockaddr_ntop((struct sockaddr *)&ss, canon, canonsz);
	return EX_OK;
}

int
pool_add(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	const char *helo = args_get(a, "--helo");
	char addr[64];
	int r;

	if ((r = pool_check_name(a->argv[0])) != EX_OK ||
	    (helo && (r = pool_check_helo(helo)) != EX_OK))
		return r;
	for (int i = 1; i < a->argc; i++)
		if ((r = pool_check_address(a->argv[i], addr, sizeof(addr))) !=
		    EX_OK)
			return r;
	if ((r = ctx_db(ctx)) != EX_OK || (r = ctx_begin(ctx)) != EX_OK)
		return r;
	r = ctx_exec(ctx, NULL, "INSERT INTO pool (name, created) VALUES "
	    "(?, ?) ON CONFLICT (name) DO NOTHING", "ti", a->argv[0],
	    ctx_now());
	for (int i = 1; i < a->argc && r == EX_OK; i++) {
		pool_check_address(a->argv[i], addr, sizeof(addr));
		r = ctx_exec(ctx, NULL, "INSERT INTO pool_address (pool, "
		    "address, helo) VALUES (?, ?, lower(?)) ON CONFLICT "
		    "(pool, address) DO UPDATE SET helo = excluded.helo", "ttt",
		    a->argv[0], addr, helo);
	}
	if (r != EX_OK) {
		ctx_rollback(ctx);
		return r;
	}
	return ctx_commit(ctx);
}

int
pool_list(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	struct output_table t;
	sqlite3_stmt *st;
	int r, rc, json;

	if ((r = output_format(c, a, &json)) != EX_OK ||
	    (r = ctx_db(ctx)) != EX_OK)
		return r;
	if ((st = ctx_stmt(ctx, "SELECT p.name, a.address, a.helo, "
	    "(SELECT group_concat(id, ',') FROM route_rule WHERE pool = "
	    "p.name) FROM pool p LEFT JOIN pool_address a ON a.pool = p.name "
	    "ORDER BY p.name, a.address", "")) == NULL)
		return EX_SOFTWARE;
	output_table_init(&t, 4, "POOL", "ADDRESS", "HELO", "USED BY ROUTES");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *v[4];

		for (int i = 0; i < 4; i++)
			v[i] = (const char *)sqlite3_column_text(st, i);
		if (json) {
			struct json_obj o;
			struct buf b;

			buf_init(&b, 0);
			json_obj_begin(&o, &b);
			json_obj_str_or_null(&o, "pool", v[0]);
			json_obj_str_or_null(&o, "address", v[1]);
			json_obj_str_or_null(&o, "helo", v[2]);
			json_obj_str_or_null(&o, "routes", v[3]);
			if (json_obj_end(&o) == -1)
				fatalx("output too long");
			printf("%s\n", buf_cstr(&b));
			buf_free(&b);
		} else
			output_table_row(&t, v[0], v[1], v[2] ? v[2] :
			    "(hostname)", v[3]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		r = ctx_sqlerr(ctx, "gw.db");
	else if (!json)
		output_table_print(&t, stdout);
	output_table_free(&t);
	return r;
}

/* pool delete NAME: the pool, unless a rule uses it; NAME ADDR...: those
 * addresses. */
int
pool_delete(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	char addr[64];
	sqlite3_stmt *st;
	int r, n = 0, rc;

	if ((r = ctx_db(ctx)) != EX_OK || (r = ctx_begin(ctx)) != EX_OK)
		return r;
	if (a->argc == 1) {
		if ((st = ctx_stmt(ctx, "SELECT id FROM route_rule WHERE pool = "
		    "? ORDER BY position LIMIT 1", "t", a->argv[0])) == NULL)
			r = EX_SOFTWARE;
		else if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			log_warnx("pool %s is used by route %lld: change or "
			    "delete that rule first", a->argv[0],
			    (long long)sqlite3_column_int64(st, 0));
			r = EX_DATAERR;
		} else if (rc != SQLITE_DONE)
			r = ctx_sqlerr(ctx, "gw.db");
		sqlite3_finalize(st);
		if (r == EX_OK)
			r = ctx_exec(ctx, &n, "DELETE FROM pool WHERE name = ?",
			    "t", a->argv[0]);
	}
	for (int i = 1; i < a->argc && r == EX_OK; i++) {
		int one = 0;

		struct sockaddr_storage ss;
		socklen_t len;

		if (sockaddr_parse(a->argv[i], 0, &ss, &len) == -1) {
			log_warnx("\"%s\": expected an address", a->argv[i]);
			r = EX_USAGE;
			break;
		}
		sockaddr_ntop((struct sockaddr *)&ss, addr, sizeof(addr));
		r = ctx_exec(ctx, &one, "DELETE FROM pool_address WHERE pool = "
		    "? AND address = ?", "tt", a->argv[0], addr);
		n += one;
	}
	if (r == EX_OK && n == 0) {
		log_warnx("nothing to delete: see gwctl pool list");
		r = EX_NOUSER;
	}
	if (r != EX_OK) {
		ctx_rollback(ctx);
		return r;
	}
	return ctx_commit(ctx);
}
