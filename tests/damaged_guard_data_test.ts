/**
 * Damaged guard data never stops a job (docs/recovery.md), on Deno KV and
 * on Valkey: a corrupt fencing counter, a lease key of the wrong type, an
 * undecodable and an orphaned in-flight record each give an
 * `ExecutionGuardError` kind `data` naming the key and the quarantine key
 * its value moved to; the next call goes through; and a job meeting all of
 * them runs every occurrence with the damage reported as events.
 */
import assert from "node:assert/strict";
import {
  DenoKvExecutionGuard,
  type ExecutionGuard,
  type ExecutionGuardAcquire,
  ExecutionGuardError,
  type ExecutionLease,
  type InFlightLedger,
  InMemoryStateStore,
  Job,
  Schedule,
  Scheduler,
  type SchedulerEvent,
  Task,
} from "../mod.ts";
import { ValkeyExecutionGuard } from "../src/valkey/mod.ts";
import { closeClient, connectClient } from "../src/valkey/_client.ts";
import { openClient } from "../src/valkey/_open_client.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";

const LEASE = { ttlMs: 2_000, renewIntervalMs: 500 };
const T = Date.UTC(2026, 3, 3, 1, 2, 3);
const VALKEY_PREFIX = "scheduler:valkey:execution-lease:";
const valkey = await hasValkeyServer();

/** A backend's guard and the ways to damage its data. */
interface Damager {
  readonly name: string;
  readonly guard: ExecutionGuard & { inFlight: InFlightLedger };
  corruptCounter(jobId: string): Promise<void>;
  plantUndecodable(jobId: string, at: number): Promise<void>;
  /** The occurrence's lease becomes another holder's done marker. */
  markDoneByAnother(jobId: string, at: number): Promise<void>;
  /** The quarantined values, as text. */
  quarantined(jobId: string): Promise<string[]>;
}

async function withKv(body: (damager: Damager) => Promise<void>) {
  const kv = await Deno.openKv(":memory:");
  const prefix = ["scheduler", "execution-lease"];
  try {
    await body({
      name: "Deno KV",
      guard: new DenoKvExecutionGuard(kv, LEASE),
      corruptCounter: async (jobId) =>
        void await kv.set([...prefix, "fence", jobId], "seven"),
      plantUndecodable: async (jobId, at) =>
        void await kv.set([...prefix, "in-flight", jobId, at], { holder: 42 }),
      markDoneByAnother: async (jobId, at) =>
        void await kv.set([...prefix, "lease", jobId, at], {
          token: "another",
          fencingToken: 1n,
          status: "done",
          deadline: Date.now() + 60_000,
        }),
      quarantined: async (jobId) => {
        const values: string[] = [];
        for await (
          const entry of kv.list({ prefix: [...prefix, "quarantine"] })
        ) {
          if (entry.key.includes(jobId)) {
            values.push(
              JSON.stringify(
                entry.value,
                (_, v) => typeof v === "bigint" ? String(v) : v,
              ),
            );
          }
        }
        return values;
      },
    });
  } finally {
    kv.close();
  }
}

async function withValkey(body: (damager: Damager) => Promise<void>) {
  await withValkeyServer(async (server) => {
    const guard = await ValkeyExecutionGuard.connect(server.url, LEASE);
    const raw = openClient(server.url, "test").client;
    await connectClient(raw);
    const field = (at: number) =>
      new Date(at).toISOString().replace(
        /\.(\d{3})Z$/,
        ".$1000000Z",
      );
    try {
      await body({
        name: "Valkey",
        guard,
        corruptCounter: async (jobId) => {
          // A hash where the counter should be: INCR fails WRONGTYPE.
          await raw.del(`${VALKEY_PREFIX}${jobId}:fencing-token`);
          await raw.hset(`${VALKEY_PREFIX}${jobId}:fencing-token`, "x", "1");
        },
        plantUndecodable: async (jobId, at) =>
          void await raw.hset(
            `${VALKEY_PREFIX}${jobId}:in-flight`,
            field(at),
            "{not json",
          ),
        markDoneByAnother: async (jobId, at) =>
          void await raw.set(
            `${VALKEY_PREFIX}${jobId}:${field(at)}`,
            "done:another",
            "PX",
            60_000,
          ),
        quarantined: async (jobId) => {
          const keys = await raw.keys(`${VALKEY_PREFIX}${jobId}:quarantine:*`);
          const values: string[] = [];
          for (const key of keys.sort()) {
            const type = await raw.type(key);
            if (type === "string") values.push((await raw.get(key))!);
            else values.push(JSON.stringify(await raw.hgetall(key)));
          }
          return values;
        },
      });
    } finally {
      await closeClient(raw);
      await guard.close();
    }
  });
}

