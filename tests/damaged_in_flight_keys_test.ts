/**
 * An in-flight record that does not match its key (docs/recovery.md,
 * "Damaged guard data"): its value is for another instant (hand-edited,
 * copied), or, on Deno KV, its key has a string instant or an extra part.
 * A reclaim looks a record up by the instant it holds, so such a record
 * was never taken over: an at-least-once `run()` waited for it for ever,
 * listing the ledger about twice a second, and an at-most-once one never
 * reported it. It is set aside like any undecodable record, reported, and
 * `run()` ends.
 */
import assert from "node:assert/strict";
import {
  DenoKvExecutionGuard,
  DenoKvStateStore,
  InMemoryStateStore,
  Job,
  Schedule,
  Scheduler,
  type SchedulerEvent,
  Task,
} from "../mod.ts";
import { readDenoKvStatus } from "../src/status/mod.ts";
import { describeKvKey } from "../src/deno_kv/_kv_errors.ts";
import {
  acquired,
  backends,
  dataError,
  LEASE,
  slot,
  T,
  valkey,
  withValkey,
} from "./_damagers.ts";
import { drive, KvIo, trackKv } from "./_kv_helpers.ts";
import { trackLists } from "./_list_tracking.ts";
import { withFakeClock } from "./_fake_time.ts";
import { T0 } from "./_engine_helpers.ts";

/** Whether `text` names `key` (messages may space a key's parts or not). */
function names(text: string, key: string): boolean {
  return text.replaceAll(", ", ",").includes(key.replaceAll(", ", ","));
}

for (const [name, withBackend, ignore] of backends) {
  Deno.test({
    name:
      `${name}: an in-flight record holding another instant than its key's is a data error naming it and its quarantine; the next list has the good records`,
    ignore,
    fn: () =>
      withBackend(async (damager) => {
        const { guard, quarantined } = damager;
        const good = acquired(await guard.inFlight.acquire(slot("m", T)));
        await damager.plantMismatched("m", T + 1_000, T + 1_001);
        const message = await dataError(guard.inFlight.list("m"), "quarantine");
        assert.ok(
          names(message, damager.names.record("m", T + 1_000)),
          message,
        );
        const left = await guard.inFlight.list("m");
        assert.deepEqual(left.map((record) => record.holder), [good.token]);
        assert.equal((await quarantined("m")).length, 1);
      }),
  });
}

const PREFIX = ["scheduler", "execution-lease"];
const JOB = "keys";

/** A dead holder's record for `scheduledAt`, as a grant would write it. */
function record(scheduledAt: number) {
  return {
    jobId: JOB,
    scheduledAt,
    triggerCount: 1,
    catchUp: false,
    fencingToken: 1n,
    holder: "dead-holder",
    leaseDeadline: scheduledAt + 1_000,
  };
}

/** Damaged record keys, each with the instant its value holds. */
const DAMAGED: [Deno.KvKey, number][] = [
  [[...PREFIX, "in-flight", JOB, T0 - 60_000], T0 - 59_999],
  [[...PREFIX, "in-flight", JOB, "x"], T0 - 40_000],
  [[...PREFIX, "in-flight", JOB, T0 - 30_000, "extra"], T0 - 30_000],
];

async function keysUnder(kv: Deno.Kv, prefix: Deno.KvKey) {
  const found: Deno.KvEntry<unknown>[] = [];
  for await (const entry of kv.list({ prefix })) found.push(entry);
  return found;
}

