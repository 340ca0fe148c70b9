/*
 * mta_8bit.c - the delivery client: a message with 8-bit content to a
 * server that does not offer 8BITMIME.  RFC 6152 3 leaves a relay two
 * honest ways, convert or return the message; sending the 8 bits anyway
 * is not one of them.
 *
 * gw signs at submission, before it knows where a message goes, so the
 * conversion happens here, at delivery, and breaks any signature made
 * before it.  gw owns its own signatures: they are dropped and the
 * converted message is signed again with the From: domain's keys (as at
 * submission, with the keys active now).  A signature the client made
 * cannot be made again: such a message is refused for this receiver
 * with 5.6.3, and so is one MIME cannot carry in 7 bits unchanged
 * (mime7.h says which).
 * Standards: RFC 6152, RFC 3463 (5.6.3), RFC 6376.
 * Exposure: the message is gwd's stored copy of a client's message.
 * Diagnostics: dies only when memory runs out; what cannot be converted
 * or signed becomes the recipients' result.
 */
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "gwd.h"
#include "log.h"
#include "mime7.h"
#include "msg.h"
#include "mta_priv.h"
#include "signer.h"
#include "util.h"

/* The job is over, or the connection is: forget the converted body, and
 * a signing still on a worker finds nobody to continue. */
void
mta_8bit_reset(struct mta *m)
{
	if (m->sign != NULL) {
		m->sign->arg = NULL;
		m->sign = NULL;
	}
	buf_free(&m->body7);
	m->has_body7 = 0;
}

/* The bytes that go on the wire for the current job. */
const char *
mta_8bit_body(const struct mta *m, size_t *len)
{
	if (m->has_body7) {
		*len = buf_len(&m->body7);
		return buf_ptr(&m->body7);
	}
	*len = m->job->msg->bodylen;
	return m->job->msg->body;
}

static void
refuse(struct mta *m, const char *why)
{
	char text[400];

	snprintf(text, sizeof(text), "%s does not accept 8-bit data "
	    "(no 8BITMIME) and the message cannot be converted: %s",
	    m->job->hop.host, why);
	mta_session_fail_job(m, 554, "5.6.3", text);
}

static void
resigned(struct sign_job *sj)
{
	struct mta *m = sj->arg;
	struct buf b;

	if (m == NULL) {		/* the job went while we signed */
		sign_job_free(sj);
		return;
	}
	m->sign = NULL;
	if (sj->failed) {
		log_warnx("qid=%s: DKIM signing of the 7-bit form failed: %s",
		    m->job->msg->qid, sj->err);
		mta_session_fail_job(m, 451, "4.3.0", "DKIM signing of the "
		    "7-bit form failed");
		sign_job_free(sj);
		return;
	}
	buf_init(&b, 0);
	if (buf_append(&b, buf_ptr(&sj->sigs), buf_len(&sj->sigs)) == -1 ||
	    buf_append(&b, buf_ptr(&m->body7), buf_len(&m->body7)) == -1)
		fatalx("out of memory");
	buf_free(&m->body7);
	m->body7 = b;
	sign_job_free(sj);
	mta_session_send_envelope(m);
}

/* Sign the converted body as data_end.c signs a submission; 1 when a
 * signing is under way (it continues the job), 0 when nothing signs. */
static int
resign(struct mta *m)
{
	const struct qmsg *msg = m->job->msg;
	const struct subaccount *sa = account_find(msg->subaccount);
	struct msg_info *mi = xcalloc(1, sizeof(*mi));
	struct sign_job *sj;
	char dom[256], why[400];

	msg_scan(buf_ptr(&m->body7), buf_len(&m->body7), mi);
	signer_domain(mi, msg->sender, dom, sizeof(dom));
	free(mi);
	sj = signer_plan(dom, sa ? sa->dkim_org : NULL, why, sizeof(why));
	if (sj == NULL)
		return 0;
	sj->done = resigned;
	sj->arg = m;
	m->sign = sj;
	m->state = M_SIGN;
	timer_del(&m->timer);
	signer_run(sj, buf_ptr(&m->body7), buf_len(&m->body7),
	    now_us() / 1000000);
	return 1;
}

/*
 * Before the envelope: 0 to send the message as stored, 1 when the job
 * continues later (signed on a worker), -1 when it was refused here.
 */
int
mta_8bit_prepare(struct mta *m)
{
	struct qmsg *msg = m->job->msg;
	const char *err;
	size_t len;
	const char *b = mta_8bit_body(m, &len);	/* with its prefix */
	int content8 = mime7_is_8bit(b, len);
	struct buf out;

	/* BODY=8BITMIME when the client said so or the bytes do. */
	m->eightbit = (msg->flags & QMSG_8BIT) || content8;
	if (!content8 || m->caps.eightbitmime)
		return 0;
	if (msg->flags & QMSG_CLIENT_DKIM) {
		refuse(m, "the sender's DKIM signature would break");
		return -1;
	}
	buf_init(&out, 4 * len + 4096);
	if (mime7_downgrade(b, len, MIME7_STRIP_DKIM, &out, &err) == -1) {
		buf_free(&out);
		refuse(m, err);
		return -1;
	}
	buf_free(&m->body7);
	m->body7 = out;
	m->has_body7 = 1;
	m->eightbit = 0;
	return resign(m);
}
