/*
 * cmd.c - the one table of gwctl commands.
 *
 * The table drives argument dispatch (with smtpctl-style shortest
 * unambiguous prefixes for nouns and verbs), option parsing, usage lines,
 * `gwctl help` and the shell's completion.  Adding a command is adding a
 * row and its handler; nothing else lists commands.
 * Diagnostics: never dies; an unknown or ambiguous command or a bad
 * option is EX_USAGE with the reason and the command's usage line on
 * stderr.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "alertrule.h"
#include "buf.h"
#include "gwctl.h"
#include "log.h"
#include "util.h"

static cmd_fn cmd_help_run;

const struct cmd cmds[] = {
	{ "subaccount", "add",
	    "NAME --domain DOMAIN [--domain DOMAIN ...] [--password-stdin]",
	    "create a subaccount; prints a new password unless "
	    "--password-stdin", 1, 1, "--domain= --password-stdin", 0,
	    subaccount_add },
	{ "subaccount", "list", "[--format table|json]",
	    "list subaccounts with domains, allowed IPs and API keys", 0, 0,
	    "--format=", 0, subaccount_list },
	{ "subaccount", "enable", "NAME", "allow a subaccount to send", 1, 1,
	    "", CMD_SUBARG, subaccount_enable },
	{ "subaccount", "disable", "NAME",
	    "stop a subaccount from sending (logins and API keys refused)",
	    1, 1, "", CMD_SUBARG, subaccount_disable },
	{ "subaccount", "passwd", "NAME [--password-stdin]",
	    "set a new password; prints it unless --password-stdin", 1, 1,
	    "--password-stdin", CMD_SUBARG, subaccount_passwd },
	{ "subaccount", "delete", "NAME",
	    "delete a subaccount with its domains, IPs and API keys", 1, 1,
	    "", CMD_SUBARG, subaccount_delete },
	{ "subaccount", "allow-ip", "NAME CIDR ...",
	    "add networks to the subaccount's IP allowlist", 2, -1, "",
	    CMD_SUBARG, subaccount_allow_ip },
	{ "subaccount", "deny-ip", "NAME CIDR ...",
	    "remove networks from the subaccount's IP allowlist", 2, -1, "",
	    CMD_SUBARG, subaccount_deny_ip },
	{ "subaccount", "domain-add", "NAME DOMAIN ...",
	    "allow the subaccount to send from these domains", 2, -1, "",
	    CMD_SUBARG, subaccount_domain_add },
	{ "subaccount", "domain-del", "NAME DOMAIN ...",
	    "remove sender domains (the last one cannot go)", 2, -1, "",
	    CMD_SUBARG, subaccount_domain_del },
	{ "subaccount", "dkim-org", "NAME DOMAIN|none",
	    "also sign the subaccount's mail with DOMAIN's DKIM key (an "
	    "organisation-wide second signature), or stop", 2, 2, "",
	    CMD_SUBARG, subaccount_dkim_org },
	{ "subaccount", "set", "NAME [--quota-hour N] [--quota-day N] "
	    "[--bulk yes|no] [--bounce-domain D|none]",
	    "limit the messages a subaccount may send per hour and per day "
	    "(0: no limit); --bulk: its mail gets one-click unsubscribe "
	    "headers; give its mail VERP return paths at D", 1, 1,
	    "--quota-hour= --quota-day= --bulk= --bounce-domain=", CMD_SUBARG,
	    subaccount_set },
	{ "subaccount", "resume", "NAME",
	    "let a subaccount that gwd paused for its bounce rate send again "
	    "(gwd must run)", 1, 1, "", CMD_SUBARG, subaccount_resume },
	{ "apikey", "add", "NAME [--label LABEL]",
	    "create an API key for a subaccount; prints it once", 1, 1,
	    "--label=", CMD_SUBARG, apikey_add },
	{ "apikey", "list", "[NAME] [--format table|json]",
	    "list API keys (never the keys themselves)", 0, 1, "--format=",
	    CMD_SUBARG, apikey_list },
	{ "apikey", "revoke", "KEYID", "delete an API key", 1, 1, "",
	    CMD_KEYARG, apikey_revoke },
	{ "auth", "blocks", "[--format table|json]",
	    "addresses, and user names from them, that gwd refuses after "
	    "failed logins: failures and when the block ends (gwd must run)",
	    0, 0, "--format=", 0, auth_blocks },
	{ "auth", "unblock", "IP|ALL",
	    "lift gwd's blocks of an address and of every user name from it, "
	    "or all blocks (gwd must run)", 1, 1, "", 0, auth_unblock },
	{ "dkim", "keygen", "DOMAIN [--selector S] [--algorithm rsa|ed25519] "
	    "[--bits 2048|3072|4096] [--activate]",
	    "make a DKIM key (pending) and print its DNS record", 1, 1,
	    "--selector= --algorithm= --bits= --activate", CMD_DKIMARG,
	    dkim_keygen },
	{ "dkim", "import", "DOMAIN SELECTOR KEYFILE|- [--activate]",
	    "store a PEM private key (pending) and print its DNS record", 3,
	    3, "--activate", CMD_DKIMARG, dkim_import },
	{ "dkim", "list", "[DOMAIN] [--format table|json]",
	    "list DKIM keys and their states (never the keys)", 0, 1,
	    "--format=", CMD_DKIMARG, dkim_list },
	{ "dkim", "show", "DOMAIN",
	    "a domain's keys, states, canonicalization and DNS records", 1, 1,
	    "", CMD_DKIMARG, dkim_show },
	{ "dkim", "dns", "DOMAIN",
	    "the records to publish, as zone-file lines (revocations for "
	    "retired keys)", 1, 1, "", CMD_DKIMARG, dkim_dns },
	{ "dkim", "check", "DOMAIN [SELECTOR]",
	    "compare the records DNS serves with the stored keys", 1, 2, "",
	    CMD_DKIMARG, dkim_check },
	{ "dkim", "activate", "DOMAIN SELECTOR [--force]",
	    "sign with a key once DNS serves its record; the key it replaces "
	    "becomes retiring", 2, 2, "--force", CMD_DKIMARG, dkim_activate },
	{ "dkim", "retire", "DOMAIN SELECTOR [--force]",
	    "stop using a pending or retiring key (retiring for 7 days, or "
	    "--force); prints its revocation record", 2, 2, "--force",
	    CMD_DKIMARG, dkim_retire },
	{ "dkim", "delete", "DOMAIN SELECTOR",
	    "forget a retired or pending key", 2, 2, "", CMD_DKIMARG,
	    dkim_delete },
	{ "dkim", "canon", "DOMAIN [relaxed/relaxed|relaxed/simple|"
	    "simple/relaxed|simple/simple]",
	    "show or set the canonicalization (header/body) of a domain", 1,
	    2, "", CMD_DKIMARG, dkim_canon },
	{ "domain", "check", "DOMAIN",
	    "check what a sending domain needs in DNS: DKIM, the bounce "
	    "domain's MX and SPF, DMARC and alignment", 1, 1, "",
	    CMD_DKIMARG, domain_check },
	{ "route", "add", "[--subaccount S] [--from-domain P] [--to-domain P] "
	    "[--header 'NAME: VALUE'] [--size-over N] [--size-under N] "
	    "[--priority transactional|bulk] [--bulk] [--pool POOL] "
	    "[--smarthost 'HOST[:PORT] ...' | --mx] "
	    "[--auth-user USER --auth-password-stdin] [--tls POLICY] "
	    "[--hold | --reject 'CODE X.Y.Z TEXT'] [--archive yes|no] "
	    "[--position N]",
	    "add a routing rule (last, or at --position); the first rule "
	    "that matches a recipient decides", 0, 0, "--subaccount= "
	    "--from-domain= --to-domain= --header= --size-over= --size-under= "
	    "--priority= --bulk --pool= --smarthost= --auth-user= "
	    "--auth-password-stdin --mx --tls= --hold --reject= --archive= "
	    "--position=", 0, route_add },
	{ "route", "list", "[--format table|json]",
	    "the routing rules in the order they are tried", 0, 0,
	    "--format=", 0, route_list },
	{ "route", "delete", "ID", "delete a routing rule", 1, 1, "", 0,
	    route_delete },
	{ "route", "move", "ID POSITION", "move a routing rule", 2, 2, "", 0,
	    route_move },
	{ "route", "test", "--from ADDR --to ADDR [--subaccount S] "
	    "[--header 'NAME: VALUE' ...] [--size N]",
	    "which rule would decide for this message, and what it would do "
	    "(nothing is sent)", 0, 0, "--from= --to= --subaccount= --header= "
	    "--size=", 0, route_test },
	{ "policy", "add", "NAME --detector DETECTOR [--min N] --action "
	    "block|quarantine|redact|tag|notify [--notify ADDR] "
	    "[--subaccount S] [--from-domain P] [--to-domain P]",
	    "add a content policy: DETECTOR is card, ssn, iban, email, phone, "
	    "phi, regex:PATTERN, keywords:WORD,..., attachment:RULE or uribl; "
	    "it fires at N distinct values or attachments (1); --notify: a "
	    "summary mail goes to ADDR when it fires", 1, 1, "--detector= "
	    "--min= --action= --subaccount= --from-domain= --to-domain= "
	    "--notify=", 0,
	    policy_add },
	{ "policy", "list", "[--format table|json]", "the content policies",
	    0, 0, "--format=", 0, policy_list },
	{ "policy", "show", "NAME [--format table|json]", "one content policy",
	    1, 1, "--format=", 0, policy_show },
	{ "policy", "delete", "NAME", "delete a content policy", 1, 1, "", 0,
	    policy_delete },
	{ "policy", "move", "NAME --before OTHER|--after OTHER|--position N",
	    "change the order content policies are evaluated in (the first "
	    "that blocks or quarantines names the decision)", 1, 1,
	    "--before= --after= --position=", 0, policy_move },
	{ "policy", "test", "FILE.eml|- [--subaccount S] [--from ADDR] "
	    "[--to ADDR]",
	    "which content policies fire on this message, on which parts, "
	    "matches masked (nothing is sent)", 1, 1, "--subaccount= --from= "
	    "--to=", 0, policy_test },
	{ "alert", "add", "NAME --metric METRIC [--subaccount S|--domain D] "
	    "--above X [--for 5m] [--throttle] --notify TARGET "
	    "[--notify TARGET ...]",
	    "add an alert: METRIC is bounce_rate, hard_bounce_rate, "
	    "complaint_rate, deferral_rate (percent), queue_depth, "
	    "oldest_queued, latency_p95 (seconds) or volume_anomaly; TARGET is "
	    "mailto:ADDRESS, https://URL (Slack) or pagerduty:ROUTING-KEY",
	    1, 1, "--metric= --subaccount= --domain= --above= --for= "
	    "--throttle --notify=", 0, alert_add },
	{ "alert", "list", "[--format table|json]", "the alerts", 0, 0,
	    "--format=", 0, alert_list },
	{ "alert", "delete", "NAME", "delete an alert", 1, 1, "", CMD_ALERTARG,
	    alert_delete },
	{ "alert", "test", "NAME",
	    "send a test notification to each of the alert's targets (gwd "
	    "must run) and print what each answered", 1, 1, "", CMD_ALERTARG,
	    alert_test },
	{ "tls-report", "send", "[--day YYYY-MM-DD]",
	    "send the TLS-RPT reports (RFC 8460) of a UTC day (default "
	    "today) to the policy domains now (gwd must run)", 0, 0,
	    "--day=", 0, tls_report_send },
	{ "pool", "add", "NAME ADDRESS ... [--helo NAME]",
	    "create an IP pool or add local source addresses to it", 1, -1,
	    "--helo=", 0, pool_add },
	{ "pool", "list", "[--format table|json]",
	    "IP pools, their addresses and HELO names", 0, 0, "--format=", 0,
	    pool_list },
	{ "pool", "delete", "NAME [ADDRESS ...]",
	    "delete addresses from a pool, or the pool (if no rule uses it)",
	    1, -1, "", 0, pool_delete },
	{ "throttle", "set", "DOMAIN [--connections N] [--per-connection N] "
	    "[--per-minute N]",
	    "limit delivery to a recipient domain or pattern (N or default)",
	    1, 1, "--connections= --per-connection= --per-minute=", 0,
	    throttle_set },
	{ "throttle", "list", "[--format table|json]",
	    "per-domain throttles (others get gwd.conf's relay defaults)", 0,
	    0, "--format=", 0, throttle_list },
	{ "throttle", "delete", "DOMAIN", "back to the defaults for a domain",
	    1, 1, "", 0, throttle_delete },
	{ "queue", "list",
	    "[--domain D] [--subaccount S] [--format table|json]",
	    "queued messages with each recipient's state and last reply "
	    "(! held, * being delivered)", 0, 0,
	    "--domain= --subaccount= --format=", 0, queue_list },
	{ "queue", "show", "ID",
	    "one queued message: envelope, headers, why it waits, history",
	    1, 1, "", CMD_QIDARG, queue_show },
	{ "queue", "flush", "[ID ...|-|ALL|--domain D]",
	    "retry now what waits for a retry (nothing named: everything)",
	    0, -1, "--domain=", CMD_QIDARG, queue_act },
	{ "queue", "hold", "ID ...|-|ALL",
	    "keep messages from delivery until released (survives restarts)",
	    1, -1, "", CMD_QIDARG, queue_act },
	{ "queue", "release", "ID ...|-|ALL",
	    "let held messages go again, on their retry schedule", 1, -1, "",
	    CMD_QIDARG, queue_act },
	{ "queue", "delete", "ID ...|-|ALL",
	    "remove messages without delivery and without telling the sender",
	    1, -1, "", CMD_QIDARG, queue_act },
	{ "queue", "bounce", "ID ...|-|ALL",
	    "fail messages now and send their sender a DSN", 1, -1, "",
	    CMD_QIDARG, queue_act },
	{ "archive", "verify", "[DAY]",
	    "check the compliance archive's SHA-256 chain (every day, or "
	    "DAY as YYYYMMDD): names the first changed, removed or "
	    "reordered record", 0, 1, "", 0, archive_verify },
	{ "archive", "list", "[DAY]",
	    "the records of the compliance archive (or of DAY): sequence "
	    "number, queue id, arrival, size", 0, 1, "", 0, archive_list },
	{ "archive", "get", "ID [--envelope]",
	    "print a message as the compliance archive holds it (or its "
	    "envelope)", 1, 1, "--envelope", CMD_QIDARG, archive_get },
	{ "quarantine", "list", "[--subaccount S] [--format table|json]",
	    "messages content policies quarantined, with the policy", 0, 0,
	    "--subaccount= --format=", 0, quarantine_list },
	{ "quarantine", "show", "ID",
	    "one quarantined message: envelope, headers, the verdict (matches "
	    "masked)", 1, 1, "", CMD_QIDARG, quarantine_show },
	{ "quarantine", "release", "ID ...|-",
	    "deliver quarantined messages as usual", 1, -1, "", CMD_QIDARG,
	    quarantine_release },
	{ "quarantine", "delete", "ID ...|- --reason TEXT",
	    "remove quarantined messages without delivery, saying why", 1, -1,
	    "--reason=", CMD_QIDARG, quarantine_delete },
	{ "suppression", "add", "ADDRESS ... [--subaccount NAME] "
	    "[--reason TEXT]",
	    "refuse mail to these recipients (of one subaccount, or of all)",
	    1, -1, "--subaccount= --reason=", 0, suppress_add },
	{ "suppression", "import", "FILE|- [--subaccount NAME] "
	    "[--reason TEXT]",
	    "add the addresses of a file: one a line, or CSV address,reason",
	    1, 1, "--subaccount= --reason=", 0, suppress_import },
	{ "suppression", "list", "[--subaccount NAME] [--format table|json]",
	    "the suppression list: admin, import and bounce entries", 0, 0,
	    "--subaccount= --format=", 0, suppress_list },
	{ "suppression", "delete", "ADDRESS [--subaccount NAME]",
	    "take an address off the list (bounce entries: gwd must run)", 1,
	    1, "--subaccount=", 0, suppress_delete },
	{ "webhook", "add", "URL [--subaccount S] [--events LIST] "
	    "[--secret-stdin]",
	    "post events (of one subaccount, or of all) to URL, signed; "
	    "LIST: some of delivered, bounced, deferred, complained, "
	    "unsubscribed, quarantined, rejected, expired, with commas "
	    "(all); prints a new secret unless --secret-stdin", 1, 1, "--subaccount= --events= "
	    "--secret-stdin", 0, webhook_add },
	{ "webhook", "list", "[--format table|json]",
	    "the webhooks (secrets are not shown)", 0, 0, "--format=", 0,
	    webhook_list },
	{ "webhook", "delete", "ID",
	    "delete a webhook (events waiting for it are not sent)", 1, 1, "",
	    0, webhook_delete },
	{ "webhook", "test", "ID",
	    "post a test event now and print the receiver's answer (gwd "
	    "must run)", 1, 1, "", 0, webhook_test },
	{ "key", "rotate", "unsubscribe|verp",
	    "a new HMAC key for unsubscribe links or VERP return paths; "
	    "what the old one made keeps working for 90 days", 1, 1, "", 0,
	    key_rotate },
	{ "db", "init", "",
	    "create or upgrade gw.db, queue.db and log.db in state_dir", 0, 0,
	    "", 0, database_init },
	{ "help", NULL, "[NOUN]", "describe the commands", 0, 1, "",
	    CMD_NOUNARG, cmd_help_run },
	{ "shell", NULL, "", "interactive shell with history and completion",
	    0, 0, "", CMD_NOSHELL, shell_run },
	{ "quit", NULL, "", "leave the shell", 0, 0, "", CMD_SHELL,
	    shell_quit },
	{ "exit", NULL, "", "leave the shell", 0, 0, "", CMD_SHELL,
	    shell_quit },
};
const int ncmds = (int)nitems(cmds);

static int
cmd_available(const struct ctx *ctx, const struct cmd *c)
{
	if (c->flags & CMD_SHELL)
		return ctx->interactive;
	if (c->flags & CMD_NOSHELL)
		return !ctx->interactive;
	return 1;
}

/* The candidate a row offers: its noun, or its verb under `noun`. */
static const char *
cmd_word(const struct cmd *c, const char *noun)
{
	if (noun == NULL)
		return c->noun;
	return strcmp(c->noun, noun) == 0 ? c->verb : NULL;
}

