/*
 * db.c - opening gw's three SQLite databases with their schemas, and
 * the helpers that prepare, bind and run their statements.
 *
 * Every database runs in WAL mode so that readers (gwtop, gwsearch, gwd
 * reading gw.db) never block the single writer.  Migrations are append-
 * only: never edit a shipped step, add the next one.
 * Diagnostics: db_prepare() dies (fatalx) on a statement that does not
 * prepare: it is for statements fixed at build time, prepared at
 * start-up; everything else returns NULL or -1 with the reason in err or
 * in SQLite's errmsg.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "addr.h"
#include "db.h"
#include "log.h"
#include "tally.h"
#include "util.h"

static const char *const gw_migrations[] = {
	/* 1: subaccounts, their sender domains, IP allowlists, API keys */
	"CREATE TABLE subaccount ("
	"  id       INTEGER PRIMARY KEY,"
	"  name     TEXT NOT NULL UNIQUE,"
	"  enabled  INTEGER NOT NULL DEFAULT 1,"
	"  password TEXT,"			/* pwhash string, NULL: none */
	"  created  INTEGER NOT NULL,"		/* unix seconds */
	"  updated  INTEGER NOT NULL"
	");"
	"CREATE TABLE subaccount_domain ("
	"  subaccount_id INTEGER NOT NULL"
	"    REFERENCES subaccount(id) ON DELETE CASCADE,"
	"  domain   TEXT NOT NULL,"		/* lower case */
	"  PRIMARY KEY (subaccount_id, domain)"
	");"
	"CREATE TABLE subaccount_ip ("
	"  subaccount_id INTEGER NOT NULL"
	"    REFERENCES subaccount(id) ON DELETE CASCADE,"
	"  cidr     TEXT NOT NULL,"		/* 192.0.2.0/24, 2001:db8::/32 */
	"  PRIMARY KEY (subaccount_id, cidr)"
	");"
	"CREATE TABLE api_key ("
	"  id       INTEGER PRIMARY KEY,"
	"  subaccount_id INTEGER NOT NULL"
	"    REFERENCES subaccount(id) ON DELETE CASCADE,"
	"  key_id   TEXT NOT NULL UNIQUE,"	/* public part, shown */
	"  hash     TEXT NOT NULL,"		/* hex SHA-256 of the key */
	"  label    TEXT,"
	"  created  INTEGER NOT NULL"
	");",
	/* 2: DKIM keys with their lifecycle, per-domain options, and a
	 * subaccount's optional organisation-wide second signature */
	"CREATE TABLE dkim_key ("
	"  id        INTEGER PRIMARY KEY,"
	"  domain    TEXT NOT NULL,"		/* lower case, the d= */
	"  selector  TEXT NOT NULL,"		/* the s= */
	"  algorithm TEXT NOT NULL"
	"    CHECK (algorithm IN ('rsa-sha256', 'ed25519-sha256')),"
	"  bits      INTEGER,"			/* RSA modulus; NULL: Ed25519 */
	"  private_key TEXT NOT NULL,"		/* PKCS#8 PEM */
	"  public_key TEXT NOT NULL,"		/* the p= value (base64) */
	"  state     TEXT NOT NULL DEFAULT 'pending'"
	"    CHECK (state IN ('pending', 'active', 'retiring', 'retired')),"
	"  created   INTEGER NOT NULL,"	/* unix seconds, each */
	"  activated INTEGER,"
	"  retiring  INTEGER,"
	"  retired   INTEGER,"
	"  UNIQUE (domain, selector)"
	");"
	"CREATE TABLE dkim_domain ("
	"  domain    TEXT PRIMARY KEY,"
	"  canon     TEXT NOT NULL DEFAULT 'relaxed/relaxed'"
	"    CHECK (canon IN ('relaxed/relaxed', 'relaxed/simple',"
	"      'simple/relaxed', 'simple/simple'))"
	");"
	"ALTER TABLE subaccount ADD COLUMN dkim_org_domain TEXT;",
	/* 3: IP pools, routing rules (in order), per-domain throttles */
	"CREATE TABLE pool ("
	"  name     TEXT PRIMARY KEY,"
	"  created  INTEGER NOT NULL"
	");"
	"CREATE TABLE pool_address ("
	"  pool     TEXT NOT NULL REFERENCES pool(name) ON DELETE CASCADE,"
	"  address  TEXT NOT NULL,"		/* a local IPv4 or IPv6 */
	"  helo     TEXT,"			/* NULL: gwd's hostname */
	"  PRIMARY KEY (pool, address)"
	");"
	"CREATE TABLE route_rule ("
	"  id       INTEGER PRIMARY KEY,"
	"  position INTEGER NOT NULL,"		/* 1, 2, ...: tried in order */
	"  subaccount TEXT,"			/* conditions; NULL: any */
	"  from_domain TEXT,"
	"  to_domain TEXT,"
	"  header   TEXT,"
	"  header_value TEXT,"
	"  size_over INTEGER,"
	"  size_under INTEGER,"
	"  action   TEXT NOT NULL DEFAULT 'route'"
	"    CHECK (action IN ('route', 'hold', 'reject')),"
	"  priority TEXT CHECK (priority IN ('transactional', 'bulk')),"
	"  pool     TEXT REFERENCES pool(name),"
	"  smarthost TEXT,"			/* host[:port]; NULL: MX */
	"  tls      TEXT CHECK (tls IN ('none', 'opportunistic', 'required',"
	"    'verify')),"
	"  reply    TEXT,"			/* for reject */
	"  created  INTEGER NOT NULL"
	");"
	"CREATE TABLE throttle ("
	"  domain   TEXT PRIMARY KEY,"		/* a recipient domain pattern */
	"  connections INTEGER,"		/* NULL: the default */
	"  per_connection INTEGER,"
	"  per_minute INTEGER,"
	"  created  INTEGER NOT NULL"
	");",
	/* 4: the suppression list as admins keep it; gwd's own entries
	 * (hard bounces) live in queue.db.  subaccount_id NULL: every
	 * subaccount. */
	"CREATE TABLE suppression ("
	"  id       INTEGER PRIMARY KEY,"
	"  subaccount_id INTEGER"
	"    REFERENCES subaccount(id) ON DELETE CASCADE,"
	"  address  TEXT NOT NULL,"		/* lower case */
	"  reason   TEXT NOT NULL DEFAULT '',"
	"  source   TEXT NOT NULL CHECK (source IN ('admin', 'import')),"
	"  created  INTEGER NOT NULL"		/* unix seconds */
	");"
	"CREATE UNIQUE INDEX suppression_key"
	"  ON suppression(ifnull(subaccount_id, 0), address);",
	/* 5: messages a subaccount may send per hour and per day; 0: no
	 * limit */
	"ALTER TABLE subaccount ADD COLUMN quota_hour INTEGER NOT NULL"
	"  DEFAULT 0 CHECK (quota_hour >= 0);"
	"ALTER TABLE subaccount ADD COLUMN quota_day INTEGER NOT NULL"
	"  DEFAULT 0 CHECK (quota_day >= 0);",
	/* 6: content policies (issue 11): a detector, the count at which
	 * it fires, what then happens, and to which mail it applies (NULL:
	 * any).  No CHECK on the action: later actions join without
	 * rebuilding the table; gwd skips one it does not know. */
	"CREATE TABLE content_policy ("
	"  id       INTEGER PRIMARY KEY,"
	"  name     TEXT NOT NULL UNIQUE,"
	"  detector TEXT NOT NULL,"		/* as dlp.h spells it */
	"  min_count INTEGER NOT NULL DEFAULT 1 CHECK (min_count >= 1),"
	"  action   TEXT NOT NULL,"		/* block, tag (gwctl checks) */
	"  subaccount TEXT,"
	"  from_domain TEXT,"			/* patterns, lower case */
	"  to_domain TEXT,"
	"  created  INTEGER NOT NULL"
	");",
	/* 7: credentials for a rule's smarthost (issue 20).  The password
	 * is kept in clear, as AUTH needs it: gw.db's mode 0600 is what
	 * protects it, as gwd.conf's mode protects relay.password. */
	"ALTER TABLE route_rule ADD COLUMN auth_user TEXT;"
	"ALTER TABLE route_rule ADD COLUMN auth_password TEXT;",
	/* 8: one-click unsubscribe (issue 12).  HMAC keys by purpose,
	 * made here so the first program to open gw.db makes them (gwd
	 * never writes gw.db); "PURPOSE.previous" is the key a rotation
	 * replaced, still accepted for a grace period from its created.
	 * IF NOT EXISTS / OR IGNORE: VERP's migration makes the same
	 * table for its own purpose.  subaccount.bulk and route_rule.bulk
	 * (gwctl --bulk): the mail is bulk mail and gets List-Unsubscribe. */
	"CREATE TABLE IF NOT EXISTS hmac_key ("
	"  purpose  TEXT PRIMARY KEY,"
	"  key      BLOB NOT NULL,"
	"  created  INTEGER NOT NULL"
	");"
	"INSERT OR IGNORE INTO hmac_key (purpose, key, created)"
	"  VALUES ('unsubscribe', randomblob(32), unixepoch());"
	"ALTER TABLE subaccount ADD COLUMN bulk INTEGER NOT NULL DEFAULT 0"
	"  CHECK (bulk IN (0, 1));"
	"ALTER TABLE route_rule ADD COLUMN bulk INTEGER NOT NULL DEFAULT 0"
	"  CHECK (bulk IN (0, 1));",
	/* 9: route_rule.smarthost may hold a smarthost list with
	 * priorities and weights (shlist.h), written by gwctl as its
	 * canonical text; a single "host:port" is such a list.  Nothing to
	 * rewrite: the step exists so that a program of schema 7, which
	 * would take "a:25 b:25" for one bad host name and defer that
	 * rule's mail for ever, refuses the database ("newer than this
	 * program understands") instead. */
	"SELECT 1;",
	/* 10: a subaccount's own bounce domain (issue 12): its mail goes
	 * out with the VERP return path b-TOKEN@bounce_domain; NULL: the
	 * global feedback.bounce_domain, if any.  The VERP tokens' key is
	 * made here, as the unsubscribe key is (8). */
	"ALTER TABLE subaccount ADD COLUMN bounce_domain TEXT;"
	"INSERT OR IGNORE INTO hmac_key (purpose, key, created)"
	"  VALUES ('verp', randomblob(32), unixepoch());",
	/* 11: webhooks (issue 13): gwd posts the events named in `events`
	 * (comma-separated actions) of one subaccount (NULL: of all) to
	 * url, signed with secret (HMAC-SHA256; kept as given, since gwd
	 * needs it to sign).  gwd reads the rows; gwctl writes them.  Ids
	 * are never reused: gwd keeps a webhook's queue by its id. */
	"CREATE TABLE webhook ("
	"  id       INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  url      TEXT NOT NULL,"
	"  subaccount TEXT,"
	"  events   TEXT NOT NULL,"
	"  secret   TEXT NOT NULL,"
	"  created  INTEGER NOT NULL"		/* unix seconds */
	");",
	/* 12: alerts (issue 13; gwctl alert, gwd/alert.c): a metric
	 * (common/alertrule.h's names) over everything, one subaccount or one
	 * recipient domain, the threshold it fires above, for how long it
	 * must hold (and stay below the clear level to resolve), whether a
	 * volume anomaly also throttles the subaccount, and where to say
	 * so: --notify targets one a line (mailto:, https://, pagerduty:). */
	"CREATE TABLE alert ("
	"  id       INTEGER PRIMARY KEY,"
	"  name     TEXT NOT NULL UNIQUE,"
	"  metric   TEXT NOT NULL,"
	"  subaccount TEXT,"
	"  domain   TEXT,"			/* lower case */
	"  above    REAL NOT NULL,"
	"  for_ms   INTEGER NOT NULL DEFAULT 300000 CHECK (for_ms >= 0),"
	"  throttle INTEGER NOT NULL DEFAULT 0 CHECK (throttle IN (0, 1)),"
	"  notify   TEXT NOT NULL,"
	"  created  INTEGER NOT NULL,"
	"  CHECK (subaccount IS NULL OR domain IS NULL)"
	");",
	/* 13: content policies (issue 11) get the address their summaries
	 * go to (gwctl policy add --notify; NULL: none) and an order of
	 * their own, dense positions 1..n as routing rules have (gwctl
	 * policy move); the existing ones keep the order of their ids. */
	"ALTER TABLE content_policy ADD COLUMN notify TEXT;"
	"ALTER TABLE content_policy ADD COLUMN position INTEGER;"
	"UPDATE content_policy SET position = (SELECT count(*) FROM"
	"  content_policy c WHERE c.id <= content_policy.id);",
	/* 14: a rule's word on the compliance archive (issue 11): 1 its
	 * mail is archived (local store, journal) even with archive.all
	 * off, 0 it is not; NULL: archive.all decides */
	"ALTER TABLE route_rule ADD COLUMN archive INTEGER"
	"  CHECK (archive IN (0, 1));",
	/* 15: configuration shared by the nodes of a cluster (issue 14,
	 * gwd/cluster_config.c).  gwctl writes each transaction's change
	 * of the shared tables (an SQLite changeset) into cluster_outbox
	 * in that same transaction; gwd sends it to Redis and deletes it
	 * when it reads it back, and applies the other nodes' changes,
	 * noting in cluster_applied the stream id of the last one, in the
	 * same transaction (gwd/cluster_outbox.c: its other rows). */
	"CREATE TABLE cluster_outbox ("
	"  id       INTEGER PRIMARY KEY,"
	"  changeset BLOB NOT NULL,"
	"  created  INTEGER NOT NULL"
	");"
	"CREATE TABLE cluster_applied ("
	"  stream   TEXT PRIMARY KEY,"
	"  last_id  TEXT NOT NULL"
	");",
};

