/*
 * account.c - the subaccounts, read from gw.db: one read transaction
 * takes the subaccounts (names, password hashes, domains, allowlists,
 * API keys, quotas) together with the DKIM keys (signer.c), the routing
 * policy (policy.c), the content policies (content.c), the admins'
 * suppression list (suppress.c), the webhooks (webhook.c) and the HMAC
 * keys (keyring.c), and installs them as one snapshot; the lookups the
 * sessions and the scheduler make in it.  Reloaded when
 * gwctl commits (PRAGMA data_version, every 500 ms and on AUTH, MAIL
 * and RCPT) and on SIGHUP.
 * Exposure: reads gw.db, which only the admin (gwctl) writes, on this
 * node or, in a cluster, on another (cluster_config.c applies those);
 * nothing from the network.
 * Diagnostics: dies only when memory runs out; a gw.db that cannot be
 * read whole keeps the previous subaccounts (logged once per reason),
 * and accounts_init() returns -1 with the reason in err at start-up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "account.h"
#include "addr.h"
#include "content.h"
#include "db.h"
#include "hmap.h"
#include "keyring.h"
#include "log.h"
#include "policy.h"
#include "signer.h"
#include "suppress.h"
#include "util.h"
#include "webhook.h"

static sqlite3			*gdb;
static int			 data_version = -1;
static int			 ndkim;		/* active DKIM keys loaded */
static struct subaccount	*accts;
static int			 naccts;
static struct hmap		 byname;
/* Routing rules, pools, throttles: the same snapshot as the accounts. */
static struct policy		 pol;
static int			 pol_gen;
static void			(*pol_changed)(unsigned);
static unsigned			 pol_force;	/* changed, whatever gw.db
						   says (POLICY_*) */

static void
free_accounts(struct subaccount *a, int n)
{
	for (int i = 0; i < n; i++) {
		free(a[i].name);
		free(a[i].pwhash);
		for (int j = 0; j < a[i].ndomains; j++)
			free(a[i].domains[j]);
		free(a[i].domains);
		free(a[i].nets);
		free(a[i].keys);
		free(a[i].dkim_org);
		free(a[i].bounce_domain);
	}
	free(a);
}