for (const delivery of ["at-least-once", "at-most-once"] as const) {
  for (const leased of [false, true]) {
    Deno.test(
      `Deno KV, ${delivery}, ${
        leased ? "grants through the state store" : "a separate store"
      }: records under another instant, a string instant and an extra key part are set aside and reported in one event; run() ends after an occurrence six hours on`,
      () =>
        withFakeClock(T0, async (clock) => {
          const raw = await Deno.openKv(":memory:");
          try {
            const io = new KvIo();
            let ledgerLooks = 0;
            const kv = trackLists(trackKv(raw, io), {
              io,
              listed: (selector) => {
                const prefix = "prefix" in selector ? selector.prefix : [];
                if (prefix[PREFIX.length] === "in-flight") ledgerLooks++;
              },
            });
            for (const [key, holds] of DAMAGED) {
              await raw.set(key, record(holds));
            }
            const guard = new DenoKvExecutionGuard(kv, LEASE);
            const store = leased
              ? new DenoKvStateStore(kv)
              : new InMemoryStateStore();
            const scheduler = Scheduler.withExecutionGuard({}, store, guard);
            const events: SchedulerEvent[] = [];
            for (
              const type of [
                "execution-guard-data-damaged",
                "run-reclaimed",
                "run-skipped",
              ] as const
            ) {
              scheduler.addEventListener(type, ({ detail }) => {
                events.push(detail);
              });
            }
            const instants = [T0 + 1_000, T0 + 6 * 3_600_000];
            const ran: number[] = [];
            const job = Job.withoutDeps(
              JOB,
              Schedule.atTimes(instants),
              Task.fromSync(({ run }) =>
                void ran.push(run.scheduledAt.getTime())
              ),
            ).withDelivery(delivery);
            // Without the key check, run() never ends: a bounded drive fails.
            const report = await drive(clock, scheduler.run(job), io, 400);
            assert.equal(report.stopReason, "terminal");
            assert.deepEqual(ran, instants, "both occurrences ran");
            assert.equal(events.length, 1, JSON.stringify(events));
            const [event] = events;
            assert.equal(event.type, "execution-guard-data-damaged");
            assert.ok("error" in event);
            const error = String(event.error);
            for (const [key] of DAMAGED) {
              assert.ok(names(error, describeKvKey(key)), error);
            }
            assert.match(error, /does not match its key/);
            assert.match(error, /malformed key/);
            assert.equal(report.state.lastError, null, "later runs succeeded");
            assert.deepEqual(
              await keysUnder(raw, [...PREFIX, "in-flight", JOB]),
              [],
              "nothing left in the ledger",
            );
            // Each under its own key after the prefix, kept as it was.
            const aside = await keysUnder(raw, [...PREFIX, "quarantine"]);
            const text = (key: Deno.KvKey, value: unknown) =>
              `${describeKvKey(key)} ${
                JSON.stringify(
                  value,
                  (_, v) => typeof v === "bigint" ? `${v}n` : v,
                )
              }`;
            assert.deepEqual(
              aside.map(({ key, value }) => text(key.slice(0, -1), value))
                .sort(),
              DAMAGED.map(([key, holds]) =>
                text([...PREFIX, "quarantine", ...key.slice(2)], record(holds))
              ).sort(),
            );
            // A few looks (run() start, again at once, the occurrences),
            // not one per recheck timer over six hours.
            assert.ok(ledgerLooks <= 8, `${ledgerLooks} looks at the ledger`);
            // The status view reads them as the guard does.
            for (const [key, holds] of DAMAGED) {
              await raw.set(key, record(holds));
            }
            const status = await readDenoKvStatus(raw);
            assert.deepEqual(
              status.damaged.filter((entry) =>
                /"in-flight", "keys"/.test(entry.key) &&
                !/quarantine/.test(entry.key)
              )
                .map((entry) => entry.key).sort(),
              DAMAGED.map(([key]) => describeKvKey(key)).sort(),
            );
          } finally {
            raw.close();
          }
        }),
    );
  }
}

Deno.test({
  name:
    "Valkey, both deliveries: a record whose instant is not its field's is set aside and reported; run() ends",
  ignore: !valkey,
  fn: async () => {
    for (const delivery of ["at-least-once", "at-most-once"] as const) {
      await withValkey(async (damager) => {
        const { guard } = damager;
        await damager.plantMismatched(JOB, T, T + 1);
        const scheduler = Scheduler.withExecutionGuard(
          {},
          new InMemoryStateStore(),
          guard,
        );
        const damaged: string[] = [];
        scheduler.addEventListener(
          "execution-guard-data-damaged",
          ({ detail }) => void damaged.push(detail.error),
        );
        const start = Date.now();
        const instants = [start + 100, start + 200];
        const ran: number[] = [];
        const running = scheduler.run(
          Job.withoutDeps(
            JOB,
            Schedule.atTimes(instants),
            Task.fromSync(({ run }) =>
              void ran.push(run.scheduledAt.getTime())
            ),
          )
            .withDelivery(delivery)
            // Real time: a pause on a loaded machine must not merge the two.
            .withMissedRunPolicy("replay-all"),
        );
        // Real time on a real server: bounded, so that a wait for ever
        // fails instead of hanging (it ends within a second when right).
        let hung = false;
        const bound = setTimeout(() => {
          hung = true;
          scheduler.handle().cancel();
        }, 20_000);
        const report = await running.finally(() => clearTimeout(bound));
        assert.equal(hung, false, `${delivery}: run() waited for ever`);
        assert.equal(report.stopReason, "terminal");
        assert.deepEqual(ran, instants);
        assert.equal(damaged.length, 1, damaged.join(" | "));
        assert.ok(
          names(damaged[0], damager.names.record(JOB, T)),
          damaged[0],
        );
        assert.match(damaged[0], /quarantine/);
        assert.deepEqual(await guard.inFlight.list(JOB), []);
        assert.equal((await damager.quarantined(JOB)).length, 1);
      });
    }
  },
});