static void
cmd_list_words(const struct ctx *ctx, const char *noun, const char *prefix,
    struct buf *out)
{
	const char *last = NULL, *w;

	for (int i = 0; i < ncmds; i++) {
		if (!cmd_available(ctx, &cmds[i]) ||
		    (w = cmd_word(&cmds[i], noun)) == NULL ||
		    strncmp(w, prefix, strlen(prefix)) != 0 ||
		    (last && strcmp(last, w) == 0))
			continue;
		buf_printf(out, "%s%s", last ? ", " : "", w);
		last = w;
	}
}

/*
 * Resolve word w among the nouns (noun == NULL) or the verbs of noun:
 * an exact match, or the one candidate w is a prefix of.  Returns the
 * table's spelling, or NULL after saying why (unless quiet).
 */
static const char *
cmd_lookup(const struct ctx *ctx, const char *noun, const char *w,
    int quiet)
{
	const char *match = NULL, *cand;
	char esc[128];
	struct buf b;
	int n = 0;

	for (int i = 0; i < ncmds; i++) {
		if (!cmd_available(ctx, &cmds[i]) ||
		    (cand = cmd_word(&cmds[i], noun)) == NULL)
			continue;
		if (strcmp(cand, w) == 0)
			return cand;
		if (strncmp(cand, w, strlen(w)) == 0 &&
		    (match == NULL || strcmp(match, cand) != 0)) {
			match = cand;
			n++;
		}
	}
	if (n == 1 && *w != '\0')
		return match;
	if (quiet)
		return NULL;
	log_escape(w, strlen(w), esc, sizeof(esc));
	buf_init(&b, 4096);
	cmd_list_words(ctx, noun, n > 1 ? w : "", &b);
	log_warnx("%s%s%s \"%s\"; %s: %s", noun ? noun : "", noun ? ": " : "",
	    n > 1 ? "ambiguous" : noun ? "unknown verb" : "unknown command",
	    esc, n > 1 ? "could be" : "one of", buf_cstr(&b));
	buf_free(&b);
	return NULL;
}

