/*
 * gwctl.h - shared pieces of gwctl: the command table, parsed arguments
 * and the context every command runs in.
 */
#ifndef GWCTL_H
#define GWCTL_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

#define ARGS_MAX_OPTS	64

struct ctx {
	const char	*config_path;
	struct gw_config cfg;
	int		 cfg_loaded;
	int		 privs_dropped;
	sqlite3		*db;		/* gw.db, opened when needed */
	int		 interactive;	/* running inside the shell */
	int		 quit;		/* the shell should end */
};

/* Arguments after the noun and verb, options taken out. */
struct args {
	int		 argc;
	const char	**argv;		/* positional arguments */
	int		 nopt;
	const char	*optname[ARGS_MAX_OPTS];	/* "--domain" */
	const char	*optval[ARGS_MAX_OPTS];		/* NULL: flag */
};

struct cmd;
typedef int	cmd_fn(struct ctx *, const struct cmd *, struct args *);

struct cmd {
	const char	*noun;
	const char	*verb;		/* NULL: the noun alone */
	const char	*synopsis;	/* arguments, for usage and help */
	const char	*help;		/* one line */
	int		 min, max;	/* positionals; max -1: any */
	const char	*opts;		/* "--domain= --password-stdin":
					   '=' takes a value */
	int		 flags;
	cmd_fn		*fn;
};

#define CMD_SUBARG	0x01	/* first argument is a subaccount name */
#define CMD_KEYARG	0x02	/* first argument is an API key id */
#define CMD_SHELL	0x04	/* only inside the shell */
#define CMD_NOSHELL	0x08	/* not inside the shell */
#define CMD_NOUNARG	0x10	/* first argument is a noun (help) */
#define CMD_DKIMARG	0x20	/* first argument is a DKIM domain */
#define CMD_QIDARG	0x40	/* every argument is a queue id */
#define CMD_ALERTARG	0x80	/* first argument is an alert name */

