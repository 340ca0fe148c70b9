/*
 * rspamd_reply.h - rspamd's answer to /checkv2 (its HTTP protocol, v2:
 * a JSON object with "action", "score", "required_score", "symbols",
 * "messages") read into what gwd acts on and logs.
 *
 * Pure: bytes in, a result out.  The answer comes from a local daemon,
 * but it is read as untrusted all the same: bounded in size, every
 * string copied into a fixed field, symbol names cut to a safe
 * alphabet before they reach a log line.
 */
#ifndef GW_RSPAMD_REPLY_H
#define GW_RSPAMD_REPLY_H

#include <stddef.h>

#include "config.h"

#define RSPAMD_REPLY_MAX	(1 << 20)	/* a longer answer: refused */
#define RSPAMD_SYMBOLS		8		/* kept, highest score first */

struct rspamd_reply {
	int	 action;	/* enum rspamd_action, or -1: "no action" */
	char	 action_name[32];	/* as rspamd said, '_' for ' ' */
	double	 score;
	double	 required;	/* "required_score" */
	int	 skipped;	/* "is_skipped": a pre-result (e.g. GTUBE) */
	/* "GTUBE,MISSING_DATE": the names of the highest-scoring symbols */
	char	 symbols[RSPAMD_SYMBOLS * 40];
};

/*
 * Read rspamd's answer json[0..len): 0, or -1 with the reason in err (not
 * JSON, not an object, no or an unknown "action").
 */
int	 rspamd_reply_parse(const char *json, size_t len, struct rspamd_reply *,
	    char *err, size_t errsz);
/* The rspamd_action of rspamd's name ("soft reject"), -1 for "no action",
 * -2 for a name this version does not know. */
int	 rspamd_action_parse(const char *);

#endif