static const struct cmd *
cmd_find(const char *noun, const char *verb)
{
	for (int i = 0; i < ncmds; i++) {
		if (strcmp(cmds[i].noun, noun) != 0)
			continue;
		if (verb == NULL ? cmds[i].verb == NULL :
		    cmds[i].verb != NULL && strcmp(cmds[i].verb, verb) == 0)
			return &cmds[i];
	}
	return NULL;
}

/*
 * Words wrapped at HELP_WIDTH columns, from column `col` (what the line
 * holds already), continuation lines indented by `indent`.  With
 * `group`, breaks only at spaces outside [ ] and ' ', so an option and
 * its argument ("[--header 'NAME: VALUE']") stay on one line.  Nothing
 * is ever cut: a word longer than a line has a line of its own.
 */
#define HELP_WIDTH	79

static void
cmd_wrap(FILE *fp, int col, int indent, const char *text, int group)
{
	int depth = 0, quoted = 0, start = 1;
	const char *p = text + strspn(text, " ");
	size_t n;

	while (*p) {
		for (n = 0; p[n] && (p[n] != ' ' || depth > 0 || quoted);
		    n++) {
			if (!group)
				continue;
			if (p[n] == '\'')
				quoted = !quoted;
			else if (!quoted && p[n] == '[')
				depth++;
			else if (!quoted && p[n] == ']' && depth > 0)
				depth--;
		}
		if (!start && col + 1 + (int)n > HELP_WIDTH) {
			fprintf(fp, "\n%*s", indent, "");
			col = indent;
		} else if (!start) {
			fputc(' ', fp);
			col++;
		}
		fprintf(fp, "%.*s", (int)n, p);
		col += (int)n;
		start = 0;
		p += n;
		p += strspn(p, " ");
	}
	fputc('\n', fp);
}

