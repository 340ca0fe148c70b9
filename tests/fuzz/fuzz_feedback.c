// sources: common/feedback.c common/verp.c common/hmackey.c common/mime_walk.c common/mime_html.c common/mime_plain.c common/mime_head.c common/mime_decode.c common/attrule.c common/buf.c common/util.c common/log.c
/*
 * fuzz_feedback.c - a hostile report through the bounce and ARF reader,
 * and a hostile address through the VERP decoder.
 * Invariants: every value kept is NUL-terminated, at most FB_MAX_FIELD
 * bytes, free of control characters; the recipients within
 * FB_MAX_RCPT; a type other than unknown only with something read; a
 * decoded VERP address re-encodes to one that decodes to the same queue
 * id and index.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "feedback.h"
#include "verp.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(const char *s)
{
	size_t n;

	assert(s != NULL);
	n = strlen(s);
	assert(n <= FB_MAX_FIELD);
	for (size_t i = 0; i < n; i++)
		assert((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

static void
check_verp(const uint8_t *data, size_t len)
{
	static const unsigned char key[VERP_KEY_LEN] = "fuzz";
	char *a = strndup((const char *)data, len < 400 ? len : 400);
	char qid[VERP_QID_LEN + 1], qid2[VERP_QID_LEN + 1], again[700];
	unsigned idx, idx2;
	enum verp_kind kind, kind2;

	assert(a != NULL);
	if (verp_decode(key, sizeof(key), a, &kind, qid, &idx) == VERP_OK) {
		assert(kind == VERP_BOUNCE || kind == VERP_UNSUB);
		assert(verp_encode(key, sizeof(key), kind, qid, idx,
		    strrchr(a, '@') + 1, again, sizeof(again)) == 0);
		assert(verp_decode(key, sizeof(key), again, &kind2, qid2,
		    &idx2) == VERP_OK);
		assert(strcmp(qid, qid2) == 0 && idx == idx2 &&
		    kind == kind2);
		/* The other kind's prefix on the same token: never ours. */
		again[0] = kind == VERP_BOUNCE ? 'u' : 'b';
		assert(verp_decode(key, sizeof(key), again, &kind2, qid2,
		    &idx2) == VERP_FORGED);
	}
	free(a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct fb_report r;

	feedback_parse((const char *)data, len, &r);
	assert(r.nrcpt >= 0 && r.nrcpt <= FB_MAX_RCPT);
	if (r.type == FB_DSN || r.type == FB_BOUNCE)
		assert(r.nrcpt > 0);
	for (int i = 0; i < r.nrcpt; i++) {
		check(r.rcpt[i].final);
		check(r.rcpt[i].original);
		check(r.rcpt[i].diag);
		check(r.rcpt[i].status);
		assert(r.rcpt[i].code == 0 ||
		    (r.rcpt[i].code >= 200 && r.rcpt[i].code <= 599));
	}
	check(r.feedback_type);
	check(r.orig_mail_from);
	check(r.orig_rcpt_to);
	check(r.source_ip);
	check(r.user_agent);
	check(r.reporting_mta);
	check(r.ret_message_id);
	check(r.ret_qid);
	check(r.ret_return_path);
	check(r.ret_from);
	check(r.ret_to);
	check(r.ret_subject);
	feedback_free(&r);
	check_verp(data, len);
	return 0;
}
