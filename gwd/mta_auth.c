/*
 * mta_auth.c - the delivery client: AUTH to a smarthost (relay.username
 * and relay.password), PLAIN when offered, else LOGIN, and only over
 * TLS.
 * Standards: RFC 4954 (AUTH), RFC 4616 (PLAIN).
 * Exposure: sends the relay credentials, never in plaintext; reads the
 * smarthost's replies, already parsed and bounded by reply.c.
 * Diagnostics: nothing fatal; a refusal, or a credential too long to
 * encode, moves on to the next target.
 */
#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "gwd.h"
#include "mta_priv.h"

/* The session is usable: authenticate if asked.  1 when that is under
 * way (or the target was given up), 0 when there is nothing to do. */
int
mta_auth_start(struct mta *m)
{
	if (m->dest->auth && gcfg->relay.username &&
	    !m->authed) {
		/* config.c bounds each credential to RELAY_CRED_MAX; the
		 * encoder checks the room again. */
		char raw[2 * RELAY_CRED_MAX + 2];
		char b64[BASE64_ENCODED_SIZE(sizeof(raw))];
		size_t ul = strlen(gcfg->relay.username),
		    pl = strlen(gcfg->relay.password);

		if (!conn_tls_active(m->c)) {
			mta_next_target(m, "refusing to send credentials to "
			    "the smarthost without TLS");
			return 1;
		}
		if (m->caps.auth_plain && ul + pl + 2 <= sizeof(raw)) {
			raw[0] = '\0';
			memcpy(raw + 1, gcfg->relay.username, ul);
			raw[ul + 1] = '\0';
			memcpy(raw + ul + 2, gcfg->relay.password, pl);
			base64_encode(raw, ul + pl + 2, b64, sizeof(b64));
			m->state = M_AUTH;
			mta_send(m, "AUTH PLAIN %s", b64);
			mta_arm(m, gcfg->relay.command_timeout_ms);
			return 1;
		}
		if (m->caps.auth_login) {
			if (base64_encode(gcfg->relay.username, ul, b64,
			    sizeof(b64)) == -1) {
				mta_next_target(m, "relay.username is too "
				    "long");
				return 1;
			}
			m->state = M_AUTH_LOGIN_USER;
			mta_send(m, "AUTH LOGIN %s", b64);
			mta_arm(m, gcfg->relay.command_timeout_ms);
			return 1;
		}
		mta_next_target(m, "the smarthost offers no AUTH PLAIN or "
		    "LOGIN");
		return 1;
	}
	return 0;
}

/* The reply to AUTH, or to a LOGIN step. */
void
mta_auth_reply(struct mta *m, const struct smtp_reply *r)
{
	char why[REPLY_TEXT_MAX + 200];

	if (m->state == M_AUTH_LOGIN_USER && r->code == 334) {
		char b64[BASE64_ENCODED_SIZE(RELAY_CRED_MAX)];

		if (base64_encode(gcfg->relay.password,
		    strlen(gcfg->relay.password), b64, sizeof(b64)) ==
		    -1) {
			mta_next_target(m, "relay.password is too long");
			return;
		}
		m->state = M_AUTH_LOGIN_PASS;
		mta_send(m, "%s", b64);
		return;
	}
	if (r->code == 235) {
		m->authed = 1;
		mta_session_ready(m);
		return;
	}
	snprintf(why, sizeof(why), "authentication to %s[%s] failed: "
	    "%d %s", mta_host(m), m->hop.ip, r->code, r->text);
	mta_next_target(m, why);
}
