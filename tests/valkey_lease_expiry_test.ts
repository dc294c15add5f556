/**
 * A Valkey lease key holding a holder's token with an expiry no grant sets
 * (docs/recovery.md, "Damaged guard data"): none at all (a hand `PERSIST`)
 * or further away than the longest lease (`MAX_LEASE_MS`, 365 days) plus a
 * day of clock skew (`DEADLINE_SKEW_MS`; a hand
 * `PEXPIRE`). Every script that reads a taken lease key finds it damaged:
 * the guard's acquire, the in-flight acquire, the reclaim (and the ledger's
 * lease times, which show it run out so that the reclaim looks at once),
 * and the store's leased grant with and without a record. Each is a data
 * error naming the key and its quarantine key, which holds the token; a
 * leased grant saves nothing; the next grant goes through. An expiry within
 * the bound is still a lease, and a done marker kept for ever is left
 * alone. A grant of a free key reads no expiry (no `PTTL`), one of a taken
 * key one `PTTL` (the server counts it). On one real
 * server; ignored without valkey-server.
 */
import assert from "node:assert/strict";
import type { ExecutionGuardAcquire } from "../mod.ts";
import {
  ValkeyExecutionGuard,
  type ValkeyStateStore,
} from "../src/valkey/mod.ts";
import { DEADLINE_SKEW_MS, MAX_LEASE_MS } from "../src/guard/lease_config.ts";
import { hasValkeyServer } from "./_valkey_server.ts";
import { readValkeyStatus } from "../src/status/mod.ts";
import { commandStats } from "./_valkey_counting.ts";
import { dataError } from "./_damagers.ts";
import {
  LEASE,
  type LeasedPair,
  leasedSlot,
  leasedState,
  withLeasedPair,
} from "./_valkey_leased.ts";

const available = await hasValkeyServer();
const PREFIX = "scheduler:valkey:execution-lease:";
const TEN_YEARS = 10 * 365 * 86_400_000;

/** The hand edits, as `valkey-cli` arguments after the key. */
const DAMAGES: [string, string[]][] = [
  ["no expiry", ["PERSIST"]],
  ["an expiry ten years away", ["PEXPIRE", String(TEN_YEARS)]],
  ["an expiry a minute beyond the longest lease and a day of skew", [
    "PEXPIRE",
    String(MAX_LEASE_MS + DEADLINE_SKEW_MS + 60_000),
  ]],
];

/** How a damage message describes the expiry `edit` left. */
function expiryText(edit: string[]): RegExp {
  const found = edit[0] === "PERSIST" ? "no expiry" : "an expiry \\d+ ms away";
  return new RegExp(
    `with ${found}, where every grant sets one within the longest lease \\(${MAX_LEASE_MS} ms\\) and a day of clock skew`,
  );
}

type Grant = (n: number) => Promise<ExecutionGuardAcquire>;

/** The grant paths, each for the occurrence `n` of its own job. */
function grants(store: ValkeyStateStore, guard: ValkeyExecutionGuard) {
  const leased = (jobId: string, record: boolean): Grant => (n) =>
    store.saveAndAcquire({
      guard,
      state: leasedState(jobId, n),
      slot: leasedSlot(jobId, n),
      record,
    });
  return {
    "acquire": (n: number) => guard.acquire(leasedSlot("acquire", n)),
    "in-flight acquire": (n: number) =>
      guard.inFlight.acquire(leasedSlot("in-flight", n)),
    "leased grant with a record": leased("leased-record", true),
    "leased grant without a record": leased("leased-plain", false),
  } as Record<string, Grant>;
}

/** The job id a grant path uses. */
const JOBS: Record<string, string> = {
  "acquire": "acquire",
  "in-flight acquire": "in-flight",
  "leased grant with a record": "leased-record",
  "leased grant without a record": "leased-plain",
};

/** Another instance's grant of the same occurrence: its token held. */
async function heldByAnother(pair: LeasedPair, jobId: string, n: number) {
  const other = await ValkeyExecutionGuard.connect(pair.url, LEASE);
  try {
    const answer = await other.inFlight.acquire(leasedSlot(jobId, n));
    assert.equal(answer.kind, "acquired");
    assert.ok(answer.kind === "acquired");
    return answer.lease;
  } finally {
    await other.close();
  }
}

/** The job's quarantine keys and their values. */
async function quarantined(pair: LeasedPair, jobId: string) {
  const keys = (await pair.cli("KEYS", `${PREFIX}${jobId}:quarantine:*`))
    .split("\n").filter((key) => key !== "");
  const values = [];
  for (const key of keys) values.push(await pair.cli("GET", key));
  return { keys, values };
}

for (const [damage, edit] of DAMAGES) {
  Deno.test({
    name:
      `lease expiry, Valkey: a holder's token with ${damage} is a data error naming the key and its quarantine on every grant path; a leased grant saves nothing; the next grant goes through`,
    ignore: !available,
    fn: () =>
      withLeasedPair({}, async (pair) => {
        const { store, guard, cli } = pair;
        for (const [path, grant] of Object.entries(grants(store, guard))) {
          const jobId = JOBS[path];
          await store.save(leasedState(jobId, 0));
          const { leaseKey, token } = await heldByAnother(pair, jobId, 1);
          assert.equal(await cli(edit[0], leaseKey, ...edit.slice(1)), "1");
          const message = await dataError(grant(1), leaseKey, "set aside at");
          assert.match(message, expiryText(edit), path);
          const aside = await quarantined(pair, jobId);
          assert.deepEqual(aside.values, [token], `${path}: the token moved`);
          assert.ok(message.includes(aside.keys[0]), `${path}: ${message}`);
          assert.equal(
            (await store.load(jobId))?.triggerCount,
            0,
            `${path}: nothing saved`,
          );
          assert.equal((await grant(1)).kind, "acquired", path);
        }
      }),
  });
}