static const char *const queue_migrations[] = {
	/* 1: messages and their pending recipients */
	"CREATE TABLE message ("
	"  id       INTEGER PRIMARY KEY,"
	"  qid      TEXT NOT NULL UNIQUE,"	/* queue id shown to admins */
	"  subaccount TEXT NOT NULL DEFAULT '',"
	"  sender   TEXT NOT NULL,"		/* '' is the null sender */
	"  received INTEGER NOT NULL,"		/* unix microseconds */
	"  size     INTEGER NOT NULL,"
	"  flags    INTEGER NOT NULL DEFAULT 0,"
	"  message_id TEXT,"
	"  body     BLOB NOT NULL"		/* unstuffed, CRLF lines */
	");"
	"CREATE TABLE recipient ("
	"  id       INTEGER PRIMARY KEY,"
	"  message  INTEGER NOT NULL REFERENCES message(id),"
	"  address  TEXT NOT NULL,"
	"  domain   TEXT NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt INTEGER NOT NULL,"	/* unix seconds */
	"  last_reply TEXT"
	");"
	"CREATE INDEX recipient_message ON recipient(message);",
	/* 2: gwctl queue hold: a held message is never attempted until it
	 * is released, across restarts too (held: 0 no, 1 held, 2
	 * released by an admin: a routing rule's hold is over for it) */
	"ALTER TABLE message ADD COLUMN held INTEGER NOT NULL DEFAULT 0;",
	/* 3: recipients gwd suppressed after a hard bounce, per subaccount
	 * (admin entries are gw.db's) */
	"CREATE TABLE suppression ("
	"  subaccount TEXT NOT NULL,"
	"  address  TEXT NOT NULL,"		/* lower case */
	"  reason   TEXT NOT NULL,"
	"  created  INTEGER NOT NULL,"		/* unix seconds */
	"  PRIMARY KEY (subaccount, address)"
	") WITHOUT ROWID;",
	/* 4: subaccounts gwd paused for their bounce rate; a resumed one
	 * keeps its row (paused 0) so its rate counts from `since` on */
	"CREATE TABLE subaccount_pause ("
	"  subaccount TEXT PRIMARY KEY,"
	"  paused   INTEGER NOT NULL,"
	"  since    INTEGER NOT NULL,"		/* unix microseconds */
	"  reason   TEXT NOT NULL"
	") WITHOUT ROWID;",
	/* 5: the event outbox (gwd/outbox.h): each audit event is written
	 * here in the transaction of the change it reports and gets its id
	 * here, the id it keeps in log.db; a row goes once every consumer
	 * whose bit is in `pending` has it durably (1: log.db).  Columns
	 * as log.db's event table, plus a received event's recipients. */
	"CREATE TABLE outbox ("
	"  id       INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  pending  INTEGER NOT NULL,"		/* consumers still owed it */
	"  ts       INTEGER NOT NULL,"		/* unix microseconds */
	"  qid      TEXT,"
	"  action   TEXT NOT NULL,"
	"  subaccount TEXT,"
	"  client_ip TEXT,"
	"  sender   TEXT,"
	"  recipient TEXT,"
	"  message_id TEXT,"
	"  subject  TEXT,"
	"  from_addr TEXT,"
	"  size     INTEGER,"
	"  tls      TEXT,"
	"  remote_host TEXT,"
	"  remote_ip TEXT,"
	"  reply_code INTEGER,"
	"  reply_status TEXT,"
	"  reply_text TEXT,"
	"  duration_ms INTEGER,"
	"  detail   TEXT,"
	"  class    TEXT,"
	"  tls_policy TEXT,"
	"  tls_verified INTEGER,"
	"  tls_note TEXT,"
	"  rcpts    TEXT"			/* one address a line */
	");",
	/* 6: the user name a failed login tried, as log.db's event has it */
	"ALTER TABLE outbox ADD COLUMN username TEXT;",
	/* 7: DSN requests (RFC 3461) kept with the envelope: RET (0 not
	 * given, 1 FULL, 2 HDRS) and ENVID of the message, NOTIFY (bits,
	 * 0 not given; 0x100: the delay notice went out) and ORCPT of
	 * each recipient; ENVID and ORCPT as received, in xtext */
	"ALTER TABLE message ADD COLUMN dsn_ret INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE message ADD COLUMN dsn_envid TEXT;"
	"ALTER TABLE recipient ADD COLUMN dsn_notify INTEGER NOT NULL"
	"  DEFAULT 0;"
	"ALTER TABLE recipient ADD COLUMN dsn_orcpt TEXT;",
	/* 8: what gwd reads of every message at start-up, in arrival
	 * order, without reading the rows, whose bodies are most of the
	 * file (gwd/store_read.c); also gwtop's oldest messages */
	"CREATE INDEX message_queue ON message(received, id, qid,"
	"  subaccount, sender, size, flags, held, dsn_ret, dsn_envid);",
	/* 9: what goes before the body in this recipient's copy (issue
	 * 12): bulk mail to several recipients gets each its own
	 * List-Unsubscribe and the DKIM-Signature over them; NULL for all
	 * other mail, which costs nothing.  Read at delivery only. */
	"ALTER TABLE recipient ADD COLUMN prefix BLOB;",
	/* 10: the compliance archive's intake (gwd/archive.h): a message
	 * acknowledged with 250 that goes into the local archive has a row
	 * here, committed in the transaction that stores it; the archive
	 * thread appends it to the day file in id order (the id is the
	 * record's sequence number) and the row goes once the day file is
	 * synced.  The body is read from the message row; when that row is
	 * deleted first (delivered), its body is copied here by the same
	 * transaction. */
	"CREATE TABLE archive_pending ("
	"  id       INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  qid      TEXT NOT NULL,"
	"  message  INTEGER NOT NULL,"		/* message.id */
	"  received INTEGER NOT NULL,"		/* unix microseconds */
	"  envelope BLOB NOT NULL,"		/* Name: value CRLF lines */
	"  body     BLOB"			/* NULL: the message row's */
	");"
	"CREATE INDEX archive_pending_message ON archive_pending(message);"
	/* How far the day files were synced when queue.db last forgot
	 * rows: the last record's sequence number and hash.  gwctl archive
	 * verify finds records removed from the end by it. */
	"CREATE TABLE archive_head ("
	"  id       INTEGER PRIMARY KEY CHECK (id = 1),"
	"  seq      INTEGER NOT NULL,"
	"  hash     BLOB NOT NULL"
	");",
	/* 11: MTA-STS policies (gwd/sts.c, RFC 8461 5.1): each domain's
	 * last policy by its id, kept until it expires, so a restart
	 * neither forgets an enforced policy (a downgrade window) nor
	 * fetches them all again.  policy is the body as fetched. */
	"CREATE TABLE mta_sts ("
	"  domain   TEXT PRIMARY KEY,"
	"  id       TEXT NOT NULL,"
	"  policy   TEXT NOT NULL,"
	"  fetched  INTEGER NOT NULL,"		/* unix seconds */
	"  expires  INTEGER NOT NULL"		/* unix seconds */
	");",
	/* 12: each webhook's own progress through the outbox (gwd/outbox.h):
	 * a row for every event a webhook still owes its receiver, so one
	 * webhook acknowledging an event leaves it pending for the others.
	 * Rows that carried the webhook bit before this table are given
	 * to the webhooks that want them when gwd next loads its webhooks
	 * (outbox_hook_sweep()). */
	"CREATE TABLE hook_pending ("
	"  hook     INTEGER NOT NULL,"		/* gw.db's webhook.id */
	"  id       INTEGER NOT NULL,"		/* outbox.id */
	"  PRIMARY KEY (hook, id)"
	") WITHOUT ROWID;"
	"CREATE INDEX hook_pending_id ON hook_pending(id);",
	/* 13: TLS-RPT (RFC 8460; gwd/tls_report.c): per UTC day (unix
	 * day number) and policy domain, how many sessions under its
	 * MTA-STS or DANE policy went well (result '') or failed (result:
	 * the RFC 8460 4.3 result type, with the sending and receiving
	 * side; '' when not known).  Rows go once their report is queued. */
	"CREATE TABLE tls_rpt ("
	"  day          INTEGER NOT NULL,"
	"  domain       TEXT NOT NULL,"
	"  policy       TEXT NOT NULL,"		/* sts, tlsa */
	"  result       TEXT NOT NULL,"
	"  sending_ip   TEXT NOT NULL,"
	"  mx_host      TEXT NOT NULL,"
	"  receiving_ip TEXT NOT NULL,"
	"  count        INTEGER NOT NULL,"
	"  PRIMARY KEY (day, domain, policy, result, sending_ip, mx_host,"
	"    receiving_ip)"
	") WITHOUT ROWID;",
};

