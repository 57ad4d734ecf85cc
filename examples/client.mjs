// How an application calls freetier: node examples/client.mjs
// (npm install pg; connection from the usual PG* environment variables).
// bigint columns arrive as strings in node-postgres.
//
// decide runs in the same short transaction as the application's own write
// (here a job row), so both commit or neither does.  After the work, the
// hold is settled at the actual cost, or released if the work failed.
import { createHash } from "node:crypto";
import pg from "pg";

const db = new pg.Pool({ max: 4 });

async function submitJob(pubkey, request, estimatedSats, work) {
  // Derived from the request, so a retried settle carries the same value.
  const requestHash = createHash("sha256").update(request).digest("hex");
  const client = await db.connect();
  let decision;
  try {
    await client.query("BEGIN");
    ({ rows: [decision] } = await client.query(
      "SELECT serve, absorb_sats, charge_sats, hold_id, reason FROM freetier_decide($1, $2)",
      [pubkey, estimatedSats]));
    await client.query(
      "INSERT INTO jobs (pubkey, estimated_sats, hold_id, charge_sats) VALUES ($1, $2, $3, $4)",
      [pubkey, estimatedSats, decision.hold_id, decision.charge_sats]);
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK");
    throw err;
  } finally {
    client.release();
  }
  if (decision.serve === "gate") return { ...decision, note: "full price: send an invoice" };

  // The work happens outside any transaction; the hold keeps the subsidy.
  let actualSats;
  try {
    actualSats = await work();
  } catch (err) {
    await db.query("SELECT freetier_release($1, $2)", [decision.hold_id, String(err.message)]);
    return { ...decision, note: "work failed, hold released" };
  }
  // Safe to retry: the same arguments return the first result.
  const { rows: [grant] } = await db.query(
    "SELECT * FROM freetier_record_grant($1, $2, $3)",
    [decision.hold_id, actualSats, requestHash]);
  return { ...decision, ...grant };
}

await db.query("CREATE TABLE IF NOT EXISTS jobs (pubkey text, estimated_sats bigint, hold_id uuid, charge_sats bigint)");
console.log(await submitJob("npub1alice", "summarise this", 30, async () => 18));
console.log(await submitJob("npub1alice", "translate that", 40, async () => { throw new Error("backend timeout"); }));
console.log(await submitJob(null, "anonymous ask", 25, async () => 25));
await db.end();
