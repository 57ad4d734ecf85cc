// How an application calls freetier, with node-postgres:
//
//   cd examples/node && npm ci && node client.mjs
//
// It connects as the application role, which has only what
// freetier_grant_app gives it (PG* environment variables, as libpq reads
// them), and a payment webhook connects as a role that may only credit
// pools (PAYMENTS_PGUSER, PAYMENTS_PGPASSWORD).  test/clients sets both up
// in a throw-away cluster and runs this file; every step checks its answer
// and the process exits non-zero if one is wrong.
//
// The subjects and their tier (50 sats a day) come from test/clients.
// bigint columns arrive as strings in node-postgres.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import pg from "pg";

const db = new pg.Pool({ max: 4 });
const payments = new pg.Pool({
  max: 1,
  user: process.env.PAYMENTS_PGUSER,
  password: process.env.PAYMENTS_PGPASSWORD,
});
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (...args) => console.log("node:", ...args);

// Runs fn(client) in a transaction, again from the start when PostgreSQL
// ends it with a serialization failure (40001) or a deadlock (40P01): the
// whole transaction was rolled back, freetier's holds included, so running
// it again is safe.  Other errors are the caller's.
async function withRetry(fn, { isolation = "READ COMMITTED", attempts = 5, onRetry } = {}) {
  for (let attempt = 1; ; attempt++) {
    const client = await db.connect();
    try {
      await client.query(`BEGIN ISOLATION LEVEL ${isolation}`);
      const result = await fn(client);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      if (!["40001", "40P01"].includes(err.code) || attempt === attempts) throw err;
      onRetry?.(err.code, attempt);
      await sleep(10 * 2 ** attempt * Math.random());
    } finally {
      client.release();
    }
  }
}

// The request's own key: a retry of the same request, after a lost
// acknowledgement or a failover, passes the same key and gets the first
// decision back instead of a second hold.
const requestKey = (pubkey, request) =>
  createHash("sha256").update(`${pubkey}\n${request}`).digest("hex");

// decide runs in the same short transaction as the application's own
// write (a job row), so both commit or neither does.  holdTtl: how long
// the hold may wait for its settle (a partial decision's invoice lives an
// hour); null keeps the pool's hold_ttl.
async function startJob(pubkey, request, estimatedSats, holdTtl = null) {
  return withRetry(async (client) => {
    const { rows: [d] } = await client.query(
      `SELECT serve, absorb_sats, charge_sats, hold_id, reason
         FROM freetier_decide($1, $2, request_key => $3, hold_ttl => $4)`,
      [pubkey, estimatedSats, requestKey(pubkey, request), holdTtl]);
    await client.query(
      "INSERT INTO jobs (pubkey, request, estimated_sats, hold_id, charge_sats) VALUES ($1, $2, $3, $4, $5)",
      [pubkey, request, estimatedSats, d.hold_id, d.charge_sats]);
    return d;
  });
}

// Settles a hold at the work's actual cost.  The request hash is derived
// from the request, so a retried settle carries the same value and gets
// the first settle's answer back.
async function settle(holdId, request, actualSats) {
  const requestHash = createHash("sha256").update(request).digest("hex");
  const { rows: [g] } = await db.query(
    "SELECT grant_id, absorbed_sats, returned_sats, charge_sats FROM freetier_record_grant($1, $2, $3)",
    [holdId, actualSats, requestHash]);
  return g;
}

// The application's own table, in its own schema (test/clients makes
// schema "app", owned by the role, first on its search_path).
await db.query(`CREATE TABLE IF NOT EXISTS jobs (
  pubkey text, request text, estimated_sats bigint, hold_id uuid, charge_sats bigint)`);

// 1. Decide, do the work, settle.  A lost acknowledgement is retried with
//    the same arguments: the same grant comes back and nothing moves twice.
{
  const d = await startJob("npub1alice", "summarise this", 30);
  assert.equal(d.serve, "free");
  assert.equal(d.absorb_sats, "30");
  const actualSats = 18;                                // the work's real cost
  const g = await settle(d.hold_id, "summarise this", actualSats);
  assert.deepEqual([g.absorbed_sats, g.returned_sats, g.charge_sats], ["18", "12", "0"]);
  const again = await settle(d.hold_id, "summarise this", actualSats);
  assert.deepEqual(again, g);
  // The decide's acknowledgement was lost and the request is retried with
  // its key: the same hold comes back, and nothing more is held.
  const { rows: [retried] } = await db.query(
    "SELECT hold_id, absorb_sats FROM freetier_decide($1, $2, request_key => $3)",
    ["npub1alice", 30, requestKey("npub1alice", "summarise this")]);
  assert.deepEqual([retried.hold_id, retried.absorb_sats], [d.hold_id, "30"]);
  log("decide, work, settle:", d.serve, "absorbed", g.absorbed_sats, "returned", g.returned_sats,
      "grant", g.grant_id, "(a retried settle gave the same grant, a retried decide the same hold)");
}

