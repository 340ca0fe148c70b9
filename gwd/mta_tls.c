/*
 * mta_tls.c - the delivery client: STARTTLS and the TLS policy of an
 * attempt, and how TLS went, for the audit log.
 * Standards: RFC 3207 (STARTTLS), RFC 6125 (the name a certificate
 * must match).
 * Exposure: the handshake and certificate of a remote server that may
 * be hostile (OpenSSL parses them); plaintext sent after the server's
 * 220 is discarded (conn_starttls).
 * Diagnostics: nothing fatal; a handshake or certificate that does not
 * do for the policy moves on to the next target.
 *
 * TLS, per destination (relay.tls, or the routing rule's --tls):
 *   none           never STARTTLS.
 *   opportunistic  STARTTLS when offered, certificate not required to
 *                  verify; plaintext when not offered, and, as Postfix's
 *                  "may" does, the same host again in plaintext after a
 *                  failed handshake (the alternative is no mail at all
 *                  to a server with broken TLS, which is worse than the
 *                  plaintext that policy accepts anyway).
 *   required       TLS or no delivery (next target, then defer); the
 *                  certificate is not required to verify.
 *   verify         TLS with a certificate that chains to the CA store
 *                  and matches the MX or smarthost name (RFC 6125), else
 *                  no delivery.
 * Whatever the policy, the outcome (verified or not, and why) goes into
 * every delivery event; under MTA-STS or DANE it is also counted for
 * TLS-RPT (mta_tls_report(), tls_count.h) where it is decided.
 *
 * DANE (RFC 7672; route.c finds the records when dns.dnssec is on)
 * overrides all but "none" for a host with DNSSEC-validated TLSA
 * records: TLS or no delivery, and a certificate that one of the
 * records matches (OpenSSL's DANE verification) or no delivery; never
 * a plaintext retry.  Secure records none of which gw can use still
 * make TLS mandatory, unauthenticated (RFC 7672 2.2).  The event's
 * tls_policy is then "dane".
 *
 * MTA-STS (RFC 8461; route.c finds the policy when mta_sts.enable is
 * on) rules a host without DANE, again under all but "none".  enforce:
 * only MX hosts the policy's mx patterns name (mta.c), TLS or no
 * delivery, and a certificate that chains to the CA store and matches
 * the MX name, else no delivery; never a plaintext retry.  testing:
 * the TLS policy of the destination, and a certificate or MX name that
 * would fail enforce is recorded (tls_verified 0, tls_note "mta-sts:
 * ...") for the audit log and TLS-RPT.  The event's tls_policy is then
 * "mta-sts".
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cidr.h"
#include "gwd.h"
#include "mta_priv.h"
#include "tls.h"
#include "tls_count.h"

/* How TLS went (or why there is none), for the audit log. */
void
mta_tls_note(struct mta *m, int verified, const char *fmt, ...)
{
	va_list ap;

	m->hop.tls_verified = verified;
	va_start(ap, fmt);
	vsnprintf(m->hop.tls_note, sizeof(m->hop.tls_note), fmt, ap);
	va_end(ap);
}

/* RFC 8460: this hop's outcome under its domain's MTA-STS or DANE
 * policy, counted for the day's TLS report (tls_report.c). */
void
mta_tls_report(struct mta *m)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char sip[INET6_ADDRSTRLEN + 8] = "";

	if (m->hop.tls_policy == NULL)
		return;
	if (m->c != NULL && getsockname(m->c->fd, (struct sockaddr *)&ss,
	    &sl) == 0)
		sockaddr_ntop((struct sockaddr *)&ss, sip, sizeof(sip));
	tls_count_session(m->dest->domain, m->hop.tls_policy,
	    m->hop.tls_verified == 1, m->hop.tls_note, sip, mta_host(m),
	    m->hop.ip);
}