/* "noun verb SYNOPSIS" from column `at`, wrapped under the synopsis. */
static void
cmd_line(FILE *fp, const struct cmd *c, int at)
{
	int n;

	n = fprintf(fp, "%s%s%s%s", c->noun, c->verb ? " " : "",
	    c->verb ? c->verb : "", *c->synopsis ? " " : "");
	cmd_wrap(fp, at + n, at + n, c->synopsis, 1);
}

void
cmd_usage(FILE *fp, const struct cmd *c)
{
	fputs("usage: gwctl ", fp);
	cmd_line(fp, c, 13);
}

int
cmd_usage_error(const struct cmd *c, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s", msg);
	cmd_usage(stderr, c);
	return EX_USAGE;
}

/* The option spelled `name` in c->opts: 0 flag, 1 takes a value, -1 no. */
static int
cmd_option(const struct cmd *c, const char *name, size_t len)
{
	const char *p = c->opts;

	while (*p) {
		size_t n = strcspn(p, " ");
		int val = n > 0 && p[n - 1] == '=';

		if (n - (size_t)val == len && strncmp(p, name, len) == 0)
			return val;
		p += n;
		p += strspn(p, " ");
	}
	return -1;
}

static int
cmd_parse_option(const struct cmd *c, struct args *a, int argc,
    const char **argv, int *i)
{
	const char *arg = argv[*i], *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	int kind = cmd_option(c, arg, len);
	char esc[128];

	log_escape(arg, len, esc, sizeof(esc));
	if (kind == -1)
		return cmd_usage_error(c, "unknown option %s", esc);
	if (kind == 0 && eq)
		return cmd_usage_error(c, "%s takes no value", esc);
	if (kind == 1 && eq == NULL && *i + 1 >= argc)
		return cmd_usage_error(c, "%s needs a value", esc);
	if (a->nopt == ARGS_MAX_OPTS)
		return cmd_usage_error(c, "too many options");
	a->optname[a->nopt] = xstrndup(arg, len);
	a->optval[a->nopt++] = kind == 0 ? NULL : eq ? eq + 1 : argv[++*i];
	return 0;
}