static const char *const log_migrations[] = {
	/* 1: one row per event, recipients of each message, FTS5 index */
	"CREATE TABLE event ("
	"  id       INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  ts       INTEGER NOT NULL,"		/* unix microseconds */
	"  qid      TEXT,"
	"  action   TEXT NOT NULL,"
	"  subaccount TEXT,"
	"  client_ip TEXT,"
	"  sender   TEXT COLLATE NOCASE,"
	"  recipient TEXT COLLATE NOCASE,"
	"  message_id TEXT,"
	"  subject  TEXT,"
	"  from_addr TEXT,"
	"  size     INTEGER,"
	"  tls      TEXT,"
	"  remote_host TEXT,"
	"  remote_ip TEXT,"
	"  reply_code INTEGER,"
	"  reply_status TEXT,"
	"  reply_text TEXT,"
	"  duration_ms INTEGER,"
	"  detail   TEXT"
	");"
	"CREATE INDEX event_qid ON event(qid) WHERE qid IS NOT NULL;"
	"CREATE INDEX event_ts ON event(ts);"
	"CREATE INDEX event_sender ON event(sender) WHERE sender IS NOT NULL;"
	"CREATE INDEX event_message_id ON event(message_id)"
	"  WHERE message_id IS NOT NULL;"
	"CREATE TABLE event_rcpt ("
	"  qid      TEXT NOT NULL,"
	"  address  TEXT NOT NULL COLLATE NOCASE"
	");"
	"CREATE INDEX event_rcpt_address ON event_rcpt(address);"
	"CREATE VIRTUAL TABLE event_fts USING fts5("
	"  sender, recipient, subject, message_id, from_addr, reply_text,"
	"  content='event', content_rowid='id');",
	/* 2: retention deletes a message's recipients by queue id */
	"CREATE INDEX event_rcpt_qid ON event_rcpt(qid);",
	/* 3: gwsearch --recipient reads delivery attempts by recipient;
	 * without this it scanned every event (250 ms at 300 000). */
	"CREATE INDEX event_recipient ON event(recipient)"
	"  WHERE recipient IS NOT NULL;",
	/* 4: why a delivery failed (bounce.h): hard, soft, policy...
	 * on deferred, bounced, expired and some rejected events */
	"ALTER TABLE event ADD COLUMN class TEXT;"
	"CREATE INDEX event_class ON event(class) WHERE class IS NOT NULL;",
	/* 5: how TLS went on a delivery attempt: the policy it ran under
	 * (none, opportunistic, required, verify), whether the server's
	 * certificate chained to the CA store and matched its name (1, 0;
	 * NULL: no TLS), and why not, or why there was no TLS */
	"ALTER TABLE event ADD COLUMN tls_policy TEXT;"
	"ALTER TABLE event ADD COLUMN tls_verified INTEGER;"
	"ALTER TABLE event ADD COLUMN tls_note TEXT;",
	/* 6: the user name a failed login tried (auth events), which may
	 * name no subaccount */
	"ALTER TABLE event ADD COLUMN username TEXT;",
	/* 7: the quota windows read every event of the last day at
	 * start-up (gwd/window.c); this index holds each column they read,
	 * so the rows are not; it begins with ts, so it serves every
	 * search by time that event_ts did */
	"CREATE INDEX event_window ON event(ts, action, subaccount,"
	"  client_ip, sender);"
	"DROP INDEX event_ts;",
	/* 8: counts by time without reading every event (issue 16).
	 * event_tally holds, per minute (span 60) and per hour (span
	 * 3600) of ts, per action and subaccount ('' for none), how many
	 * events there are and how many of them have class 'hard'.  The
	 * writers keep it equal to the event table, in the transaction
	 * that writes the events (common/tally.h): gwd's event writer
	 * and retention; here it counts the events already there.
	 * gwtop's windows add whole hours, whole minutes and the raw
	 * events of the partial minute at their start (db_tally), so a
	 * refresh reads a few thousand rows however busy the day.
	 * event_received finds a message's reception, its time and
	 * subaccount, from the index alone (gwsearch stats, the latency
	 * of gwtop). */
	"CREATE TABLE event_tally ("
	"  span     INTEGER NOT NULL,"		/* seconds: 60 or 3600 */
	"  bucket   INTEGER NOT NULL,"		/* ts / span in us */
	"  action   TEXT NOT NULL,"
	"  subaccount TEXT NOT NULL,"		/* '' when none */
	"  n        INTEGER NOT NULL,"
	"  hard     INTEGER NOT NULL,"		/* of n, class 'hard' */
	"  PRIMARY KEY (span, bucket, action, subaccount)"
	") WITHOUT ROWID;"
	"INSERT INTO event_tally SELECT 60, ts / 60000000, action,"
	"  coalesce(subaccount, ''), count(*), sum(class IS 'hard')"
	"  FROM event GROUP BY 2, 3, 4;"
	"INSERT INTO event_tally SELECT 3600, ts / 3600000000, action,"
	"  coalesce(subaccount, ''), count(*), sum(class IS 'hard')"
	"  FROM event GROUP BY 2, 3, 4;"
	/* action too, though the WHERE fixes it: SQLite (3.40) reads
	 * the row for a column the query names and the index lacks. */
	"CREATE INDEX event_received ON event(qid, ts, subaccount, action)"
	"  WHERE action = 'received';",
	/* 9: gwtop's latency without joining the hour's deliveries to
	 * their receptions (issue 16).  latency_ms: on a delivered
	 * event, ms from its message's (first) received event, set by
	 * the writer; event_latency counts them per minute and hour of
	 * the delivery and log bucket (gw_lat_bucket, common/tally.h),
	 * kept by the writers as event_tally is. */
	"ALTER TABLE event ADD COLUMN latency_ms INTEGER;"
	"UPDATE event SET latency_ms = (ts - (SELECT r.ts FROM event r"
	"  WHERE r.qid = event.qid AND r.action = 'received'"
	"  ORDER BY r.ts LIMIT 1)) / 1000"
	"  WHERE action = 'delivered' AND qid IS NOT NULL;"
	"CREATE TABLE event_latency ("
	"  span     INTEGER NOT NULL,"		/* seconds: 60 or 3600 */
	"  bucket   INTEGER NOT NULL,"		/* ts / span in us */
	"  lb       INTEGER NOT NULL,"		/* gw_lat_bucket(latency_ms) */
	"  n        INTEGER NOT NULL,"
	"  PRIMARY KEY (span, bucket, lb)"
	") WITHOUT ROWID;"
	"INSERT INTO event_latency SELECT 60, ts / 60000000,"
	"  gw_lat_bucket(latency_ms), count(*) FROM event"
	"  WHERE latency_ms IS NOT NULL GROUP BY 2, 3;"
	"INSERT INTO event_latency SELECT 3600, ts / 3600000000,"
	"  gw_lat_bucket(latency_ms), count(*) FROM event"
	"  WHERE latency_ms IS NOT NULL GROUP BY 2, 3;",
};