function acquired(answer: ExecutionGuardAcquire): ExecutionLease {
  assert.equal(answer.kind, "acquired", "expected a grant");
  assert.ok(answer.kind === "acquired");
  return answer.lease;
}

async function dataError(
  promise: Promise<unknown>,
  ...includes: string[]
): Promise<string> {
  const error = await promise.then(() => undefined, (error) => error);
  assert.ok(error instanceof ExecutionGuardError, `got ${error}`);
  assert.equal(error.kind, "data");
  for (const text of includes) {
    assert.ok(error.message.includes(text), `${error.message} has ${text}`);
  }
  return error.message;
}

const slot = (jobId: string, at: number, triggerCount = 1) => ({
  jobId,
  scheduledAt: new Date(at),
  triggerCount,
  catchUp: false,
});

const backends: [
  string,
  (body: (d: Damager) => Promise<void>) => Promise<void>,
  boolean,
][] = [
  ["Deno KV", withKv, false],
  ["Valkey", withValkey, !valkey],
];

for (const [name, withBackend, ignore] of backends) {
  Deno.test({
    name:
      `${name}: a corrupt fencing counter is a data error naming it and its quarantine key; the next grant's token is above every earlier one`,
    ignore,
    fn: () =>
      withBackend(async ({ guard, corruptCounter, quarantined }) => {
        const first = acquired(await guard.inFlight.acquire(slot("c", T)));
        await corruptCounter("c");
        const grants = [
          (at: ReturnType<typeof slot>) => guard.inFlight.acquire(at),
          (at: ReturnType<typeof slot>) => guard.acquire(at),
        ];
        for (const [i, grant] of grants.entries()) {
          const message = await dataError(
            grant(slot("c", T + 1 + i)),
            "fencing",
            "quarantine",
          );
          assert.match(message, /"c"|:c:/);
          const next = acquired(
            await grant(slot("c", T + 1 + i)),
          );
          assert.ok(next.fencingToken! > first.fencingToken!);
          await corruptCounter("c");
          await guard.release(next);
        }
        assert.equal((await quarantined("c")).length, 2, "both kept aside");
      }),
  });

  Deno.test({
    name:
      `${name}: an undecodable in-flight record is a data error naming it and its quarantine; the next list has the good records`,
    ignore,
    fn: () =>
      withBackend(async ({ guard, plantUndecodable, quarantined }) => {
        const good = acquired(await guard.inFlight.acquire(slot("u", T)));
        await plantUndecodable("u", T + 1_000);
        await dataError(guard.inFlight.list("u"), "in-flight", "quarantine");
        const left = await guard.inFlight.list("u");
        assert.deepEqual(left.map((record) => record.holder), [good.token]);
        assert.equal((await quarantined("u")).length, 1);
      }),
  });

  Deno.test({
    name:
      `${name}: an orphaned in-flight record (its occurrence completed by another holder) is set aside at reclaim, reported as data`,
    ignore,
    fn: () =>
      withBackend(async ({ guard, markDoneByAnother, quarantined }) => {
        acquired(await guard.inFlight.acquire(slot("o", T)));
        await markDoneByAnother("o", T);
        const [record] = await guard.inFlight.list("o");
        assert.equal(record.remainingMs, 0, "not alive: up for reclaim");
        await dataError(
          guard.inFlight.reclaim(record),
          "orphaned",
          "quarantine",
        );
        assert.deepEqual(await guard.inFlight.list("o"), []);
        assert.equal((await quarantined("o")).length, 1);
      }),
  });

  Deno.test({
    name:
      `${name}: an at-least-once job meeting a corrupt counter, an undecodable and an orphaned record runs every occurrence; each damage is an event naming its key`,
    ignore,
    fn: () =>
      withBackend(async (damager) => {
        const { guard } = damager;
        const jobId = "whole";
        acquired(await guard.inFlight.acquire(slot(jobId, T)));
        await damager.markDoneByAnother(jobId, T);
        await damager.plantUndecodable(jobId, T + 1_000);
        await damager.corruptCounter(jobId);
        const start = Date.now();
        const instants = [start + 100, start + 200, start + 300];
        const ran: number[] = [];
        const scheduler = Scheduler.withExecutionGuard(
          {},
          new InMemoryStateStore(),
          guard,
        );
        const events: SchedulerEvent[] = [];
        for (
          const type of [
            "execution-guard-acquire-failed",
            "execution-guard-data-damaged",
          ] as const
        ) {
          scheduler.addEventListener(type, ({ detail }) => events.push(detail));
        }
        const report = await scheduler.run(
          Job.withoutDeps(
            jobId,
            Schedule.atTimes(instants),
            Task.fromSync(({ run }) =>
              void ran.push(run.scheduledAt.getTime())
            ),
          ).withDelivery("at-least-once"),
        );
        assert.equal(report.stopReason, "terminal");
        assert.deepEqual(ran, instants, "every occurrence ran");
        const errors = events.map((event) =>
          "error" in event ? String(event.error) : ""
        );
        assert.ok(
          errors.some((error) => /orphaned/.test(error)),
          errors.join("\n"),
        );
        assert.ok(errors.some((error) => /decode|corrupt/.test(error)));
        assert.ok(errors.some((error) => /fencing/.test(error)));
        assert.ok(errors.every((error) => /quarantine/.test(error)));
        assert.deepEqual(await guard.inFlight.list(jobId), []);
      }),
  });
}

