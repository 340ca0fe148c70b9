/*
 * mta_auth.c - the delivery client: AUTH to a smarthost, with the
 * credentials of the routing rule that chose it (gwctl route add
 * --auth-user) or else relay.username and relay.password; PLAIN when
 * offered, else LOGIN, and only over TLS.
 * Standards: RFC 4954 (AUTH), RFC 4616 (PLAIN).
 * Exposure: sends the credentials, never in plaintext; reads the
 * smarthost's replies, already parsed and bounded by reply.c.
 * Diagnostics: nothing fatal; a refusal, credentials that are too long
 * (config.c and gwctl bound them; gw.db may have been edited by hand)
 * or no TLS moves on to the next target, and the last one's reason is
 * the deferral's.
 */
#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "gwd.h"
#include "mta_priv.h"

/* The credentials this session sends: 0, or -1 when there are none. */
static int
mta_auth_creds(const struct mta *m, const char **user, const char **pw)
{
	if (!m->dest->auth)
		return -1;
	if (m->dest->cred) {
		*user = m->dest->cred->user;
		*pw = m->dest->cred->password;
	} else if (gcfg->relay.username) {
		*user = gcfg->relay.username;
		*pw = gcfg->relay.password;
	} else
		return -1;
	return 0;
}

/* The session is usable: authenticate if asked.  1 when that is under
 * way (or the target was given up), 0 when there is nothing to do. */
int
mta_auth_start(struct mta *m)
{
	char raw[2 * RELAY_CRED_MAX + 2];
	char b64[BASE64_ENCODED_SIZE(sizeof(raw))], why[600];
	const char *user, *pw;
	size_t ul, pl;

	if (m->authed || mta_auth_creds(m, &user, &pw) == -1)
		return 0;
	ul = strlen(user);
	pl = strlen(pw);
	if (!conn_tls_active(m->c)) {
		snprintf(why, sizeof(why), "refusing to send credentials "
		    "(user %.255s) to the smarthost %s[%s] without TLS",
		    user, mta_host(m), m->hop.ip);
		mta_next_target(m, why);
		return 1;
	}
	if (ul > RELAY_CRED_MAX || pl > RELAY_CRED_MAX || pl == 0) {
		mta_next_target(m, "the smarthost credentials are unusable: "
		    "a password is missing or one is longer than 255 bytes");
		return 1;
	}
	if (m->caps.auth_plain) {
		raw[0] = '\0';
		memcpy(raw + 1, user, ul);
		raw[ul + 1] = '\0';
		memcpy(raw + ul + 2, pw, pl);
		base64_encode(raw, ul + pl + 2, b64, sizeof(b64));
		explicit_bzero(raw, sizeof(raw));
		m->state = M_AUTH;
		mta_send(m, "AUTH PLAIN %s", b64);
		explicit_bzero(b64, sizeof(b64));
		mta_arm(m, gcfg->relay.command_timeout_ms);
		return 1;
	}
	if (m->caps.auth_login) {
		base64_encode(user, ul, b64, sizeof(b64));
		m->state = M_AUTH_LOGIN_USER;
		mta_send(m, "AUTH LOGIN %s", b64);
		mta_arm(m, gcfg->relay.command_timeout_ms);
		return 1;
	}
	mta_next_target(m, "the smarthost offers no AUTH PLAIN or LOGIN");
	return 1;
}

/* The reply to AUTH, or to a LOGIN step. */
void
mta_auth_reply(struct mta *m, const struct smtp_reply *r)
{
	char why[REPLY_TEXT_MAX + 200];
	const char *user, *pw;

	if (m->state == M_AUTH_LOGIN_USER && r->code == 334 &&
	    mta_auth_creds(m, &user, &pw) == 0) {
		/* mta_auth_start checked the length. */
		char b64[BASE64_ENCODED_SIZE(RELAY_CRED_MAX)];

		base64_encode(pw, strlen(pw), b64, sizeof(b64));
		m->state = M_AUTH_LOGIN_PASS;
		mta_send(m, "%s", b64);
		explicit_bzero(b64, sizeof(b64));
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