static const struct {
	const char		*file;
	const char *const	*steps;
	int			 nsteps;
} schemas[] = {
	[DB_GW] = { "gw.db", gw_migrations, (int)nitems(gw_migrations) },
	[DB_QUEUE] = { "queue.db", queue_migrations,
	    (int)nitems(queue_migrations) },
	[DB_LOG] = { "log.db", log_migrations, (int)nitems(log_migrations) },
};

const char *
db_filename(enum db_kind k)
{
	return schemas[k].file;
}

int
db_schema_version(enum db_kind k)
{
	return schemas[k].nsteps;
}

int
db_exec(sqlite3 *db, const char *sql, char *err, size_t errsz)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errsz, "%s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

sqlite3_stmt *
db_prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
	    NULL) != SQLITE_OK)
		fatalx("sqlite: %s: %s", sqlite3_errmsg(db), sql);
	return st;
}

static sqlite3_stmt *
exec_stmt(struct db_exec_cache *c, sqlite3 *db, const char *sql)
{
	size_t i;

	for (i = 0; i < nitems(c->e) && c->e[i].db != NULL; i++)
		if (c->e[i].db == db && strcmp(c->e[i].sql, sql) == 0)
			return c->e[i].st;
	if (i == nitems(c->e))
		return NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &c->e[i].st, NULL) != SQLITE_OK) {
		sqlite3_finalize(c->e[i].st);
		c->e[i].st = NULL;
		return NULL;
	}
	c->e[i].db = db;
	c->e[i].sql = sql;
	return c->e[i].st;
}