static void
start_tls(struct mta *m)
{
	const struct route_dane *dn = mta_dane(m);
	char why[600];
	int n = 0;

	/* SNI and the name to match are set by tls_client_prepare(), or
	 * by tls_client_dane() with the TLSA records. */
	if (conn_starttls(m->c, client_tls, 0, NULL) == -1) {
		mta_next_target(m, m->c->error);
		return;
	}
	if (dn != NULL && dn->state == DANE_ON &&
	    (n = tls_client_dane(m->c->ssl, mta_host(m), dn->tlsa,
	    dn->ntlsa)) == -1) {
		snprintf(why, sizeof(why), "TLS setup for %s[%s] failed: "
		    "cannot use its TLSA records", mta_host(m), m->hop.ip);
		mta_next_target(m, why);
		return;
	}
	m->dane_active = n > 0;
	if (!m->dane_active && tls_client_prepare(m->c->ssl, mta_host(m),
	    mta_sts_enforce(m) ? TLSP_VERIFY : m->dest->tls) == -1) {
		snprintf(why, sizeof(why), "TLS setup for %s[%s] failed: "
		    "cannot check the name \"%s\"", mta_host(m), m->hop.ip,
		    mta_host(m));
		mta_next_target(m, why);
		return;
	}
	m->state = M_TLS;
	mta_arm(m, gcfg->relay.command_timeout_ms);
}

/* Under an MTA-STS policy: how this hop measures up, as the note. */
static void
sts_note(struct mta *m, const char *bad)
{
	if (bad == NULL && !mtasts_mx_match(&m->sts, mta_host(m)))
		bad = "MX host not in the policy";
	if (bad == NULL)
		mta_tls_note(m, 1, "mta-sts %s: certificate verified",
		    mtasts_mode_name(m->sts.mode));
	else
		mta_tls_note(m, 0, "mta-sts %s: %s",
		    mtasts_mode_name(m->sts.mode), bad);
	mta_tls_report(m);
}

/* The handshake under an enforced MTA-STS policy: a certificate that
 * chains and names the MX host, or the next target. */
static void
sts_tls_done(struct mta *m, struct conn *c, int ok, const char *bad)
{
	char why[600];

	if (!ok && bad == NULL) {
		bad = c->error;
		if (strncmp(bad, "TLS handshake: ", 15) == 0)
			bad += 15;
	} else if (ok && tls_client_verified(c->ssl, &bad))
		bad = NULL;
	sts_note(m, bad);
	if (m->hop.tls_verified != 1) {
		snprintf(why, sizeof(why), "TLS with %s[%s] does not meet the "
		    "MTA-STS policy of %s (enforce): %s", mta_host(m),
		    m->hop.ip, m->dest->domain, m->hop.tls_note);
		mta_next_target(m, why);
		return;
	}
	conn_tls_desc(c, m->hop.tls, sizeof(m->hop.tls));
	mta_session_ehlo(m);
}

/* The handshake is over (conn.c calls): hold it against the policy,
 * then EHLO again, as RFC 3207 4.2 requires. */