static struct subaccount *
by_id(struct subaccount *a, int n, int64_t id)
{
	/* Rows come ordered by id: binary search. */
	int lo = 0, hi = n - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;

		if (a[mid].id == id)
			return &a[mid];
		if (a[mid].id < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/* The subaccounts being read, before they replace the current ones. */
struct snap {
	struct subaccount	*a;
	int			 n, cap;
};

static void
row_account(sqlite3_stmt *st, void *arg)
{
	struct snap *sn = arg;
	const char *pw = (const char *)sqlite3_column_text(st, 3);
	struct subaccount *s;

	if (sn->n == sn->cap) {
		sn->cap = sn->cap ? sn->cap * 2 : 16;
		sn->a = xreallocarray(sn->a, (size_t)sn->cap, sizeof(*sn->a));
	}
	s = &sn->a[sn->n++];
	memset(s, 0, sizeof(*s));
	s->id = sqlite3_column_int64(st, 0);
	s->name = xstrdup((const char *)sqlite3_column_text(st, 1));
	s->enabled = sqlite3_column_int(st, 2);
	s->pwhash = pw ? xstrdup(pw) : NULL;
	s->dkim_org = sqlite3_column_type(st, 4) == SQLITE_NULL ? NULL :
	    xstrdup((const char *)sqlite3_column_text(st, 4));
	s->quota_hour = sqlite3_column_int64(st, 5);
	s->quota_day = sqlite3_column_int64(st, 6);
	s->bulk = sqlite3_column_int(st, 7);
	s->bounce_domain = sqlite3_column_type(st, 8) == SQLITE_NULL ? NULL :
	    xstrdup((const char *)sqlite3_column_text(st, 8));
}

static void
row_domain(sqlite3_stmt *st, void *arg)
{
	struct snap *sn = arg;
	struct subaccount *s = by_id(sn->a, sn->n, sqlite3_column_int64(st, 0));

	if (s == NULL)
		return;
	s->domains = xreallocarray(s->domains, (size_t)s->ndomains + 1,
	    sizeof(*s->domains));
	s->domains[s->ndomains++] = xstrdup((const char *)
	    sqlite3_column_text(st, 1));
}

static void
row_ip(sqlite3_stmt *st, void *arg)
{
	struct snap *sn = arg;
	struct subaccount *s = by_id(sn->a, sn->n, sqlite3_column_int64(st, 0));
	struct cidr c;

	if (s == NULL || cidr_parse((const char *)sqlite3_column_text(st, 1),
	    &c) == -1)
		return;
	s->nets = xreallocarray(s->nets, (size_t)s->nnets + 1,
	    sizeof(*s->nets));
	s->nets[s->nnets++] = c;
}

static void
row_apikey(sqlite3_stmt *st, void *arg)
{
	struct snap *sn = arg;
	struct subaccount *s = by_id(sn->a, sn->n, sqlite3_column_int64(st, 0));
	struct apikey *k;

	if (s == NULL)
		return;
	s->keys = xreallocarray(s->keys, (size_t)s->nkeys + 1,
	    sizeof(*s->keys));
	k = &s->keys[s->nkeys++];
	gw_strlcpy(k->id, (const char *)sqlite3_column_text(st, 1),
	    sizeof(k->id));
	gw_strlcpy(k->hash, (const char *)sqlite3_column_text(st, 2),
	    sizeof(k->hash));
}

/*
 * Read gw.db in one read transaction and install it.  Runs at start-up,
 * every 500 ms when gw.db changed, and on AUTH, MAIL and RCPT, so
 * nothing here may die: when the subaccounts cannot be read whole (a
 * prepare error after a schema change, SQLITE_BUSY, a damaged page) the
 * previous ones stay, as the DKIM keys, the policy and the suppression
 * list below keep theirs.  A partial table would lock out the
 * subaccounts past the failure, or drop an allowlist or an API key.
 * 0, or -1 with the reason in err; *changed: the parts of the policy
 * that changed (POLICY_*), and only then a new policy generation.
 */
static int
load(char *err, size_t errsz, unsigned *changed)
{
	struct snap sn = { NULL, 0, 0 };
	struct policy np;
	int nk;

	*changed = 0;
	if (sqlite3_exec(gdb, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errsz, "%s", sqlite3_errmsg(gdb));
		return -1;
	}
	if (db_rows(gdb, "SELECT id, name, enabled, password, dkim_org_domain,"
	    " quota_hour, quota_day, bulk, bounce_domain FROM subaccount "
	    "ORDER BY id",
	    row_account,
	    &sn) == -1 ||
	    db_rows(gdb, "SELECT subaccount_id, domain FROM subaccount_domain",
	    row_domain, &sn) == -1 ||
	    db_rows(gdb, "SELECT subaccount_id, cidr FROM subaccount_ip",
	    row_ip, &sn) == -1 ||
	    db_rows(gdb, "SELECT subaccount_id, key_id, hash FROM api_key",
	    row_apikey, &sn) == -1) {
		snprintf(err, errsz, "%s", sqlite3_errmsg(gdb));
		sqlite3_exec(gdb, "ROLLBACK", NULL, NULL, NULL);
		free_accounts(sn.a, sn.n);
		return -1;
	}
	/* The DKIM keys and the delivery policy in the same snapshot as
	 * the subaccounts. */
	if ((nk = signer_load(gdb)) == -1) {
		/* The key process reads them; signer_load() said why. */
		log_warnx("DKIM keys not reloaded: keeping the previous "
		    "ones");
		nk = ndkim;
	}
	if (policy_load(gdb, &np) == -1) {
		log_warnx("gw.db: cannot read routing rules, keeping the "
		    "previous ones: %s", sqlite3_errmsg(gdb));
		np = pol;
		memset(&pol, 0, sizeof(pol));
		*changed = pol_force;
	} else if ((*changed = policy_diff(&pol, &np) | pol_force) == 0) {
		/* Another table changed: the queue has nothing to redo. */
		policy_free(&np);
		np = pol;
		memset(&pol, 0, sizeof(pol));
	}
	if (*changed)
		pol_gen++;
	pol_force = 0;
	/* The content policies (content.c keeps its previous set when
	 * these cannot be read or compiled). */
	content_load(gdb);
	/* The HMAC keys of links and return paths (a rotation). */
	keyring_load(gdb);
	webhook_load(gdb);
	/* And the admins' suppression list. */
	if (suppress_load_admin(gdb) == -1)
		log_warnx("gw.db: cannot read the suppression list: %s",
		    sqlite3_errmsg(gdb));
	sqlite3_exec(gdb, "COMMIT", NULL, NULL, NULL);
	policy_free(&pol);
	pol = np;

	hmap_free(&byname, NULL);
	hmap_init(&byname);
	for (int i = 0; i < sn.n; i++)
		hmap_put(&byname, sn.a[i].name, &sn.a[i]);
	free_accounts(accts, naccts);
	accts = sn.a;
	naccts = sn.n;
	ndkim = nk;
	return 0;
}

int
accounts_init(const char *state_dir, char *err, size_t errsz)
{
	char why[256];
	unsigned changed;
	sqlite3 *db;

	/* gwctl owns gw.db; if it was never run, create the empty schema so
	 * gwd starts and sees the first subaccount when it is added. */
	if ((db = db_open(state_dir, DB_GW, 0, err, errsz)) == NULL)
		return -1;
	db_close(db);
	if ((gdb = db_open(state_dir, DB_GW, DB_RDONLY, err, errsz)) == NULL)
		return -1;
	hmap_init(&byname);
	data_version = db_data_version(gdb);
	if (load(why, sizeof(why), &changed) == -1) {
		snprintf(err, errsz, "gw.db: %s", why);
		return -1;
	}
	log_info("subaccounts loaded: %d, active DKIM keys: %d, routing "
	    "rules: %d", naccts, ndkim, pol.nrules);
	return 0;
}

/*
 * Reload when another connection (gwctl) committed to gw.db.  A failed
 * reload is tried again at the next poll (the change is still unread);
 * it is said once, and again only when the reason changes.
 */
void
accounts_poll(void)
{
	static char failed[256];
	char why[256];
	int v = db_data_version(gdb);
	unsigned changed;

	if (v == data_version || v < 0)
		return;
	if (load(why, sizeof(why), &changed) == -1) {
		if (strcmp(why, failed) != 0)
			log_warnx("gw.db: cannot read the subaccounts, keeping "
			    "the previous ones (%d): %s", naccts, why);
		gw_strlcpy(failed, why, sizeof(failed));
		return;
	}
	data_version = v;
	failed[0] = '\0';
	log_info("subaccounts reloaded: %d, active DKIM keys: %d, "
	    "routing rules: %d", naccts, ndkim, pol.nrules);
	if (changed && pol_changed)
		pol_changed(changed);
}

void
policy_on_change(void (*fn)(unsigned what))
{
	pol_changed = fn;
}

/*
 * SIGHUP: load now, changed or not.  The relay defaults of a
 * configuration just reloaded are the throttles' defaults: the load
 * counts as a throttle change, a new policy generation, so every
 * destination re-reads its limits at once.
 */
void
accounts_reload(void)
{
	data_version = -2;	/* no version db_data_version() gives */
	pol_force = POLICY_THROTTLES;
	accounts_poll();
}

void
accounts_foreach(void (*fn)(const struct subaccount *, void *), void *arg)
{
	for (int i = 0; i < naccts; i++)
		fn(&accts[i], arg);
}

const struct policy *
policy_now(int *gen)
{
	*gen = pol_gen;
	return &pol;
}

int
accounts_count(void)
{
	return naccts;
}

const struct subaccount *
account_find(const char *name)
{
	return hmap_get(&byname, name);
}

const struct subaccount *
account_by_id(int64_t id)
{
	return by_id(accts, naccts, id);
}

int
account_is_bounce_domain(const char *domain)
{
	for (int i = 0; i < naccts; i++)
		if (accts[i].bounce_domain &&
		    strcasecmp(accts[i].bounce_domain, domain) == 0)
			return 1;
	return 0;
}

int
account_ip_allowed(const struct subaccount *s, const struct sockaddr *sa)
{
	if (s->nnets == 0)
		return 1;
	for (int i = 0; i < s->nnets; i++)
		if (cidr_match(&s->nets[i], sa))
			return 1;
	return 0;
}

const struct subaccount *
account_by_ip(const struct sockaddr *sa)
{
	for (int i = 0; i < naccts; i++)
		if (accts[i].enabled && accts[i].nnets > 0 &&
		    account_ip_allowed(&accts[i], sa))
			return &accts[i];
	return NULL;
}

int
account_owns_domain(const struct subaccount *s, const char *domain)
{
	for (int i = 0; i < s->ndomains; i++)
		if (addr_domain_within(domain, s->domains[i]))
			return 1;
	return 0;
}