/* Split argv into options (from the row's list) and positionals. */
static int
cmd_parse_args(const struct cmd *c, int argc, const char **argv,
    struct args *a)
{
	int i, r, dashdash = 0;

	memset(a, 0, sizeof(*a));
	a->argv = xcalloc((size_t)argc + 1, sizeof(*a->argv));
	for (i = 0; i < argc; i++) {
		if (!dashdash && strcmp(argv[i], "--") == 0)
			dashdash = 1;
		else if (!dashdash && argv[i][0] == '-' && argv[i][1] != '\0') {
			if ((r = cmd_parse_option(c, a, argc, argv, &i)) != 0)
				return r;
		} else
			a->argv[a->argc++] = argv[i];
	}
	if (a->argc < c->min)
		return cmd_usage_error(c, "missing argument");
	if (c->max >= 0 && a->argc > c->max)
		return cmd_usage_error(c, "too many arguments");
	return 0;
}

static void
cmd_args_free(struct args *a)
{
	for (int i = 0; i < a->nopt; i++)
		free((char *)a->optname[i]);
	free(a->argv);
}

/* Noun, then verb when the noun has verbs; *used = words eaten. */
static const struct cmd *
cmd_resolve(const struct ctx *ctx, int argc, const char **argv, int *used,
    int quiet)
{
	const char *noun, *verb;
	struct buf b;

	if ((noun = cmd_lookup(ctx, NULL, argv[0], quiet)) == NULL)
		return NULL;
	*used = 1;
	if (cmd_find(noun, NULL) != NULL)
		return cmd_find(noun, NULL);
	if (argc < 2) {
		if (!quiet) {
			buf_init(&b, 4096);
			cmd_list_words(ctx, noun, "", &b);
			log_warnx("%s: missing verb; one of: %s", noun,
			    buf_cstr(&b));
			buf_free(&b);
		}
		return NULL;
	}
	if ((verb = cmd_lookup(ctx, noun, argv[1], quiet)) == NULL)
		return NULL;
	*used = 2;
	return cmd_find(noun, verb);
}

