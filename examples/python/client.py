"""How an application calls freetier, with psycopg 3 (Debian 12: python3-psycopg):

    /usr/bin/python3 examples/python/client.py

It connects as the application role, which has only what freetier_grant_app
gives it (PG* environment variables, as libpq reads them), and a payment
webhook connects as a role that may only credit pools (PAYMENTS_PGUSER,
PAYMENTS_PGPASSWORD).  test/clients sets both up in a throw-away cluster
and runs this file; every step checks its answer and the process exits
non-zero if one is wrong.  The subjects and their tier (50 sats a day) come
from test/clients.  Same steps as examples/node/client.mjs.
"""
import hashlib
import os
import random
import threading
import time

import psycopg
from psycopg import errors
from psycopg.rows import dict_row

DB = ""                                   # everything from PG* variables
PAYMENTS = f"user={os.environ['PAYMENTS_PGUSER']} password={os.environ['PAYMENTS_PGPASSWORD']}"
RETRYABLE = (errors.SerializationFailure, errors.DeadlockDetected)   # 40001, 40P01


def log(*args):
    print("python:", *args, flush=True)


def connect(conninfo=DB):
    return psycopg.connect(conninfo, row_factory=dict_row, autocommit=True)


def with_retry(conn, fn, isolation="READ COMMITTED", attempts=5, on_retry=None):
    """Run fn(conn) in a transaction, again from the start when PostgreSQL
    ends it with a serialization failure (40001) or a deadlock (40P01): the
    whole transaction was rolled back, freetier's holds included, so running
    it again is safe.  Other errors are the caller's."""
    for attempt in range(1, attempts + 1):
        try:
            conn.execute(f"BEGIN ISOLATION LEVEL {isolation}")
            result = fn(conn)
            conn.execute("COMMIT")
            return result
        except RETRYABLE as err:
            conn.execute("ROLLBACK")
            if attempt == attempts:
                raise
            if on_retry:
                on_retry(err.sqlstate)
            time.sleep(0.01 * 2 ** attempt * random.random())
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def request_key(pubkey, request):
    """The request's own key: a retry of the same request, after a lost
    acknowledgement or a failover, passes the same key and gets the first
    decision back instead of a second hold."""
    return hashlib.sha256(f"{pubkey}\n{request}".encode()).hexdigest()


def start_job(conn, pubkey, request, estimated_sats, hold_ttl=None):
    """decide runs in the same short transaction as the application's own
    write (a job row), so both commit or neither does.  hold_ttl: how long
    the hold may wait for its settle (a partial decision's invoice lives an
    hour); None keeps the pool's hold_ttl."""
    def run(c):
        d = c.execute("SELECT serve, absorb_sats, charge_sats, hold_id, reason"
                      " FROM freetier_decide(%s, %s, request_key => %s, hold_ttl => %s)",
                      (pubkey, estimated_sats, request_key(pubkey, request), hold_ttl)).fetchone()
        c.execute("INSERT INTO jobs (pubkey, request, estimated_sats, hold_id, charge_sats)"
                  " VALUES (%s, %s, %s, %s, %s)",
                  (pubkey, request, estimated_sats, d["hold_id"], d["charge_sats"]))
        return d
    return with_retry(conn, run)


def settle(conn, hold_id, request, actual_sats):
    """Settle a hold at the work's actual cost.  The request hash is derived
    from the request, so a retried settle carries the same value and gets
    the first settle's answer back."""
    request_hash = hashlib.sha256(request.encode()).hexdigest()
    return conn.execute("SELECT grant_id, absorbed_sats, returned_sats, charge_sats"
                        " FROM freetier_record_grant(%s, %s, %s)",
                        (hold_id, actual_sats, request_hash)).fetchone()