/* cmd.c: the table and everything it drives. */
extern const struct cmd	cmds[];
extern const int	ncmds;
int	 cmd_run(struct ctx *, int argc, const char **argv);
void	 cmd_usage(FILE *, const struct cmd *);
int	 cmd_usage_error(const struct cmd *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 cmd_help(FILE *, const char *noun, int interactive);
/* Candidates for completing word `n` of argv (shell.c).  Calls add()
 * for each; returns 0. */
int	 cmd_complete(struct ctx *, int argc, const char **argv, int n,
	    void (*add)(void *, const char *), void *arg);

/* args helpers */
const char *args_get(const struct args *, const char *name);
int	 args_has(const struct args *, const char *name);
int	 args_count(const struct args *, const char *name);
const char *args_nth(const struct args *, const char *name, int n);

/* ctx.c: configuration, privileges, gw.db, small SQL helpers. */
int	 ctx_config(struct ctx *);
int	 ctx_state(struct ctx *);
int	 ctx_db(struct ctx *);
void	 ctx_close(struct ctx *);
int	 ctx_begin(struct ctx *);
int	 ctx_commit(struct ctx *);
void	 ctx_rollback(struct ctx *);
int	 ctx_sqlerr(struct ctx *, const char *what);
sqlite3_stmt *ctx_stmt(struct ctx *, const char *sql, const char *types,
	    ...);
/* Move row id of table (gwctl's constant; dense "position" column)
 * from position from to to, inside the caller's transaction. */
int	 ctx_reorder(struct ctx *, const char *table, int64_t id,
	    int64_t from, int64_t to);
int	 ctx_exec(struct ctx *, int *changes, const char *sql,
	    const char *types, ...);
int64_t	 ctx_now(void);
/* For completion: add() each first column of sql's rows (gw.db open;
 * else, or on an error, nothing and -1). */
int	 ctx_words(struct ctx *, const char *sql,
	    void (*add)(void *, const char *), void *arg);
int	 ctx_read_secret(const char *what, size_t max, char *out,
	    size_t outsz);

/* subaccount.c */
int	 subaccount_valid_name(const char *);
int	 subaccount_lookup(struct ctx *, const char *name, int64_t *id);
int	 subaccount_touch(struct ctx *, int64_t id);
int	 subaccount_names(struct ctx *, void (*add)(void *, const char *),
	    void *);
cmd_fn	 subaccount_add, subaccount_list, subaccount_enable,
	 subaccount_disable, subaccount_passwd, subaccount_delete,
	 subaccount_allow_ip, subaccount_deny_ip, subaccount_domain_add,
	 subaccount_domain_del, subaccount_dkim_org, subaccount_set,
	 subaccount_resume;

/* apikey.c */
int	 apikey_ids(struct ctx *, void (*add)(void *, const char *), void *);
cmd_fn	 apikey_add, apikey_list, apikey_revoke;

/* auth.c: gwd's blocks after failed logins, through the control socket */
cmd_fn	 auth_blocks, auth_unblock;

/* dkim.c */
int	 dkim_domains(struct ctx *, void (*add)(void *, const char *), void *);
/* Active keys of a domain, or -1. */
int	 dkim_domain_active(struct ctx *, const char *domain);
/* A domain argument, lower-cased without its trailing dot, into out
 * (ADDR_DOMAIN_MAX + 2 bytes); EX_DATAERR, said, when not valid. */
int	 dkim_domain_arg(const char *in, char *out);
int	 dkim_check_keys(struct ctx *, const char *domain, const char *sel,
	    const char *prefix, int publish, int *nkeys, int *bad);
cmd_fn	 dkim_keygen, dkim_import, dkim_list, dkim_show, dkim_dns, dkim_check,
	 dkim_activate, dkim_retire, dkim_delete, dkim_canon;

/* route.c: routing rules and per-domain throttles; pool.c: IP pools */
cmd_fn	 route_add, route_list, route_delete, route_move, route_test,
	 throttle_set, throttle_list, throttle_delete;
cmd_fn	 pool_add, pool_list, pool_delete;

/* domain.c: what a sending domain needs in DNS */
cmd_fn	 domain_check;

/* key.c: the HMAC keys of gw.db (unsubscribe links, return paths) */
cmd_fn	 key_rotate;
/* EX_OK when bulk mail of sub (NULL: any) can carry a List-Unsubscribe
 * (http.public_host, or a bounce domain: bd, the one being set), else
 * EX_CONFIG, said. */
int	 key_bulk_unsubscribable(struct ctx *, const char *opt,
	    const char *sub, const char *bd);

/* alert.c: alerts (issue 13) */
int	 alert_names(struct ctx *, void (*add)(void *, const char *), void *);
cmd_fn	 alert_add, alert_list, alert_delete, alert_test;
/* tlsreport.c */
cmd_fn	 tls_report_send;

/* policy.c: content policies (issue 11) */
cmd_fn	 policy_add, policy_list, policy_show, policy_delete, policy_move,
	 policy_test;

/* resolver.c: a blocking DNS stub (see there). */
struct dns_answer;
int	 resolver_query(struct ctx *, const char *name, uint16_t qtype,
	    struct dns_answer *);

/* queue.c: gwd's queue, through the control socket */
int	 queue_ids(struct ctx *, void (*add)(void *, const char *), void *);
cmd_fn	 queue_list, queue_show, queue_act;
/* archive.c: the compliance archive's day files (gwd/archive.h) */
cmd_fn	 archive_verify, archive_list, archive_get;

/* quarantine.c: what content policies quarantined, in gwd's queue */
cmd_fn	 quarantine_list, quarantine_show, quarantine_release,
	 quarantine_delete;
/* control.c: gwd's control socket.  control_exchange(): one request,
 * the whole reply within ms, saying what failed (EX_UNAVAILABLE: gwd
 * not running); control_request(): a short answer into out, EX_SOFTWARE
 * for an "error" answer (said). */
struct buf;
int	 control_exchange(struct ctx *, const char *req, struct buf *reply,
	    int ms);
int	 control_request(struct ctx *, const char *line, char *out,
	    size_t outsz);
/* gwd closed the socket with no answer at all: say so (it may have
 * done the request); EX_UNAVAILABLE. */
int	 control_unanswered(void);
/* control_tally(): a request whose answer is lines, the last "failed
 * N": each line but an "error ..." one goes to line() (its length
 * given); an error is said and returns errcode(line) (NULL:
 * EX_SOFTWARE).  EX_UNAVAILABLE when N > 0, EX_TEMPFAIL when the answer
 * has no "failed" line. */
int	 control_tally(struct ctx *, const char *req, int ms,
	    int (*errcode)(const char *line), void (*line)(const char *, int));

/* webhook.c: where gwd posts events */
cmd_fn	 webhook_add, webhook_list, webhook_delete, webhook_test;

/* suppress.c */
cmd_fn	 suppress_add, suppress_list, suppress_delete, suppress_import;

/* database.c */
cmd_fn	 database_init;

/* shell.c */
cmd_fn	 shell_run, shell_quit;

#endif