static void
cmd_help_one(FILE *fp, const struct cmd *c)
{
	fputs("  ", fp);
	cmd_line(fp, c, 2);
	fputs("      ", fp);
	cmd_wrap(fp, 6, 6, c->help, 0);
}

static int
cmd_is_help(const char *w)
{
	return strcmp(w, "--help") == 0 || strcmp(w, "-h") == 0 ||
	    strcmp(w, "help") == 0;
}

/*
 * "NOUN --help" / "NOUN help" lists the noun's commands; "--help" or
 * "-h" among a command's options (before "--") prints its usage and
 * what it does.  Both on stdout with EX_OK, as asked for; 1 if so.
 */
static int
cmd_run_help(struct ctx *ctx, int argc, const char **argv, int *r)
{
	const struct cmd *c;
	const char *noun;
	int used;

	if (argc >= 2 && cmd_is_help(argv[1]) &&
	    (noun = cmd_lookup(ctx, NULL, argv[0], 1)) != NULL &&
	    cmd_find(noun, NULL) == NULL) {
		cmd_help(stdout, noun, ctx->interactive);
		*r = EX_OK;
		return 1;
	}
	if ((c = cmd_resolve(ctx, argc, argv, &used, 1)) == NULL)
		return 0;
	for (int i = used; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			cmd_usage(stdout, c);
			fputs("  ", stdout);
			cmd_wrap(stdout, 2, 2, c->help, 0);
			*r = EX_OK;
			return 1;
		}
	return 0;
}

