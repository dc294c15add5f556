/**
 * The scheduler meets Valkey lease keys that hold a dead holder's token with
 * an expiry no grant sets (docs/recovery.md, "Damaged guard data"): none at
 * all (a hand `PERSIST`) or ten years away (a hand `PEXPIRE`). Before, the
 * occurrence stayed held for ever: an at-least-once `run()` waited for it
 * with only `execution-guard-contended` events, an at-most-once one never
 * reported it lost. Now each such key is set aside under a quarantine key
 * and reported, and the occurrence is treated as free.
 *
 * At-times occurrences hours apart under fake time, on a real server; the
 * first occurrence's key holds an at-least-once holder's token with its
 * in-flight record (found by the reclaim), the second's a plain holder's
 * token without one (found by the grant: the in-flight or plain acquire
 * beside an in-memory store, the single script with the store and the
 * guard on one deployment). Ignored without valkey-server.
 */
import assert from "node:assert/strict";
import {
  type Delivery,
  InMemoryStateStore,
  Job,
  Schedule,
  Scheduler,
  type SchedulerEvent,
  type StateStore,
  Task,
} from "../mod.ts";
import { ValkeyExecutionGuard, ValkeyStateStore } from "../src/valkey/mod.ts";
import { MAX_LEASE_MS } from "../src/guard/lease_config.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";
import { cli } from "./_valkey_topology.ts";
import { withFakeClock } from "./_fake_time.ts";
import { driveIo } from "./_valkey_fake_drive.ts";
import { recordEvents } from "./_engine_helpers.ts";

const available = await hasValkeyServer();
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 2, 1);
const TIMES = [T0 + HOUR, T0 + 6 * HOUR];
const JOB = "j";
const PREFIX = "scheduler:valkey:execution-lease:";
const LEASE = { ttlMs: 60_000, renewIntervalMs: 20_000 };
const TEN_YEARS = 10 * 365 * 86_400_000;

/** The two hand edits, as `valkey-cli` arguments after the key. */
const DAMAGES = {
  "no expiry (PERSIST)": ["PERSIST"],
  "an expiry ten years away (PEXPIRE)": ["PEXPIRE", String(TEN_YEARS)],
} as const;

interface Ran {
  readonly at: number;
  readonly replayed: boolean;
}

for (const leased of [false, true]) {
  for (const delivery of ["at-least-once", "at-most-once"] as Delivery[]) {
    for (const [damage, edit] of Object.entries(DAMAGES)) {
      const path = leased
        ? "store and guard on one deployment"
        : "guard beside an in-memory store";
      Deno.test({
        name:
          `lease expiry, scheduler on Valkey (${path}, ${delivery}): dead holders' lease keys with ${damage} are set aside and reported; the first is ${
            delivery === "at-least-once" ? "replayed" : "reported lost"
          }, the second runs; run() ends`,
        ignore: !available,
        fn: () =>
          withValkeyServer(async (server) => {
            const redis = (...args: string[]) => cli(server.port, ...args);
            const other = await ValkeyExecutionGuard.connect(
              server.url,
              LEASE,
            );
            const keys = TIMES.map((at) => other.leaseKey(JOB, new Date(at)));
            const holders: string[] = [];
            try {
              // Another instance took both occurrences and died; then the
              // keys were edited by hand.
              const withRecord = await other.inFlight.acquire({
                jobId: JOB,
                scheduledAt: new Date(TIMES[0]),
                triggerCount: 1,
                catchUp: false,
              });
              const plain = await other.acquire({
                jobId: JOB,
                scheduledAt: new Date(TIMES[1]),
              });
              for (const [i, answer] of [withRecord, plain].entries()) {
                assert.equal(answer.kind, "acquired");
                assert.ok(answer.kind === "acquired");
                holders.push(answer.lease.token);
                assert.equal(
                  await redis(edit[0], keys[i], ...edit.slice(1)),
                  "1",
                );
              }
              const ran: Ran[] = [];
              const events = await runJob({
                url: server.url,
                leased,
                delivery,
                ran,
              });
              assertOutcome({ delivery, damage, ran, events, keys });
              // Both keys moved whole (RENAME keeps the expiry), nothing left.
              const aside =
                (await redis("KEYS", `${PREFIX}${JOB}:quarantine:*`))
                  .split("\n").filter((key) => key !== "").sort();
              assert.equal(aside.length, 2, aside.join());
              const values = [];
              for (const key of aside) {
                values.push(await redis("GET", key));
                const ttl = Number(await redis("PTTL", key));
                assert.ok(ttl === -1 || ttl > MAX_LEASE_MS, `${key}: ${ttl}`);
              }
              assert.deepEqual(values.sort(), [...holders].sort());
              for (const [i, key] of keys.entries()) {
                const at = key.slice(`${PREFIX}${JOB}:`.length);
                assert.ok(
                  aside.some((q) =>
                    q.startsWith(`${PREFIX}${JOB}:quarantine:${at}:`)
                  ),
                  `occurrence ${i} set aside under its instant: ${aside}`,
                );
                assert.match(await redis("GET", key), /^done:/, "ended");
              }
              assert.deepEqual(await other.inFlight.list(JOB), []);
            } finally {
              await other.close();
            }
          }),
      });
    }
  }
}