for (const [damage, edit] of DAMAGES.slice(0, 2)) {
  Deno.test({
    name:
      `lease expiry, Valkey: a dead holder's token with ${damage} shows its lease run out in the ledger; the reclaim sets it aside as a data error, then takes the record over`,
    ignore: !available,
    fn: () =>
      withLeasedPair({}, async (pair) => {
        const { guard, cli } = pair;
        const { leaseKey, token } = await heldByAnother(pair, "reclaim", 1);
        assert.equal(await cli(edit[0], leaseKey, ...edit.slice(1)), "1");
        const [record] = await guard.inFlight.list("reclaim");
        assert.equal(record.holder, token);
        assert.equal(record.remainingMs, 0, "run out: reclaimed at once");
        await dataError(
          guard.inFlight.reclaim(record),
          leaseKey,
          "within the longest lease",
          "set aside at",
        );
        assert.deepEqual((await quarantined(pair, "reclaim")).values, [token]);
        const [again] = await guard.inFlight.list("reclaim");
        assert.equal((await guard.inFlight.reclaim(again)).kind, "acquired");
      }),
  });
}

Deno.test({
  name:
    "lease expiry, Valkey: an expiry of the longest lease plus a day of clock skew is still a lease (contended, not reclaimable), and a done marker kept for ever is left alone; a grant of a free key reads no expiry (no PTTL), one of a taken key one PTTL",
  ignore: !available,
  fn: () =>
    withLeasedPair({}, async (pair) => {
      const { store, guard, cli } = pair;
      const port = Number(new URL(pair.url).port);
      for (const [path, grant] of Object.entries(grants(store, guard))) {
        const jobId = JOBS[path];
        const before = (await commandStats(port)).get("pttl") ?? 0;
        assert.equal((await grant(3)).kind, "acquired", path);
        assert.equal(
          (await commandStats(port)).get("pttl") ?? 0,
          before,
          `${path}: a free key costs no PTTL`,
        );
        const { leaseKey } = await heldByAnother(pair, jobId, 1);
        // The longest lease, read a day long by a clock that is behind.
        await cli("PEXPIRE", leaseKey, String(MAX_LEASE_MS + DEADLINE_SKEW_MS));
        const held = (await commandStats(port)).get("pttl") ?? 0;
        assert.equal((await grant(1)).kind, "contended", path);
        // The server counts a script's PTTL: one on a taken key.
        assert.equal(
          (await commandStats(port)).get("pttl") ?? 0,
          held + 1,
          `${path}: a taken key costs one PTTL`,
        );
        await cli("SET", leaseKey, "done:another");
        assert.equal((await grant(1)).kind, "contended", path);
        assert.equal(await cli("GET", leaseKey), "done:another", path);
        assert.equal((await quarantined(pair, jobId)).keys.length, 0, path);
      }
      const { leaseKey } = await heldByAnother(pair, "bound", 1);
      await cli("PEXPIRE", leaseKey, String(MAX_LEASE_MS + DEADLINE_SKEW_MS));
      const [record] = await guard.inFlight.list("bound");
      assert.ok(record.remainingMs > MAX_LEASE_MS, "a live lease, not run out");
      assert.equal((await guard.inFlight.reclaim(record)).kind, "contended");
      assert.equal((await quarantined(pair, "bound")).keys.length, 0);
    }),
});

Deno.test({
  name:
    "lease expiry, Valkey status view: a holder's token with an expiry no grant sets is listed as damaged, as the guard will set it aside; a live lease and one at the bound as held",
  ignore: !available,
  fn: () =>
    withLeasedPair({}, async (pair) => {
      const live = await heldByAnother(pair, "live", 1);
      const bound = await heldByAnother(pair, "bound", 1);
      await pair.cli(
        "PEXPIRE",
        bound.leaseKey,
        String(MAX_LEASE_MS + DEADLINE_SKEW_MS),
      );
      const bad: string[] = [];
      for (const [n, [, edit]] of DAMAGES.entries()) {
        const { leaseKey } = await heldByAnother(pair, `bad-${n}`, 1);
        await pair.cli(edit[0], leaseKey, ...edit.slice(1));
        bad.push(leaseKey);
      }
      const report = await readValkeyStatus(pair.url);
      const damaged = report.damaged.map((entry) => entry.key).sort();
      assert.deepEqual(damaged, [...bad].sort());
      for (const entry of report.damaged) {
        assert.match(
          entry.problem,
          /holder's token with (no expiry|an expiry)/,
        );
      }
      const held = report.jobs.flatMap((job) =>
        job.leases.filter((lease) => lease.status === "held")
          .map((lease) => lease.key)
      ).sort();
      assert.deepEqual(held, [bound.leaseKey, live.leaseKey].sort());
    }),
});