int
db_exec_cached(struct db_exec_cache *c, sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = exec_stmt(c, db, sql);
	int r;

	if (st == NULL)		/* a full cache: compile it this time */
		return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ?
		    0 : -1;
	r = sqlite3_step(st);
	sqlite3_reset(st);
	return r == SQLITE_DONE ? 0 : -1;
}

void
db_exec_cache_free(struct db_exec_cache *c)
{
	for (size_t i = 0; i < nitems(c->e); i++)
		sqlite3_finalize(c->e[i].st);
	memset(c, 0, sizeof(*c));
}

int
db_rows(sqlite3 *db, const char *sql, void (*fn)(sqlite3_stmt *, void *),
    void *arg)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(st, arg);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The first whole minute and hour at or after since_us (>= 0). */
static void
db_whole(int64_t since_us, int64_t *m0, int64_t *h0)
{
	*m0 = (since_us + 59999999) / 60000000;
	*h0 = (since_us + 3599999999LL) / 3600000000LL;
}

/* Bind since (?1), the first whole minute (?2) and hour (?3). */
static void
db_bind_whole(sqlite3_stmt *st, int64_t since_us)
{
	int64_t m0, h0;

	if (since_us < 0)
		since_us = 0;
	db_whole(since_us, &m0, &h0);
	sqlite3_bind_int64(st, 1, since_us);
	sqlite3_bind_int64(st, 2, m0);
	sqlite3_bind_int64(st, 3, h0);
}