Deno.test({
  name:
    "Valkey: a counter out of range or holding text, and a lease key of the wrong type, are set aside under quarantine keys; the next grant goes through",
  ignore: !valkey,
  fn: () =>
    withValkeyServer(async (server) => {
      const raw = openClient(server.url, "test").client;
      await connectClient(raw);
      const fresh = () => ValkeyExecutionGuard.connect(server.url, LEASE);
      const counter = `${VALKEY_PREFIX}v:fencing-token`;
      try {
        for (const garbage of ["99999999999999999999", "seven", "-3"]) {
          await raw.set(counter, garbage);
          // A fresh guard: no floor of its own to raise the counter to.
          const guard = await fresh();
          try {
            const message = await dataError(
              guard.acquire({ jobId: "v", scheduledAt: new Date(T) }),
              counter,
              `${VALKEY_PREFIX}v:quarantine:fencing-token:`,
            );
            assert.ok(message.includes("damaged"), message);
            const lease = acquired(
              await guard.acquire({ jobId: "v", scheduledAt: new Date(T) }),
            );
            await raw.del(lease.leaseKey);
          } finally {
            await guard.close();
          }
        }
        const guard = await fresh();
        try {
          const at = { jobId: "v", scheduledAt: new Date(T + 1) };
          const leaseKey = guard.leaseKey("v", at.scheduledAt);
          await raw.hset(leaseKey, "not", "a lease");
          await dataError(guard.acquire(at), leaseKey, "quarantine");
          acquired(await guard.acquire(at));
        } finally {
          await guard.close();
        }
        const kept = await raw.keys(`${VALKEY_PREFIX}v:quarantine:*`);
        assert.equal(kept.length, 4, kept.join(", "));
      } finally {
        await closeClient(raw);
      }
    }),
});
