/*
 * envelope.c - the checks of a message's envelope, the same for an SMTP
 * session's MAIL and RCPT (smtp_envelope.c) and the HTTP send API
 * (api.c), so both refuse the same senders and recipients with the same
 * reply (see submit.h): room in the store, the sender's domain against
 * the subaccount's, pauses and quota; each recipient's address, the
 * suppression list, the recipient limit and the routing rules.
 * Standards: RFC 5321 (replies), RFC 6531 (SMTPUTF8), RFC 3463.
 * Exposure: addresses already parsed (smtp_proto.c); nothing read here.
 * Diagnostics: none; each refusal is the caller's to send and log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "gwd.h"
#include "log.h"
#include "pause.h"
#include "quota.h"
#include "queue.h"
#include "rules.h"
#include "store.h"
#include "submit.h"
#include "suppress.h"
#include "util.h"

static const char *
refuse(struct envelope_verdict *v, enum gm_reject rej, enum bounce_class cls,
    const char *r)
{
	v->rej = rej;
	v->cls = cls;
	return r;
}

void
envelope_count(const struct envelope_verdict *v)
{
	if (v->rej != REJ_COUNT)
		metrics_reject(v->rej);
}

const char *
envelope_check_sender(const struct subaccount *sa, const struct mailpath *p,
    uint64_t size, char *buf, size_t bufsz, struct envelope_verdict *v)
{
	char dom[ADDR_DOMAIN_MAX + 1];
	const char *r;

	/* Early, as Postfix does: not a 451 after the whole DATA. */
	if (store_blocked() || store_space_short(size))
		return refuse(v, REJ_MAIL_STORAGE, BC_NONE, "452 4.3.1 "
		    "Insufficient system storage");
	/* Subaccounts own domains as DNS knows them: A-labels. */
	if (addr_domain_ascii(mailpath_domain(p), dom, sizeof(dom)) == -1)
		dom[0] = '\0';
	if (p->len > 0 && (p->literal || !account_owns_domain(sa, dom))) {
		snprintf(buf, bufsz, "550 5.7.1 <%s>: Sender address "
		    "rejected: domain not owned by subaccount %s", p->addr,
		    sa->name);
		return refuse(v, REJ_MAIL_SENDER, BC_NONE, buf);
	}
	if ((r = pause_check(sa->name, buf, bufsz)) != NULL)
		return refuse(v, REJ_MAIL_PAUSED, BC_POLICY, r);
	/* The null sender too: a subaccount's DSNs are its mail. */
	if ((r = quota_check(sa, now_us(), buf, bufsz)) != NULL)
		return refuse(v, REJ_MAIL_QUOTA, BC_THROTTLED, r);
	return NULL;
}

const char *
envelope_check_rcpt_addr(const struct mail_args *mail,
    const struct rcpt_args *ra, struct envelope_verdict *v)
{
	const char *r;

	/* Not counted (REJ_COUNT), as before the checks were shared. */
	if ((r = smtp_utf8_reply(&ra->path, mail->smtputf8)) != NULL)
		return refuse(v, REJ_COUNT, BC_NONE, r);
	if (ra->path.literal)
		return refuse(v, REJ_RCPT_LITERAL, BC_NONE, "553 5.1.3 Error: "
		    "address literals are not accepted as recipients");
	return NULL;
}

const char *
envelope_check_rcpt(const char *sub, const struct mail_args *mail,
    const struct rcpt_args *ra, int nrcpt, int dup, char *buf, size_t bufsz,
    struct envelope_verdict *v)
{
	const struct suppression *sup;
	const struct rule *ru;
	struct rule_msg m = { sub, mail->path.addr, ra->path.addr, -1,
	    NULL, 0 };

	/* gw.db may have changed since the last tick: an admin's entry
	 * applies at the next recipient. */
	accounts_poll();
	if ((sup = suppress_find(sub, ra->path.addr)) != NULL) {
		/* The reason, last, may be a remote server's long text:
		 * it is cut where the reply line ends. */
		if (snprintf(buf, bufsz, "550 5.1.1 <%s>: Recipient address "
		    "rejected: suppressed: %s", ra->path.addr,
		    sup->reason[0] ? sup->reason : sup->source) >= (int)bufsz)
			log_debug("rcpt=%s suppression reason cut",
			    ra->path.addr);
		return refuse(v, REJ_RCPT_SUPPRESSION, BC_HARD, buf);
	}
	if (dup)
		return NULL;
	if (nrcpt >= gcfg->limits.recipients)
		return refuse(v, REJ_RCPT_LIMIT, BC_NONE, "452 4.5.3 Error: "
		    "too many recipients");
	/* A DSN (RFC 3464) or an MDN (RFC 8098) goes to one recipient: the
	 * null sender is no way to fan a message out past the bounce rate.
	 * 452, so a client sends the others in transactions of their own. */
	if (mail->path.len == 0 && nrcpt >= 1)
		return refuse(v, REJ_RCPT_LIMIT, BC_NONE, "452 4.5.3 Error: a "
		    "message with the null sender has one recipient");
	/* Before the message (size -1, no headers) only a rule that needs
	 * nothing more can decide. */
	if ((ru = routing_rule(&m)) != NULL && ru->action == RULE_REJECT)
		return refuse(v, REJ_RCPT_POLICY, BC_NONE, ru->reply);
	return NULL;
}

void
tx_free(struct tx *t)
{
	for (int i = 0; i < t->nrcpt; i++)
		free(t->rcpt[i]);
	free(t->rcpt);
	free(t->rdsn);
	buf_free(&t->data);
	memset(t, 0, sizeof(*t));
}