int
cmd_run(struct ctx *ctx, int argc, const char **argv)
{
	const struct cmd *c;
	struct args a;
	int used, r;

	if (cmd_run_help(ctx, argc, argv, &r))
		return r;
	if ((c = cmd_resolve(ctx, argc, argv, &used, 0)) == NULL)
		return EX_USAGE;
	if ((r = cmd_parse_args(c, argc - used, argv + used, &a)) == 0)
		r = c->fn(ctx, c, &a);
	cmd_args_free(&a);
	return r;
}

void
cmd_help(FILE *fp, const char *noun, int interactive)
{
	struct ctx dummy = { .interactive = interactive };

	for (int i = 0; i < ncmds; i++)
		if (cmd_available(&dummy, &cmds[i]) &&
		    (noun == NULL || strcmp(cmds[i].noun, noun) == 0))
			cmd_help_one(fp, &cmds[i]);
	if (noun == NULL)
		fprintf(fp, "Nouns and verbs may be shortened to any "
		    "unambiguous prefix\n(\"sub l\" = \"subaccount list\").\n");
}

static int
cmd_help_run(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	const char *noun = NULL;

	if (a->argc == 1 &&
	    (noun = cmd_lookup(ctx, NULL, a->argv[0], 0)) == NULL)
		return EX_USAGE;
	cmd_help(stdout, noun, ctx->interactive);
	return EX_OK;
}

