/*
 * auth.c - gwd's blocks after failed logins, through its control socket
 * (the counts live in gwd only): `gwctl auth blocks` lists what is
 * blocked, with the failures that led to it and when it ends; `gwctl auth
 * unblock IP|ALL` lifts the blocks of an address (the address itself and
 * every user name from it), or all of them.
 * Exposure: prints user names that clients sent; gwd sends them with
 * control bytes as '?', and the table shows them as they come.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "buf.h"
#include "ctlproto.h"
#include "gwctl.h"
#include "json.h"
#include "log.h"
#include "output.h"
#include "util.h"

#define BLOCKS_TIMEOUT_MS	30000

struct block {
	char		 ip[64];
	int		 failures;
	long long	 until;
	const char	*user;		/* NULL: the whole address */
};

/* "block ip=IP failures=N until=T[ user=NAME]": 0, or -1. */
static int
auth_parse_block(char *line, struct block *b)
{
	char *u;
	int n = 0;

	memset(b, 0, sizeof(*b));
	if ((u = strstr(line, " user=")) != NULL) {
		*u = '\0';
		b->user = u + 6;
	}
	if (sscanf(line, "block ip=%63s failures=%d until=%lld%n", b->ip,
	    &b->failures, &b->until, &n) != 3 || line[n] != '\0')
		return -1;
	return 0;
}

static void
auth_block_json(const struct block *b, const char *until)
{
	struct json_obj o;
	struct buf out;

	buf_init(&out, 0);
	json_obj_begin(&o, &out);
	json_obj_str(&o, "address", b->ip);
	if (b->user)
		json_obj_str(&o, "user", b->user);
	else
		json_obj_null(&o, "user");
	json_obj_int(&o, "failures", b->failures);
	json_obj_str(&o, "until", until);
	if (json_obj_end(&o) == -1)
		fatalx("output too long");
	printf("%s\n", buf_cstr(&out));
	buf_free(&out);
}

int
auth_blocks(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	struct output_table t;
	struct buf reply;
	char *line, *next, until[32], fails[16];
	int r, json, ended = 0;

	if ((r = output_format(c, a, &json)) != EX_OK)
		return r;
	buf_init(&reply, CTL_REPLY_MAX);
	if ((r = control_exchange(ctx, "auth blocks", &reply,
	    BLOCKS_TIMEOUT_MS)) != EX_OK) {
		buf_free(&reply);
		return r;
	}
	output_table_init(&t, 4, "ADDRESS", "USER", "FAILURES",
	    "BLOCKED UNTIL");
	for (line = buf_cstr(&reply); *line && !ended; line = next) {
		struct block b;

		if ((next = strchr(line, '\n')) == NULL) {
			next = line + strlen(line);
			break;		/* cut short: no "end" */
		}
		*next++ = '\0';
		if (strcmp(line, "end") == 0) {
			ended = 1;
			break;
		}
		if (auth_parse_block(line, &b) == -1) {
			log_warnx("gwd: unexpected answer: %.80s", line);
			r = EX_PROTOCOL;
			break;
		}
		output_time(b.until, until, sizeof(until));
		snprintf(fails, sizeof(fails), "%d", b.failures);
		if (json)
			auth_block_json(&b, until);
		else
			output_table_row(&t, b.ip, b.user ? b.user :
			    "(every name)", fails, until);
	}
	if (r == EX_OK && !ended) {
		log_warnx("gwd closed the connection before its reply ended");
		r = EX_PROTOCOL;
	}
	if (!json)
		output_table_print(&t, stdout);
	output_table_free(&t);
	buf_free(&reply);
	return r;
}

int
auth_unblock(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	const char *ip = a->argv[0];
	unsigned char tmp[16];
	char line[128], out[64];
	int r, n;

	/* ALL in upper case only, as postsuper wants it. */
	if (strcmp(ip, "ALL") != 0 && inet_pton(AF_INET, ip, tmp) != 1 &&
	    inet_pton(AF_INET6, ip, tmp) != 1)
		return cmd_usage_error(c, "\"%s\": expected an IP address or "
		    "ALL", ip);
	snprintf(line, sizeof(line), "auth unblock %s", ip);
	if ((r = control_request(ctx, line, out, sizeof(out))) != EX_OK)
		return r;
	if (sscanf(out, "unblocked %d", &n) != 1) {
		log_warnx("gwd: unexpected answer: %.60s", out);
		return EX_PROTOCOL;
	}
	fprintf(stderr, "%d block%s lifted\n", n, n == 1 ? "" : "s");
	return EX_OK;
}
