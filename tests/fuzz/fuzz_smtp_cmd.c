// sources: gwd/smtp_proto.c gwd/smtp_dsn.c common/addr.c common/buf.c common/util.c common/log.c
/*
 * fuzz_smtp_cmd.c - command framing and MAIL/RCPT parsing as the session
 * does it: lines out of a byte stream (bounded, in step after overlong
 * lines), verb and argument, paths and ESMTP parameters.  Invariants: parsed paths
 * never hold CR, LF or NUL; a refusal always carries a 3-digit reply.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "smtp_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_path(const struct mailpath *mp)
{
	assert(strlen(mp->addr) == mp->len);
	assert(mp->len <= ADDR_PATH_MAX);
	for (size_t i = 0; i < mp->len; i++)
		assert(mp->addr[i] != '\r' && mp->addr[i] != '\n' &&
		    (unsigned char)mp->addr[i] >= 0x20);
}

static void
check_reply(const char *r)
{
	assert(r != NULL && r[0] >= '4' && r[0] <= '5' && r[3] == ' ');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct line_reader lr = { 0 };
	const char *in = (const char *)data, *line;
	size_t off = 0, len, used;

	while (off < size) {
		enum line_status st = line_next(&lr, in + off, size - off, 512,
		    &line, &len, &used);
		struct smtp_cmd cmd;
		struct mail_args ma;
		struct rcpt_args ra;
		const char *reply;

		assert(used <= size - off);
		if (st == LINE_MORE) {
			if (used == 0)
				break;
			off += used;
			continue;
		}
		off += used;
		if (st != LINE_OK)
			continue;
		assert(len + 2 <= 512);
		smtp_cmd_parse(line, len, &cmd);
		assert(cmd.arg >= line && cmd.arg + cmd.arglen <= line + len);
		assert(cmd.name == line && cmd.namelen <= len);
		if (cmd.namelen == 4 && strncasecmp(cmd.name, "MAIL", 4) == 0) {
			if (smtp_parse_mail(cmd.arg, cmd.arglen, &ma, &reply) == 0)
				check_path(&ma.path);
			else
				check_reply(reply);
		} else if (cmd.namelen == 4 &&
		    strncasecmp(cmd.name, "RCPT", 4) == 0) {
			if (smtp_parse_rcpt(cmd.arg, cmd.arglen, &ra, &reply) == 0) {
				check_path(&ra.path);
				assert(ra.path.len > 0);
			} else
				check_reply(reply);
		}
	}
	return 0;
}
