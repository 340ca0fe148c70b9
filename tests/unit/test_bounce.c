// sources:
/*
 * test_bounce.c - classification of failed deliveries from the replies
 * big receivers send.  The texts are written in the style of Gmail,
 * Outlook/Office 365, Yahoo, Postfix, Exim and the greylisting
 * daemons' replies (postgrey, milter-greylist, greylistd, rspamd).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bounce.h"

static const struct {
	int		 code;
	const char	*status, *text;
	enum bounce_class want;
} cases[] = {
	/* Successes have no class. */
	{ 250, "2.0.0", "OK 1700000000 x1si123", BC_NONE },
	/* Hard: the mailbox or the domain does not exist. */
	{ 550, "5.1.1", "The email account that you tried to reach does not "
	    "exist. Please try double-checking the recipient's email "
	    "address for typos", BC_HARD },
	{ 550, "5.1.10", "RESOLVER.ADR.RecipientNotFound; Recipient "
	    "not found by SMTP address lookup", BC_HARD },
	{ 554, "", "delivery error: dd This user doesn't have a yahoo.com "
	    "account (someone@yahoo.com) [0] - mta1234.mail.bf1.yahoo.com",
	    BC_HARD },
	{ 550, "5.1.2", "Host unknown (Name server: example.invalid: host "
	    "not found)", BC_HARD },
	{ 553, "5.1.3", "Invalid address syntax", BC_HARD },
	{ 550, "", "<nobody@example.org>: Recipient address rejected: User "
	    "unknown in virtual mailbox table", BC_HARD },
	{ 550, "5.2.1", "The email account that you tried to reach is "
	    "disabled.", BC_HARD },
	{ 550, "5.5.0", "Requested action not taken: mailbox unavailable",
	    BC_HARD },
	{ 556, "5.1.10", "Recipient address has null MX", BC_HARD },
	/* A temporary failure about an address is not a verdict. */
	{ 450, "4.1.1", "<x@example.org>: Recipient address rejected: "
	    "unverified address", BC_SOFT },
	/* Mailbox full. */
	{ 552, "5.2.2", "The email account that you tried to reach is over "
	    "quota.", BC_MAILBOX_FULL },
	{ 452, "4.2.2", "The email account that you tried to reach is over "
	    "quota", BC_MAILBOX_FULL },
	{ 552, "", "Mailbox full", BC_MAILBOX_FULL },
	{ 554, "5.0.0", "mailbox is full: retry timeout exceeded",
	    BC_MAILBOX_FULL },
	/* Reputation: blocklists named in the text, whatever the code. */
	{ 550, "5.7.1", "Service unavailable; Client host [192.0.2.1] "
	    "blocked using Spamhaus. To request removal from this list see "
	    "https://www.spamhaus.org/query/ip/192.0.2.1", BC_REPUTATION },
	{ 554, "5.7.1", "Service unavailable; Client host [192.0.2.1] "
	    "blocked using zen.spamhaus.org", BC_REPUTATION },
	{ 550, "5.7.1", "Our system has detected that this message is likely "
	    "suspicious due to the very low reputation of the sending IP "
	    "address.", BC_REPUTATION },
	{ 554, "", "Message not allowed - [PH01] Email not accepted for "
	    "policy reasons. IP 192.0.2.1 listed on our blocklist",
	    BC_REPUTATION },
	{ 550, "5.7.1", "Unfortunately, messages from [192.0.2.1] weren't "
	    "sent. Please contact your Internet service provider since part "
	    "of their network is on our block list (S3150).",
	    BC_REPUTATION },
	/* Throttled: the receiver asks for less mail.  Gmail. */
	{ 421, "4.7.28", "[192.0.2.1      15] Our system has detected an "
	    "unusual rate of unsolicited mail originating from your IP "
	    "address. To protect our users from spam, mail sent from your IP "
	    "address has been temporarily rate limited. Please visit "
	    "https://support.google.com/mail/?p=UnsolicitedRateLimitError",
	    BC_THROTTLED },
	{ 421, "4.7.0", "[192.0.2.1 15] This message is suspicious due to the "
	    "very low reputation of the sending IP address. To protect our "
	    "users from spam, mail sent from your IP address has been "
	    "temporarily rate limited.", BC_THROTTLED },
	{ 421, "4.7.0", "Try again later, closing connection. (EHLO)",
	    BC_THROTTLED },
	{ 550, "5.4.5", "Daily user sending quota exceeded.", BC_THROTTLED },
	/* Microsoft: a busy server, a rate limit for the IP's reputation,
	 * Exchange's connection limit. */
	{ 451, "4.7.500", "Server busy. Please try again later from "
	    "[192.0.2.1]. (S77719) [BN8NAM12FT017.eop-nam12.prod.protection."
	    "outlook.com]", BC_THROTTLED },
	{ 451, "4.7.650", "The mail server [192.0.2.1] has been temporarily "
	    "rate limited due to IP reputation. For e-mail delivery "
	    "information, see https://postmaster.live.com (S775) "
	    "[Name=Protocol Filter Agent][AGT=PFA]", BC_THROTTLED },
	{ 421, "4.3.2", "The maximum number of concurrent server connections "
	    "has exceeded a limit, closing transmission channel",
	    BC_THROTTLED },
	/* Yahoo. */
	{ 421, "4.7.0", "[TSS04] Messages from 192.0.2.1 temporarily "
	    "deferred due to unexpected volume or user complaints - "
	    "4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
	    BC_THROTTLED },
	{ 421, "4.7.0", "[TSS09] All messages from 192.0.2.1 will be "
	    "permanently deferred; Retrying will NOT succeed. See "
	    "https://postmaster.yahooinc.com/error-codes", BC_THROTTLED },
	/* Postfix's anvil and rate limits, Exim's ratelimit ACL. */
	{ 421, "4.7.0", "mx.example.org Error: too many connections from "
	    "192.0.2.1", BC_THROTTLED },
	{ 450, "4.7.1", "Error: too much mail from 192.0.2.1", BC_THROTTLED },
	{ 450, "4.7.1", "Client host rejected: too many connections from "
	    "192.0.2.1, try again later", BC_THROTTLED },
	{ 451, "", "Sender rate exceeds 100 messages per 1h", BC_THROTTLED },
	{ 421, "", "Too many concurrent SMTP connections; please try again "
	    "later.", BC_THROTTLED },
	{ 451, "4.7.0", "rate limit exceeded", BC_THROTTLED },
	/* Not throttled: a temporary failure of the server or of one
	 * mailbox, however it says "later" (issue 21: a burst of these
	 * dropped a destination to one connection). */
	{ 451, "4.3.0", "try again later", BC_SOFT },
	{ 451, "4.7.0", "Temporary server error. Please try again later. "
	    "PRX4", BC_SOFT },
	{ 450, "4.2.1", "The user you are trying to contact is receiving "
	    "mail at a rate that prevents additional messages from being "
	    "delivered. Please resend your message at a later time. For more "
	    "information, please visit "
	    "https://support.google.com/mail/?p=ReceivingRate", BC_SOFT },
	{ 452, "4.5.3", "Too many recipients", BC_SOFT },
	{ 451, "", "Temporary local problem - please try later", BC_SOFT },
	{ 451, "", "Temporary failure, please try again later.", BC_SOFT },
	{ 450, "4.3.2", "Service currently unavailable", BC_SOFT },
	/* Greylisting: per recipient, a retry gets through (issue 18). */
	{ 450, "4.2.0", "<user@example.org>: Recipient address rejected: "
	    "Greylisted, see http://postgrey.schweikert.ch/help/"
	    "example.org.html", BC_GREYLIST },
	{ 450, "4.2.0", "greylisted", BC_GREYLIST },
	{ 451, "4.7.1", "Try again later", BC_GREYLIST },
	{ 451, "4.7.1", "Please try again later", BC_GREYLIST },
	{ 451, "4.7.1", "Greylisting in action, please come back later",
	    BC_GREYLIST },
	{ 451, "4.7.1", "Greylisting in action, please come back in 00:05:00",
	    BC_GREYLIST },
	{ 451, "", "192.0.2.1 is not yet authorized to deliver mail from "
	    "<a@example.com> to <b@example.org>. Please try later.",
	    BC_GREYLIST },
	{ 451, "4.7.1", "Greylisted, please try again in 300 seconds",
	    BC_GREYLIST },
	{ 421, "4.7.0", "Graylisted, come back later", BC_GREYLIST },
	/* A permanent refusal that mentions greylisting is none. */
	{ 550, "5.7.1", "Greylisting failed", BC_POLICY },
	/* Authentication. */
	{ 550, "5.7.26", "This mail has been blocked because the sender is "
	    "unauthenticated. Gmail requires all senders to authenticate "
	    "with either SPF or DKIM.", BC_AUTH },
	{ 550, "5.7.23", "The message was rejected because of Sender Policy "
	    "Framework violation", BC_AUTH },
	{ 550, "5.7.25", "The IP address sending this message does not have "
	    "a PTR record setup", BC_AUTH },
	{ 550, "5.7.1", "Unauthenticated email from example.com is not "
	    "accepted due to domain's DMARC policy.", BC_AUTH },
	{ 550, "5.7.27", "Sender address has null MX", BC_AUTH },
	/* Content. */
	{ 550, "5.7.1", "Our system has detected that this message is likely "
	    "unsolicited mail. To reduce the amount of spam sent to Gmail, "
	    "this message has been blocked.", BC_CONTENT },
	{ 552, "5.6.0", "Headers too large", BC_CONTENT },
	{ 554, "", "Message rejected: virus found (Eicar-Test-Signature)",
	    BC_CONTENT },
	/* Policy. */
	{ 550, "5.7.1", "Relaying denied", BC_POLICY },
	{ 550, "5.7.1", "Unfortunately, messages from [192.0.2.1] weren't "
	    "sent.", BC_POLICY },
	{ 554, "", "Transaction failed: access denied", BC_POLICY },
	/* Routing. */
	{ 451, "4.4.1", "connection to mx.example.org[192.0.2.7] refused",
	    BC_ROUTING },
	{ 451, "4.4.3", "DNS lookup for example.org failed: SERVFAIL",
	    BC_ROUTING },
	{ 550, "5.4.4", "example.org: no MX or A/AAAA record", BC_ROUTING },
	{ 550, "5.4.6", "Routing loop detected", BC_ROUTING },
	/* TLS. */
	{ 451, "4.4.1", "TLS handshake with mx.example.org[192.0.2.7] "
	    "failed: certificate verify failed", BC_TLS },
	{ 530, "5.7.10", "Encryption needed", BC_TLS },
	{ 421, "4.7.0", "TLS required for this domain", BC_TLS },
	/* Soft and other. */
	{ 451, "4.3.0", "Temporary local problem", BC_SOFT },
	{ 450, "", "Requested mail action not taken", BC_SOFT },
	{ 554, "5.3.4", "Message too big for system", BC_OTHER },
	{ 554, "", "Transaction failed", BC_OTHER },
	{ 550, "", "", BC_OTHER },
	/* A status whose class differs from the code is ignored. */
	{ 550, "4.2.2", "no", BC_OTHER },
	{ 550, "5.1.1000", "x", BC_OTHER },
	{ 550, "5..1", "x", BC_OTHER },
	{ 0, "", "", BC_OTHER },
	{ 999, "5.1.1", "", BC_OTHER },
};

