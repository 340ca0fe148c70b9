"""gw.db that cannot be read whole while gwd runs: gwd re-reads it every
500 ms and on AUTH, MAIL and RCPT, and must keep the subaccounts it has
rather than die (a prepare error was a fatalx) or install half a table
(a step error was taken for the end of the rows)."""
import os
import sqlite3

from conftest import Raw, login, wait_for


def gwdb(g):
    return sqlite3.connect(os.path.join(g.state, "gw.db"), timeout=10)


def can_login(g, user, password="s3cret-pass"):
    r = Raw(g.ports["submission"])
    try:
        assert r.reply()[0] == 220
        return login(r, user, password)[0] == 235
    finally:
        r.close()


def test_prepare_error_keeps_subaccounts(gw_factory):
    g = gw_factory().start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    wait_for(lambda: can_login(g, "app"), what="app to log in")
    with gwdb(g) as db:
        db.execute("ALTER TABLE api_key RENAME TO api_key_gone")
    db.close()
    # The login re-reads gw.db at once: gwd used to die here.
    assert can_login(g, "app")
    assert can_login(g, "app")
    assert g.proc.poll() is None, g.logtext()[-2000:]
    log = g.logtext()
    assert log.count("gw.db: cannot read the subaccounts, keeping the "
                     "previous ones (1): no such table: api_key") == 1, log
    # Repaired, the next poll reads it (and a subaccount added since).
    with gwdb(g) as db:
        db.execute("ALTER TABLE api_key_gone RENAME TO api_key")
    db.close()
    g.add_subaccount("later", "later.test", "s3cret-pass")
    wait_for(lambda: can_login(g, "later"), what="later to log in")


def test_step_error_keeps_the_whole_table(gw_factory):
    g = gw_factory().start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    g.add_subaccount("other", "other.test", "s3cret-pass")
    wait_for(lambda: can_login(g, "other"), what="other to log in")
    # subaccount becomes a view whose second row fails to step (json()
    # of a name that is not JSON): the first row reads, then an error,
    # as a damaged page or a busy read would give.
    with gwdb(g) as db:
        db.executescript(
            "BEGIN;"
            "ALTER TABLE subaccount RENAME TO subaccount_real;"
            "CREATE VIEW subaccount AS SELECT * FROM subaccount_real "
            "WHERE CASE WHEN name = 'app' THEN 1 "
            "ELSE json(name) IS NOT NULL END;"
            "COMMIT;")
    db.close()
    # Half a table would have locked "other" out.
    assert can_login(g, "other")
    assert can_login(g, "app")
    assert "cannot read the subaccounts, keeping the previous ones (2)" \
        in g.logtext()
    with gwdb(g) as db:
        db.executescript("BEGIN; DROP VIEW subaccount;"
                         "ALTER TABLE subaccount_real RENAME TO subaccount;"
                         "COMMIT;")
    db.close()
    wait_for(lambda: "subaccounts reloaded: 2" in g.logtext(),
             what="the repaired gw.db read")
    assert can_login(g, "other")