int
db_tally(sqlite3 *db, int64_t since_us, void (*fn)(const char *,
    const char *, int64_t, int64_t, void *), void *arg)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT action, subaccount, sum(n), "
	    "sum(hard) FROM (SELECT action, subaccount, n, hard FROM "
	    "event_tally WHERE span = 3600 AND bucket >= ?3 "
	    "UNION ALL SELECT action, subaccount, n, hard FROM event_tally "
	    "WHERE span = 60 AND bucket >= ?2 AND bucket < ?3 * 60 "
	    "UNION ALL SELECT action, coalesce(subaccount, ''), 1, "
	    "class IS 'hard' FROM event WHERE ts >= ?1 AND ts < ?2 * 60000000) "
	    "GROUP BY subaccount, action", -1, &st, NULL) != SQLITE_OK)
		return -1;
	db_bind_whole(st, since_us);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn((const char *)sqlite3_column_text(st, 0),
		    (const char *)sqlite3_column_text(st, 1),
		    sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
		    arg);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
db_latency(sqlite3 *db, int64_t since_us, int64_t *hist)
{
	sqlite3_stmt *st;
	int rc, lb;

	memset(hist, 0, TALLY_LAT_NB * sizeof(*hist));
	if (sqlite3_prepare_v2(db, "SELECT lb, sum(n) FROM (SELECT lb, n "
	    "FROM event_latency WHERE span = 3600 AND bucket >= ?3 "
	    "UNION ALL SELECT lb, n FROM event_latency WHERE span = 60 AND "
	    "bucket >= ?2 AND bucket < ?3 * 60 "
	    "UNION ALL SELECT gw_lat_bucket(latency_ms), 1 FROM event "
	    "WHERE ts >= ?1 AND ts < ?2 * 60000000 AND action = 'delivered' "
	    "AND latency_ms IS NOT NULL) GROUP BY lb", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	db_bind_whole(st, since_us);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((lb = sqlite3_column_int(st, 0)) >= 0 && lb < TALLY_LAT_NB)
			hist[lb] += sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int64_t
db_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int
user_version(sqlite3 *db)
{
	return (int)db_int(db, "PRAGMA user_version");
}

int
db_data_version(sqlite3 *db)
{
	return (int)db_int(db, "PRAGMA data_version");
}

static int
migrate(sqlite3 *db, enum db_kind k, char *err, size_t errsz)
{
	char sql[64], e[512];
	int v;

	/* BEGIN IMMEDIATE: two programs creating a new database race. */
	if (db_exec(db, "BEGIN IMMEDIATE", e, sizeof(e)) == -1) {
		snprintf(err, errsz, "%s", e);
		return -1;
	}
	if ((v = user_version(db)) < 0)
		goto fail;
	if (v > schemas[k].nsteps) {
		snprintf(err, errsz, "schema version %d is newer than this "
		    "program understands (%d)", v, schemas[k].nsteps);
		db_exec(db, "ROLLBACK", e, sizeof(e));
		return -1;
	}
	for (; v < schemas[k].nsteps; v++) {
		if (db_exec(db, schemas[k].steps[v], e, sizeof(e)) == -1) {
			snprintf(err, errsz, "migration %d: %.400s", v + 1, e);
			db_exec(db, "ROLLBACK", e, sizeof(e));
			return -1;
		}
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
	if (db_exec(db, sql, e, sizeof(e)) == -1 ||
	    db_exec(db, "COMMIT", e, sizeof(e)) == -1)
		goto fail;
	return 0;
fail:
	snprintf(err, errsz, "%s", sqlite3_errmsg(db));
	db_exec(db, "ROLLBACK", e, sizeof(e));
	return -1;
}

/*
 * SQL gw_addr_key(address): an address's lookup key (addr_key), so that
 * a statement finds a suppression row in whatever spelling it was
 * written, older rows included.
 */
static void
sql_addr_key(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	const unsigned char *a = sqlite3_value_text(argv[0]);
	char key[ADDR_PATH_MAX + 1];

	if (a == NULL || addr_key((const char *)a, key, sizeof(key)) == -1)
		sqlite3_result_value(cx, argv[0]);
	else
		sqlite3_result_text(cx, key, -1, SQLITE_TRANSIENT);
}

/* SQL gw_lat_bucket(ms): tally_lat_bucket(), for the migration and
 * the partial minute of db_latency(). */
static void
sql_lat_bucket(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
		sqlite3_result_null(cx);
	else
		sqlite3_result_int(cx, tally_lat_bucket(
		    sqlite3_value_int64(argv[0])));
}

/*
 * Who may read what.  gw.db holds password hashes, API key hashes and
 * DKIM private keys: owner only (0600).  queue.db and log.db are what
 * gwtop and gwsearch show: 0640, so the members of gwd's group (the
 * observers) read them, as gwd.conf(5) says.  Files made before this
 * rule get their mode at the next open by their owner, with the -wal
 * and -shm files, which SQLite creates with the database's mode.  A
 * read-only reader needs -wal and -shm to exist (it cannot make them in
 * a directory it may not write), so the writers of queue.db and log.db
 * keep them when they close (SQLITE_FCNTL_PERSIST_WAL).
 */
static void
db_set_modes(sqlite3 *db, const char *path, enum db_kind k)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	mode_t mode = k == DB_GW ? 0600 : 0640;
	char p[4200];
	int one = 1;

	for (size_t i = 0; i < nitems(suffix); i++) {
		snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
		if (chmod(p, mode) == -1 && errno != ENOENT && errno != EPERM)
			log_warn("chmod %s", p);
	}
	if (k != DB_GW)
		sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL,
		    &one);
}

sqlite3 *
db_open(const char *state_dir, enum db_kind k, int flags, char *err,
    size_t errsz)
{
	char path[4096], e[512];
	sqlite3 *db = NULL;
	int oflags, v, n;

	n = snprintf(path, sizeof(path), "%s/%s", state_dir, schemas[k].file);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		snprintf(err, errsz, "%s: path too long", state_dir);
		return NULL;
	}
	oflags = SQLITE_OPEN_NOMUTEX;
	oflags |= (flags & DB_RDONLY) ? SQLITE_OPEN_READONLY :
	    (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	if (!(flags & DB_RDONLY)) {
		mode_t old = umask(k == DB_GW ? 077 : 027);

		v = sqlite3_open_v2(path, &db, oflags, NULL);
		umask(old);
		if (v == SQLITE_OK)
			db_set_modes(db, path, k);
	} else
		v = sqlite3_open_v2(path, &db, oflags, NULL);
	if (v != SQLITE_OK) {
		snprintf(err, errsz, "%s: %s", path,
		    db ? sqlite3_errmsg(db) : sqlite3_errstr(v));
		goto fail;
	}
	sqlite3_busy_timeout(db, 5000);
	sqlite3_extended_result_codes(db, 1);
	sqlite3_create_function(db, "gw_addr_key", 1, SQLITE_UTF8 |
	    SQLITE_DETERMINISTIC, NULL, sql_addr_key, NULL, NULL);
	sqlite3_create_function(db, "gw_lat_bucket", 1, SQLITE_UTF8 |
	    SQLITE_DETERMINISTIC, NULL, sql_lat_bucket, NULL, NULL);
	if (!(flags & DB_RDONLY)) {
		if (db_exec(db, "PRAGMA journal_mode=WAL", e, sizeof(e)) == -1 ||
		    db_exec(db, (flags & DB_NOSYNC) ?
		    "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL",
		    e, sizeof(e)) == -1 ||
		    db_exec(db, "PRAGMA foreign_keys=ON", e, sizeof(e)) == -1 ||
		    migrate(db, k, e, sizeof(e)) == -1) {
			snprintf(err, errsz, "%s: %s", path, e);
			goto fail;
		}
	} else {
		v = user_version(db);
		if (v < 0) {
			snprintf(err, errsz, "%s: %s", path, sqlite3_errmsg(db));
			goto fail;
		}
		if (v != schemas[k].nsteps) {
			snprintf(err, errsz, "%s: schema version %d, this "
			    "program expects %d%s", path, v, schemas[k].nsteps,
			    v == 0 ? " (not created yet: start gwd or run "
			    "gwctl once)" : "");
			goto fail;
		}
		db_exec(db, "PRAGMA query_only=1", e, sizeof(e));
	}
	return db;
fail:
	if (db)
		sqlite3_close(db);
	return NULL;
}

void
db_close(sqlite3 *db)
{
	if (db)
		sqlite3_close_v2(db);
}

void
db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

void
db_bind_int_or_null(sqlite3_stmt *st, int i, int64_t v, int64_t none)
{
	if (v == none)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

int
db_step_done(sqlite3_stmt *st)
{
	int r = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r == SQLITE_DONE ? 0 : -1;
}