/** Runs the job under fake time; answers the events it sent. */
async function runJob(options: {
  url: string;
  leased: boolean;
  delivery: Delivery;
  ran: Ran[];
}): Promise<SchedulerEvent[]> {
  const { url, leased, delivery, ran } = options;
  return await withFakeClock(T0, async (clock) => {
    const store: StateStore & { close?: () => Promise<void> } = leased
      ? await ValkeyStateStore.connect(url)
      : new InMemoryStateStore();
    const guard = await ValkeyExecutionGuard.connect(url, LEASE);
    try {
      const scheduler = Scheduler.withExecutionGuard({}, store, guard);
      const events = recordEvents(scheduler);
      const job = Job.withoutDeps(
        JOB,
        Schedule.atTimes(TIMES.map((at) => new Date(at))),
        Task.fromSync(({ run }) =>
          void ran.push({
            at: run.scheduledAt.getTime(),
            replayed: run.replayed === true,
          })
        ),
      ).withDelivery(delivery);
      // Bounded: a run() that waits for ever fails instead of hanging.
      const report = await driveIo(
        clock,
        scheduler.run(job),
        () =>
          `ran ${JSON.stringify(ran)}, events ${
            JSON.stringify(events.map((e) => e.type))
          }`,
        1_000,
      );
      assert.equal(report.stopReason, "terminal");
      return events;
    } finally {
      await guard.close();
      await store.close?.();
    }
  });
}

/** What ran and what was reported, per delivery. */
function assertOutcome(options: {
  delivery: Delivery;
  damage: string;
  ran: Ran[];
  events: SchedulerEvent[];
  keys: string[];
}): void {
  const { delivery, damage, ran, events, keys } = options;
  const seen = JSON.stringify(events.map((e) => e.type));
  // The record's key, found by the reclaim: reported as ledger damage.
  const damaged = events.filter((e) =>
    e.type === "execution-guard-data-damaged"
  );
  assert.equal(damaged.length, 1, seen);
  // The plain key, found by the grant: reported as a failed acquire, and
  // the grant asked again is granted.
  const failed = events.filter((e) =>
    e.type === "execution-guard-acquire-failed"
  );
  assert.equal(failed.length, 1, seen);
  for (const [i, event] of [damaged[0], failed[0]].entries()) {
    assert.ok("error" in event);
    const message = String(event.error);
    assert.ok(message.includes(keys[i]), message);
    assert.match(
      message,
      damage.startsWith("no expiry")
        ? /damaged lease: .* with no expiry, where every grant sets one within the longest lease/
        : /damaged lease: .* with an expiry \d+ ms away, where every grant sets one within the longest lease/,
    );
    assert.match(message, /set aside at .*:quarantine:/);
  }
  const skipped = events.flatMap((e) =>
    e.type === "run-skipped" ? [`${e.reason} ${e.scheduledAt.getTime()}`] : []
  );
  if (delivery === "at-least-once") {
    assert.deepEqual(ran, [
      { at: TIMES[0], replayed: true },
      { at: TIMES[1], replayed: false },
    ]);
    assert.equal(events.filter((e) => e.type === "run-reclaimed").length, 1);
    assert.deepEqual(skipped, []);
  } else {
    assert.deepEqual(ran, [{ at: TIMES[1], replayed: false }]);
    assert.deepEqual(skipped, [`lost ${TIMES[0]}`]);
  }
}