static void
test_cases(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum bounce_class got = bounce_classify(cases[i].code,
		    cases[i].status, cases[i].text);

		if (got != cases[i].want)
			fail_msg("%d %s %s: got %s, want %s", cases[i].code,
			    cases[i].status, cases[i].text,
			    bounce_class_name(got),
			    bounce_class_name(cases[i].want));
	}
}

static void
test_null_parts(void **state)
{
	assert_int_equal(bounce_classify(550, NULL, NULL), BC_OTHER);
	assert_int_equal(bounce_classify(550, "5.1.1", NULL), BC_HARD);
	assert_int_equal(bounce_classify(451, NULL, NULL), BC_SOFT);
}

static void
test_names(void **state)
{
	for (int c = BC_NONE + 1; c < BC_COUNT; c++) {
		const char *n = bounce_class_name((enum bounce_class)c);

		assert_true(n[0] != '\0');
		assert_int_equal(bounce_class_parse(n), c);
	}
	assert_string_equal(bounce_class_name(BC_NONE), "");
	assert_string_equal(bounce_class_name(BC_MAILBOX_FULL),
	    "mailbox_full");
	assert_int_equal(bounce_class_parse(""), -1);
	assert_int_equal(bounce_class_parse("Hard"), -1);
	assert_int_equal(bounce_class_parse("bounced"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_null_parts),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