// 2. A partial decision: freetier absorbs what the subject's budget has
//    left and the user is invoiced for the rest.  The hold keeps the
//    subsidy while the invoice is open.
{
  // a) The invoice is paid: settle at the full cost; the payment webhook
  //    credits the pool, and the payment provider's retry of the webhook
  //    credits nothing more.
  const d = await startJob("npub1bob", "render a video", 80, "1 hour");
  assert.deepEqual([d.serve, d.absorb_sats, d.charge_sats], ["partial", "50", "30"]);
  const invoice = { ref: "inv-node-bob-1", sats: Number(d.charge_sats) };
  // The user asks for more time to pay: the invoice, and the hold, live
  // another hour from now.
  const { rows: [x] } = await db.query(
    "SELECT freetier_extend_hold($1, '1 hour') - now() > interval '59 minutes' AS extended",
    [d.hold_id]);
  assert.equal(x.extended, true);
  const g = await settle(d.hold_id, "render a video", 80);
  assert.deepEqual([g.absorbed_sats, g.charge_sats], ["50", "30"]);
  const webhook = () => payments.query(
    "SELECT freetier_credit($1, 'default', $2) AS credited", [invoice.sats, invoice.ref]);
  const { rows: [first] } = await webhook();
  const { rows: [retried] } = await webhook();
  assert.equal(first.credited, "3");                   // 10 % of 30 sats
  assert.equal(retried.credited, first.credited);
  log("partial, paid within its hour:", "absorbed", g.absorbed_sats, "invoiced", invoice.sats,
      "credited", first.credited, "(the retried webhook credited the same payment once)");

  // b) The invoice expires unpaid: release the hold; the subject's budget
  //    and the pool get the sats back at once.
  const d2 = await startJob("npub1carol", "long answer", 70);
  assert.deepEqual([d2.serve, d2.absorb_sats], ["partial", "50"]);
  const { rows: [r] } = await db.query(
    "SELECT freetier_release($1, $2) AS returned", [d2.hold_id, "invoice expired"]);
  assert.equal(r.returned, "50");
  const d3 = await startJob("npub1carol", "short answer", 20);
  assert.deepEqual([d3.serve, d3.absorb_sats], ["free", "20"]);
  await db.query("SELECT freetier_release($1, 'not needed')", [d3.hold_id]);
  log("partial, expired:", "released", r.returned, "sats; the next decide got them back");
}

// 3. Retries.  a) Under REPEATABLE READ, a job row changed by someone else
//    after the transaction's snapshot ends it with 40001.  The retry runs
//    the whole transaction again, decide included: the first attempt's
//    hold went with its rollback, so the retry absorbs the full 40 sats
//    (a leaked hold would have left only 10 of dave's 50).
{
  await db.query("INSERT INTO jobs (pubkey, request, estimated_sats) VALUES ('npub1dave', 'queued', 0)");
  const codes = [];
  let first = true;
  const d = await withRetry(async (client) => {
    const { rows: [dd] } = await client.query(
      "SELECT serve, absorb_sats, hold_id FROM freetier_decide($1, $2)", ["npub1dave", 40]);
    if (first) {                                       // someone else touches dave's row meanwhile
      first = false;
      await db.query("UPDATE jobs SET request = 'touched' WHERE pubkey = 'npub1dave'");
    }
    await client.query("UPDATE jobs SET hold_id = $1 WHERE pubkey = 'npub1dave'", [dd.hold_id]);
    return dd;
  }, { isolation: "REPEATABLE READ", onRetry: (code) => codes.push(code) });
  assert.deepEqual(codes, ["40001"]);
  assert.deepEqual([d.serve, d.absorb_sats], ["free", "40"]);
  await db.query("SELECT freetier_release($1, 'done')", [d.hold_id]);
  log("retry on 40001: retried once, the retry absorbed", d.absorb_sats);
}

// 3b) Two transactions lock two job rows in opposite orders: PostgreSQL
//     ends one of them with 40P01 after deadlock_timeout, the other
//     commits, and the retry of the first then commits too.
{
  await db.query(
    "INSERT INTO jobs (pubkey, request, estimated_sats) VALUES ('npub1erin', 'a', 0), ('npub1frank', 'b', 0)");
  const codes = [];
  const lockBoth = (firstKey, secondKey) => withRetry(async (client) => {
    await client.query("UPDATE jobs SET estimated_sats = estimated_sats + 1 WHERE pubkey = $1", [firstKey]);
    await sleep(200);                                  // both now hold their first row
    await client.query("UPDATE jobs SET estimated_sats = estimated_sats + 1 WHERE pubkey = $1", [secondKey]);
  }, { onRetry: (code) => codes.push(code) });
  await Promise.all([lockBoth("npub1erin", "npub1frank"), lockBoth("npub1frank", "npub1erin")]);
  assert.ok(codes.includes("40P01"), `expected a deadlock, saw ${JSON.stringify(codes)}`);
  const { rows } = await db.query(
    "SELECT pubkey, estimated_sats FROM jobs WHERE pubkey IN ('npub1erin', 'npub1frank') ORDER BY pubkey");
  assert.deepEqual(rows.map((r) => r.estimated_sats), ["2", "2"]);
  log("retry on 40P01:", codes.join(", "), "then both transactions committed once each");
}

// What this role may not do: freetier's tables are not its to read.
await assert.rejects(db.query("SELECT * FROM freetier.pools"), { code: "42501" });
await assert.rejects(db.query("SELECT freetier_credit(1000)"), { code: "42501" });
log("ok");
await db.end();
await payments.end();