void
mta_tls_done(struct conn *c, int ok)
{
	struct mta *m = c->arg;
	const char *bad = tls_client_verify_error(c->ssl);
	char why[600], how[160];

	if (m->dane_active) {
		if (!ok && bad == NULL) {
			bad = c->error;
			if (strncmp(bad, "TLS handshake: ", 15) == 0)
				bad += 15;
		}
		if (ok && tls_client_dane_verified(c->ssl, how,
		    sizeof(how))) {
			conn_tls_desc(c, m->hop.tls, sizeof(m->hop.tls));
			mta_tls_note(m, 1, "dane: %s", how);
			mta_tls_report(m);
			mta_session_ehlo(m);
			return;
		}
		if (ok)
			bad = how;
		mta_tls_note(m, 0, "dane: %s", bad);
		mta_tls_report(m);
		snprintf(why, sizeof(why), "TLS certificate of %s[%s] does "
		    "not match its TLSA records (DANE): %s", mta_host(m),
		    m->hop.ip, bad);
		mta_next_target(m, why);
		return;
	}
	if (mta_sts_enforce(m)) {
		sts_tls_done(m, c, ok, bad);
		return;
	}
	if (!ok && bad != NULL && m->dest->tls == TLSP_VERIFY) {
		mta_tls_note(m, 0, "%s", bad);
		snprintf(why, sizeof(why), "TLS certificate of %s[%s] not "
		    "verified: %s", mta_host(m), m->hop.ip, bad);
		mta_next_target(m, why);
		return;
	}
	if (!ok) {
		const char *e = c->error;

		if (strncmp(e, "TLS handshake: ", 15) == 0)
			e += 15;
		mta_tls_note(m, -1, "TLS handshake failed: %s", e);
		mta_tls_report(m);
		snprintf(why, sizeof(why), "TLS handshake with %s[%s] failed: "
		    "%s", mta_host(m), m->hop.ip, e);
		/* Opportunistic: the same host again, in plaintext (not
		 * when its TLSA records make TLS mandatory). */
		if (m->dest->tls == TLSP_MAY && m->retry_plain == 0 &&
		    mta_dane(m) == NULL)
			m->retry_plain = 1;
		mta_next_target(m, why);
		return;
	}
	conn_tls_desc(c, m->hop.tls, sizeof(m->hop.tls));
	if (tls_client_verified(c->ssl, &bad))
		mta_tls_note(m, 1, "%s", "");
	else
		mta_tls_note(m, 0, "%s", bad);
	if (mta_sts(m) != NULL)		/* testing: record, go on */
		sts_note(m, m->hop.tls_verified == 1 ? NULL : bad);
	/* The handshake refused such a certificate already; this is the
	 * check that keeps it so before MAIL, whatever changes there. */
	if (m->dest->tls == TLSP_VERIFY && m->hop.tls_verified != 1) {
		snprintf(why, sizeof(why), "TLS certificate of %s[%s] not "
		    "verified: %s", mta_host(m), m->hop.ip, bad);
		mta_next_target(m, why);
		return;
	}
	mta_session_ehlo(m);
}

/* After EHLO or HELO: STARTTLS when the policy wants it and the server
 * offers it, no delivery when the policy requires TLS and it is not
 * offered.  1 when one of those happened, 0 to go on without TLS (or
 * already in it). */
int
mta_tls_after_ehlo(struct mta *m)
{
	int want_tls = m->dest->tls != TLSP_NONE && m->retry_plain != 2;
	int dane = mta_dane(m) != NULL;
	int sts = mta_sts_enforce(m);

	if (!conn_tls_active(m->c) && want_tls && m->caps.starttls) {
		m->state = M_STARTTLS;
		mta_send(m, "STARTTLS");
		mta_arm(m, gcfg->relay.command_timeout_ms);
		return 1;
	}
	if (!conn_tls_active(m->c) && (m->dest->tls >= TLSP_ENCRYPT || dane ||
	    sts)) {
		char why[600];

		mta_tls_note(m, -1, "%sSTARTTLS not offered", dane ? "dane: " :
		    sts ? "mta-sts enforce: " : "");
		mta_tls_report(m);
		snprintf(why, sizeof(why), "TLS is required%s, but %s[%s] "
		    "does not offer STARTTLS", dane ? " (DANE: it has TLSA "
		    "records)" : sts ? " (its domain's MTA-STS policy)" : "",
		    mta_host(m), m->hop.ip);
		mta_next_target(m, why);
		return 1;
	}
	if (!conn_tls_active(m->c) && want_tls) {
		mta_tls_note(m, -1, "%sSTARTTLS not offered", mta_sts(m) ?
		    "mta-sts testing: " : "");
		mta_tls_report(m);
	}
	return 0;
}

/* The reply to STARTTLS. */
void
mta_tls_reply(struct mta *m, const struct smtp_reply *r)
{
	char why[REPLY_TEXT_MAX + 200];

	if (r->code == 220) {
		start_tls(m);
		return;
	}
	if (m->dest->tls == TLSP_MAY && mta_dane(m) == NULL &&
	    !mta_sts_enforce(m)) {
		m->caps.starttls = 0;
		mta_tls_note(m, -1, "STARTTLS refused: %d", r->code);
		mta_tls_report(m);
		mta_session_ready(m);
		return;
	}
	snprintf(why, sizeof(why), "%s[%s] refused STARTTLS: %d %s",
	    mta_host(m), m->hop.ip, r->code, r->text);
	mta_next_target(m, why);
}