def main():
    db = connect()
    payments = connect(PAYMENTS)
    # The application's own table, in its own schema (test/clients makes
    # schema "app", owned by the role, first on its search_path).
    db.execute("CREATE TABLE IF NOT EXISTS jobs (pubkey text, request text,"
               " estimated_sats bigint, hold_id uuid, charge_sats bigint)")

    # 1. Decide, do the work, settle.  A lost acknowledgement is retried
    #    with the same arguments: the same grant comes back, nothing moves twice.
    d = start_job(db, "npub1alice", "summarise this", 30)
    assert (d["serve"], d["absorb_sats"]) == ("free", 30), d
    actual_sats = 18                                  # the work's real cost
    g = settle(db, d["hold_id"], "summarise this", actual_sats)
    assert (g["absorbed_sats"], g["returned_sats"], g["charge_sats"]) == (18, 12, 0), g
    assert settle(db, d["hold_id"], "summarise this", actual_sats) == g
    # The decide's acknowledgement was lost and the request is retried with
    # its key: the same hold comes back, and nothing more is held.
    retried = db.execute("SELECT hold_id, absorb_sats FROM freetier_decide(%s, %s, request_key => %s)",
                         ("npub1alice", 30, request_key("npub1alice", "summarise this"))).fetchone()
    assert (retried["hold_id"], retried["absorb_sats"]) == (d["hold_id"], 30), retried
    log("decide, work, settle:", d["serve"], "absorbed", g["absorbed_sats"], "returned",
        g["returned_sats"], "grant", g["grant_id"],
        "(a retried settle gave the same grant, a retried decide the same hold)")

    # 2. A partial decision: freetier absorbs what the subject's budget has
    #    left and the user is invoiced for the rest.  The hold keeps the
    #    subsidy while the invoice is open.
    #    a) The invoice is paid: settle at the full cost; the payment webhook
    #       credits the pool, and the provider's retry of it credits nothing more.
    d = start_job(db, "npub1bob", "render a video", 80, hold_ttl="1 hour")
    assert (d["serve"], d["absorb_sats"], d["charge_sats"]) == ("partial", 50, 30), d
    invoice = {"ref": "inv-python-bob-1", "sats": d["charge_sats"]}
    # The user asks for more time to pay: the invoice, and the hold, live
    # another hour from now.
    extended = db.execute("SELECT freetier_extend_hold(%s, '1 hour') - now() > interval '59 minutes'"
                          " AS extended", (d["hold_id"],)).fetchone()["extended"]
    assert extended
    g = settle(db, d["hold_id"], "render a video", 80)
    assert (g["absorbed_sats"], g["charge_sats"]) == (50, 30), g

    def webhook():
        return payments.execute("SELECT freetier_credit(%s, 'default', %s) AS credited",
                                (invoice["sats"], invoice["ref"])).fetchone()["credited"]
    first, retried = webhook(), webhook()
    assert first == 3 and retried == first, (first, retried)          # 10 % of 30 sats
    log("partial, paid within its hour: absorbed", g["absorbed_sats"], "invoiced", invoice["sats"], "credited",
        first, "(the retried webhook credited the same payment once)")

    #    b) The invoice expires unpaid: release the hold; the subject's budget
    #       and the pool get the sats back at once.
    d = start_job(db, "npub1carol", "long answer", 70)
    assert (d["serve"], d["absorb_sats"]) == ("partial", 50), d
    returned = db.execute("SELECT freetier_release(%s, %s) AS returned",
                          (d["hold_id"], "invoice expired")).fetchone()["returned"]
    assert returned == 50, returned
    d = start_job(db, "npub1carol", "short answer", 20)
    assert (d["serve"], d["absorb_sats"]) == ("free", 20), d
    db.execute("SELECT freetier_release(%s, 'not needed')", (d["hold_id"],))
    log("partial, expired: released", returned, "sats; the next decide got them back")

    # 3. Retries.  a) Under REPEATABLE READ, a job row changed by someone else
    #    after the transaction's snapshot ends it with 40001.  The retry runs
    #    the whole transaction again, decide included: the first attempt's hold
    #    went with its rollback, so the retry absorbs the full 40 sats (a
    #    leaked hold would have left only 10 of dave's 50).
    db.execute("INSERT INTO jobs (pubkey, request, estimated_sats) VALUES ('npub1dave', 'queued', 0)")
    other = connect()
    codes, first_attempt = [], [True]

    def dave(c):
        dd = c.execute("SELECT serve, absorb_sats, hold_id FROM freetier_decide(%s, %s)",
                       ("npub1dave", 40)).fetchone()
        if first_attempt[0]:                          # someone else touches dave's row meanwhile
            first_attempt[0] = False
            other.execute("UPDATE jobs SET request = 'touched' WHERE pubkey = 'npub1dave'")
        c.execute("UPDATE jobs SET hold_id = %s WHERE pubkey = 'npub1dave'", (dd["hold_id"],))
        return dd
    d = with_retry(db, dave, isolation="REPEATABLE READ", on_retry=codes.append)
    assert codes == ["40001"], codes
    assert (d["serve"], d["absorb_sats"]) == ("free", 40), d
    db.execute("SELECT freetier_release(%s, 'done')", (d["hold_id"],))
    log("retry on 40001: retried once, the retry absorbed", d["absorb_sats"])

    #    b) Two transactions lock two job rows in opposite orders: PostgreSQL
    #       ends one of them with 40P01 after deadlock_timeout, the other
    #       commits, and the retry of the first then commits too.
    db.execute("INSERT INTO jobs (pubkey, request, estimated_sats)"
               " VALUES ('npub1erin', 'a', 0), ('npub1frank', 'b', 0)")
    codes, failures = [], []

    def lock_both(first_key, second_key):
        conn = connect()

        def run(c):
            c.execute("UPDATE jobs SET estimated_sats = estimated_sats + 1 WHERE pubkey = %s",
                      (first_key,))
            time.sleep(0.2)                           # both now hold their first row
            c.execute("UPDATE jobs SET estimated_sats = estimated_sats + 1 WHERE pubkey = %s",
                      (second_key,))
        try:
            with_retry(conn, run, on_retry=codes.append)
        except BaseException as err:                  # reported by the main thread
            failures.append(err)
        finally:
            conn.close()
    threads = [threading.Thread(target=lock_both, args=keys)
               for keys in (("npub1erin", "npub1frank"), ("npub1frank", "npub1erin"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    assert "40P01" in codes, codes
    rows = db.execute("SELECT estimated_sats FROM jobs WHERE pubkey IN ('npub1erin', 'npub1frank')"
                      " ORDER BY pubkey").fetchall()
    assert [r["estimated_sats"] for r in rows] == [2, 2], rows
    log("retry on 40P01:", ", ".join(codes), "then both transactions committed once each")

    # What this role may not do: freetier's tables are not its to read.
    for sql in ("SELECT * FROM freetier.pools", "SELECT freetier_credit(1000)"):
        try:
            db.execute(sql)
            raise AssertionError(f"{sql} was allowed")
        except errors.InsufficientPrivilege:
            pass
    log("ok")


if __name__ == "__main__":
    main()