static void
cmd_complete_options(const struct cmd *c, void (*add)(void *, const char *),
    void *arg)
{
	const char *p = c->opts;
	char opt[64];

	while (*p) {
		size_t n = strcspn(p, " ");

		if (n > 0 && n < sizeof(opt)) {
			memcpy(opt, p, n);
			opt[n - (p[n - 1] == '=')] = '\0';
			add(arg, opt);
		}
		p += n;
		p += strspn(p, " ");
	}
}

static void
cmd_complete_words(const struct ctx *ctx, const char *noun,
    void (*add)(void *, const char *), void *arg)
{
	const char *last = NULL, *w;

	for (int i = 0; i < ncmds; i++) {
		if (!cmd_available(ctx, &cmds[i]) ||
		    (w = cmd_word(&cmds[i], noun)) == NULL ||
		    (last && strcmp(last, w) == 0))
			continue;
		add(arg, w);
		last = w;
	}
}

/* What may stand at word n, given the words before it. */
int
cmd_complete(struct ctx *ctx, int argc, const char **argv, int n,
    void (*add)(void *, const char *), void *arg)
{
	const struct cmd *c;
	const char *noun;
	int used, pos = 0;

	if (n == 0) {
		cmd_complete_words(ctx, NULL, add, arg);
		return 0;
	}
	if ((noun = cmd_lookup(ctx, NULL, argv[0], 1)) == NULL)
		return 0;
	if (n == 1 && cmd_find(noun, NULL) == NULL) {
		cmd_complete_words(ctx, noun, add, arg);
		return 0;
	}
	if ((c = cmd_resolve(ctx, n < argc ? n : argc, argv, &used, 1)) ==
	    NULL)
		return 0;
	if (n < argc && argv[n][0] == '-') {
		cmd_complete_options(c, add, arg);
		return 0;
	}
	if (strcmp(argv[n - 1], "--format") == 0) {
		add(arg, "table");
		add(arg, "json");
		return 0;
	}
	if (strcmp(argv[n - 1], "--metric") == 0) {
		for (int m = 0; m < AM_COUNT; m++)
			add(arg, alert_metric_name(m));
		return 0;
	}
	if (strcmp(argv[n - 1], "--algorithm") == 0) {
		add(arg, "rsa");
		add(arg, "ed25519");
		return 0;
	}
	/* Which positional argument is this? Skip options and values. */
	for (int i = used; i < n; i++) {
		if (argv[i][0] != '-')
			pos++;
		else if (!strchr(argv[i], '=') &&
		    cmd_option(c, argv[i], strlen(argv[i])) == 1)
			i++;
	}
	if (c->flags & CMD_QIDARG) {
		if (c->max != 1)
			add(arg, "ALL");
		queue_ids(ctx, add, arg);
	} else if (pos == 0 && (c->flags & CMD_SUBARG))
		subaccount_names(ctx, add, arg);
	else if (pos == 0 && (c->flags & CMD_KEYARG))
		apikey_ids(ctx, add, arg);
	else if (pos == 0 && (c->flags & CMD_DKIMARG))
		dkim_domains(ctx, add, arg);
	else if (pos == 0 && (c->flags & CMD_ALERTARG))
		alert_names(ctx, add, arg);
	else if (pos == 0 && (c->flags & CMD_NOUNARG))
		cmd_complete_words(ctx, NULL, add, arg);
	return 0;
}

const char *
args_get(const struct args *a, const char *name)
{
	const char *v = NULL;

	for (int i = 0; i < a->nopt; i++)
		if (strcmp(a->optname[i], name) == 0)
			v = a->optval[i];
	return v;
}

int
args_has(const struct args *a, const char *name)
{
	return args_count(a, name) > 0;
}

int
args_count(const struct args *a, const char *name)
{
	int n = 0;

	for (int i = 0; i < a->nopt; i++)
		if (strcmp(a->optname[i], name) == 0)
			n++;
	return n;
}

const char *
args_nth(const struct args *a, const char *name, int n)
{
	for (int i = 0; i < a->nopt; i++)
		if (strcmp(a->optname[i], name) == 0 && n-- == 0)
			return a->optval[i];
	return NULL;
}
