/**
 * The Valkey state store and execution guard against a real `valkey-server`
 * that each test starts on its own loopback port: the Rust crate's keys and
 * values (with the legacy key fallback), corrupt values, leases with done
 * markers and fencing tokens, resilient start-up, two schedulers sharing a
 * server, error classes and clean closing.
 *
 * Real time throughout (Valkey I/O is real); every wait is short. Without
 * `valkey-server` on the machine the tests are registered as ignored.
 */
import assert from "node:assert/strict";
import { Valkey } from "iovalkey";
import {
  type ExecutionGuardAcquire,
  ExecutionGuardError,
  InMemoryStateStore,
  InvalidJobError,
  Job,
  type JobState,
  type LeaseConfig,
  Schedule,
  Scheduler,
  type SchedulerEvent,
  StoreError,
  type StoreEventDetail,
  Task,
} from "../mod.ts";
import { ValkeyExecutionGuard, ValkeyStateStore } from "../src/valkey/mod.ts";
import { recordEvents } from "./_engine_helpers.ts";
import { assertGuardError, assertStoreError } from "./_assert_errors.ts";
import {
  hasValkeyServer,
  startValkeyServer,
  type ValkeyServer,
  withValkeyServer,
} from "./_valkey_server.ts";

const available = await hasValkeyServer();
if (!available) {
  console.warn(
    "valkey_test.ts: valkey-server not found (set VALKEY_SERVER or install it): the Valkey tests are ignored",
  );
}

/** Registers a test that needs `valkey-server`. */
function valkeyTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: `Valkey ${name}`, ignore: !available, fn });
}

type RawClient = InstanceType<typeof Valkey>;

const LEASE: LeaseConfig = { ttlMs: 5_000, renewIntervalMs: 1_000 };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A loopback port nobody listens on. */
function deadPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A plain iovalkey client for raw reads and writes, without reconnects. */
async function rawClient(server: ValkeyServer): Promise<RawClient> {
  const client = new Valkey(server.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on("error", () => {});
  await client.connect();
  return client;
}

/** Ends a raw client and checks that it really ended. */
async function closeRaw(client: RawClient): Promise<void> {
  if (client.status !== "end") {
    const ended = new Promise<void>((resolve) => client.once("end", resolve));
    if (client.status === "ready") {
      await client.quit().catch(() => client.disconnect());
    } else {
      client.disconnect();
    }
    await Promise.race([ended, sleep(1_000)]);
  }
  assert.equal(client.status, "end", "the raw client should be closed");
}

/** Runs `body` with a fresh server and a raw client, both always closed. */
async function withServerAndRaw(
  body: (server: ValkeyServer, raw: RawClient) => Promise<void>,
): Promise<void> {
  await withValkeyServer(async (server) => {
    const raw = await rawClient(server);
    try {
      await body(server, raw);
    } finally {
      await closeRaw(raw);
    }
  });
}

/** Times `body` in milliseconds. */
async function timed<T>(body: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await body();
  return [result, performance.now() - started];
}

/** chrono's RFC 3339 (AutoSi, `Z`) for millisecond instants. */
function rfc3339(date: Date | null): string | null {
  if (date === null) return null;
  const iso = date.toISOString();
  return iso.endsWith(".000Z") ? `${iso.slice(0, 19)}Z` : iso;
}

/**
 * The exact JSON text serde writes for a state, plus the definition
 * fingerprint the scheduler adds to the states it saves (an unknown field
 * to serde, which ignores it).
 */
function rustJson(state: JobState): string {
  return `{"job_id":${
    JSON.stringify(state.jobId)
  },"trigger_count":${state.triggerCount},"last_run_at":${
    JSON.stringify(rfc3339(state.lastRunAt))
  },"last_success_at":${
    JSON.stringify(rfc3339(state.lastSuccessAt))
  },"next_run_at":${JSON.stringify(rfc3339(state.nextRunAt))},"last_error":${
    JSON.stringify(state.lastError)
  }${
    state.definition === undefined
      ? ""
      : `,"definition_fingerprint":${JSON.stringify(state.definition)}`
  }}`;
}

function acquired(answer: ExecutionGuardAcquire) {
  assert.equal(answer.kind, "acquired", "expected the slot to be acquired");
  assert.ok(answer.kind === "acquired");
  assert.equal(typeof answer.lease.fencingToken, "bigint");
  return answer.lease;
}

/** Connections the server lists, other than `raw`'s own. */
async function otherClients(raw: RawClient): Promise<number> {
  const list = await raw.client("LIST") as string;
  const lines = list.split("\n").filter((line) => line.trim() !== "");
  return lines.length - 1;
}

/** Polls `condition` every 10 ms for up to `ms`. */
async function eventually(
  condition: () => Promise<boolean> | boolean,
  ms: number,
): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(10);
  }
}

const T = Date.UTC(2026, 3, 3, 1, 2, 3); // 2026-04-03T01:02:03Z

// ---------------------------------------------------------------------------
// The test server itself
// ---------------------------------------------------------------------------

valkeyTest(
  "test server: stop is idempotent and restart keeps the port",
  async () => {
    const server = await startValkeyServer();
    try {
      assert.equal(server.url, `redis://127.0.0.1:${server.port}`);
      const firstPid = server.pid;
      await Promise.all([server.stop(), server.stop()]);
      await server.stop();
      await assert.rejects(
        Deno.connect({ hostname: "127.0.0.1", port: server.port }),
      );
      await server.restart();
      assert.notEqual(server.pid, firstPid);
      const raw = await rawClient(server);
      try {
        assert.equal(await raw.ping(), "PONG");
      } finally {
        await closeRaw(raw);
      }
    } finally {
      await server.stop();
    }
  },
);

// ---------------------------------------------------------------------------
// State store: keys and values
// ---------------------------------------------------------------------------

valkeyTest(
  "store round-trips a full state under a custom prefix as the Rust JSON",
  async () => {
    await withServerAndRaw(async (server, raw) => {
      const store = await ValkeyStateStore.connect(server.url, {
        keyPrefix: "it:state:",
      });
      try {
        const state: JobState = {
          jobId: "round-trip",
          triggerCount: 3,
          lastRunAt: new Date(T),
          lastSuccessAt: new Date(T + 1_000),
          nextRunAt: new Date(T + 10_456),
          lastError: "integration",
        };
        await store.save(state);
        assert.equal(
          await raw.get("it:state:round-trip"),
          '{"job_id":"round-trip","trigger_count":3,' +
            '"last_run_at":"2026-04-03T01:02:03Z",' +
            '"last_success_at":"2026-04-03T01:02:04Z",' +
            '"next_run_at":"2026-04-03T01:02:13.456Z",' +
            '"last_error":"integration"}',
        );
        assert.equal(
          await raw.exists("scheduler:valkey:job-state:round-trip"),
          0,
          "a custom prefix replaces the default one",
        );
        const loaded = await store.load("round-trip");
        assert.deepEqual(loaded, state);
        // Copies: changing the loaded state does not change the stored one.
        loaded!.triggerCount = 99;
        loaded!.nextRunAt!.setTime(0);
        assert.deepEqual(await store.load("round-trip"), state);

        // A state with every nullable field null.
        const fresh: JobState = {
          jobId: "fresh",
          triggerCount: 0,
          lastRunAt: null,
          lastSuccessAt: null,
          nextRunAt: null,
          lastError: null,
        };
        await store.save(fresh);
        assert.equal(
          await raw.get("it:state:fresh"),
          '{"job_id":"fresh","trigger_count":0,"last_run_at":null,' +
            '"last_success_at":null,"next_run_at":null,"last_error":null}',
        );
        assert.deepEqual(await store.load("fresh"), fresh);
        assert.equal(await store.load("never-saved"), undefined);

        // A value a Rust service wrote (nine fractional digits) reads back.
        await raw.set(
          "it:state:from-rust",
          '{"job_id":"from-rust","trigger_count":7,' +
            '"last_run_at":"2026-04-03T01:02:03.123456789Z",' +
            '"last_success_at":null,"next_run_at":"2026-04-03T01:03:00Z",' +
            '"last_error":null}',
        );
        assert.deepEqual(await store.load("from-rust"), {
          jobId: "from-rust",
          triggerCount: 7,
          lastRunAt: new Date(T + 123),
          lastSuccessAt: null,
          nextRunAt: new Date(T + 57_000),
          lastError: null,
        });

        await store.delete("round-trip");
        assert.equal(await raw.exists("it:state:round-trip"), 0);
        assert.equal(await store.load("round-trip"), undefined);
      } finally {
        await store.close();
      }
    });
  },
);

valkeyTest(
  "store default key, legacy fallback without migration, delete of both keys",
  async () => {
    await withServerAndRaw(async (server, raw) => {
      const store = await ValkeyStateStore.connect(server.url);
      const custom = await ValkeyStateStore.connect(server.url, {
        keyPrefix: "custom:",
      });
      try {
        const state: JobState = {
          jobId: "job-a",
          triggerCount: 2,
          lastRunAt: new Date(T),
          lastSuccessAt: new Date(T + 5),
          nextRunAt: new Date(T + 60_000),
          lastError: null,
        };
        await store.save(state);
        assert.equal(
          await raw.get("scheduler:valkey:job-state:job-a"),
          rustJson(state),
        );
        assert.equal(await raw.exists("scheduler:job-state:job-a"), 0);

        // Only the legacy key exists: it is read, and nothing is migrated.
        const legacy: JobState = { ...state, jobId: "legacy", triggerCount: 5 };
        await raw.set("scheduler:job-state:legacy", rustJson(legacy));
        assert.deepEqual(await store.load("legacy"), legacy);
        assert.equal(
          await raw.exists("scheduler:valkey:job-state:legacy"),
          0,
          "a read must not migrate the legacy key",
        );
        assert.equal(
          await raw.get("scheduler:job-state:legacy"),
          rustJson(legacy),
        );

        // With a custom prefix there is no legacy fallback.
        assert.equal(await custom.load("legacy"), undefined);
        await custom.delete("legacy");
        assert.equal(
          await raw.exists("scheduler:job-state:legacy"),
          1,
          "a custom-prefix delete leaves the legacy key alone",
        );

        // The next save writes the new key; it then wins over the legacy one.
        const next: JobState = { ...legacy, triggerCount: 6 };
        await store.save(next);
        assert.equal(
          await raw.get("scheduler:valkey:job-state:legacy"),
          rustJson(next),
        );
        assert.equal(
          await raw.get("scheduler:job-state:legacy"),
          rustJson(legacy),
          "the legacy key lingers",
        );
        assert.deepEqual(await store.load("legacy"), next);

        // delete removes both keys.
        await store.delete("legacy");
        assert.equal(await raw.exists("scheduler:valkey:job-state:legacy"), 0);
        assert.equal(await raw.exists("scheduler:job-state:legacy"), 0);
        assert.equal(await store.load("legacy"), undefined);

        // ... also when only the legacy key exists.
        await raw.set("scheduler:job-state:only-legacy", rustJson(legacy));
        await store.delete("only-legacy");
        assert.equal(await raw.exists("scheduler:job-state:only-legacy"), 0);
      } finally {
        await Promise.all([store.close(), custom.close()]);
      }
    });
  },
);

valkeyTest(
  "store values that do not decode are kind data, name the job and stay untouched",
  async () => {
    await withServerAndRaw(async (server, raw) => {
      const store = await ValkeyStateStore.connect(server.url, {
        keyPrefix: "bad:",
      });
      try {
        const bad: Record<string, string> = {
          "not-json": "not json at all",
          "wrong-type":
            '{"job_id":"wrong-type","trigger_count":"three","last_run_at":null,"last_success_at":null,"next_run_at":null,"last_error":null}',
          "bad-date":
            '{"job_id":"bad-date","trigger_count":1,"last_run_at":"yesterday","last_success_at":null,"next_run_at":null,"last_error":null}',
          "impossible-date":
            '{"job_id":"impossible-date","trigger_count":1,"last_run_at":null,"last_success_at":null,"next_run_at":"2026-02-30T00:00:00Z","last_error":null}',
        };
        for (const [jobId, value] of Object.entries(bad)) {
          await raw.set(`bad:${jobId}`, value);
          const error = await assertStoreError(store.load(jobId), {
            kind: "data",
          });
          assert.equal(error.operation, "load");
          assert.ok(
            error.message.includes(jobId),
            `${JSON.stringify(error.message)} should name ${jobId}`,
          );
          assert.equal(await raw.get(`bad:${jobId}`), value, "left untouched");
        }

        // Through a Scheduler, run() rejects with it and nothing is replaced.
        const scheduler = new Scheduler({}, store);
        const events = recordEvents(scheduler);
        let invocations = 0;
        const job = Job.withoutDeps(
          "not-json",
          Schedule.interval(10),
          Task.fromSync(() => {
            invocations++;
          }),
        ).withMaxRuns(1);
        const error = await assertStoreError(scheduler.run(job), {
          kind: "data",
        });
        assert.ok(error.message.includes("not-json"));
        assert.equal(invocations, 0);
        assert.equal(await raw.get("bad:not-json"), bad["not-json"]);
        const stopped = events.filter((e) => e.type === "scheduler-stopped");
        assert.equal(stopped.length, 1);
        assert.equal(
          (stopped[0] as SchedulerEvent & { reason: string }).reason,
          "failed",
        );
      } finally {
        await store.close();
      }

      // The resilient wrapper never masks it either.
      const resilient = await ValkeyStateStore.resilient(server.url, {
        keyPrefix: "bad:",
      });
      try {
        assert.equal(resilient.degraded, false);
        await assertStoreError(resilient.load("wrong-type"), { kind: "data" });
        assert.equal(resilient.degraded, false);
      } finally {
        await resilient.close();
      }
    });
  },
);

// ---------------------------------------------------------------------------
// State store: connection failures
// ---------------------------------------------------------------------------

valkeyTest(
  "store connect to a port where nothing listens rejects with kind connection, quickly",
  async () => {
    const port = deadPort();
    const [error, ms] = await timed(() =>
      assertStoreError(ValkeyStateStore.connect(`redis://127.0.0.1:${port}`), {
        kind: "connection",
      })
    );
    assert.ok(ms < 5_000, `took ${ms} ms`);
    assert.equal(error.operation, undefined);
    assert.ok(error.message.includes(String(port)), error.message);
    // valkey:// URLs are accepted too.
    await assertStoreError(
      ValkeyStateStore.connect(`valkey://127.0.0.1:${port}`),
      { kind: "connection" },
    );
  },
);

valkeyTest(
  "store operations after the server stopped fail fast with kind connection (retryBudgetMs 0); the client reconnects",
  async () => {
    const server = await startValkeyServer();
    const store = await ValkeyStateStore.connect(server.url, {
      retryBudgetMs: 0,
    });
    try {
      const state: JobState = {
        jobId: "outage",
        triggerCount: 1,
        lastRunAt: null,
        lastSuccessAt: null,
        nextRunAt: new Date(T),
        lastError: null,
      };
      await store.save(state);
      await server.stop();
      const [, ms] = await timed(async () => {
        const load = await assertStoreError(store.load("outage"), {
          kind: "connection",
        });
        assert.equal(load.operation, "load");
        assert.ok(load.message.includes("outage"), load.message);
        const save = await assertStoreError(store.save(state), {
          kind: "connection",
        });
        assert.equal(save.operation, "save");
        const del = await assertStoreError(store.delete("outage"), {
          kind: "connection",
        });
        assert.equal(del.operation, "delete");
      });
      assert.ok(ms < 2_000, `three failing calls took ${ms} ms`);

      // The server comes back (empty: no persistence); the store reconnects
      // in the background without being reopened.
      await server.restart();
      const back = await eventually(async () => {
        try {
          await store.save(state);
          return true;
        } catch (error) {
          assert.ok(error instanceof StoreError && error.kind === "connection");
          return false;
        }
      }, 4_000);
      assert.ok(back, "the store did not reconnect within 4 s");
      assert.deepEqual(await store.load("outage"), state);
    } finally {
      await store.close();
      await server.stop();
    }
  },
);

valkeyTest(
  "resilient() starts degraded when the server is down, runs a job, and recovers with write-back",
  async () => {
    const server = await startValkeyServer();
    await server.stop();
    const [store, ms] = await timed(() =>
      ValkeyStateStore.resilient(server.url, {
        keyPrefix: "res:",
        probeIntervalMs: 100,
      })
    );
    let raw: RawClient | undefined;
    try {
      assert.ok(ms < 3_000, `resilient() took ${ms} ms`);
      assert.equal(store.degraded, true);
      const storeEvents: StoreEventDetail[] = [];
      for (const type of ["store-degraded", "store-recovered"]) {
        store.addEventListener(type, (event) => {
          storeEvents.push((event as CustomEvent<StoreEventDetail>).detail);
        });
      }

      const scheduler = new Scheduler({}, store);
      const events = recordEvents(scheduler);
      let invocations = 0;
      const job = Job.withoutDeps(
        "res-job",
        Schedule.interval(20),
        Task.fromSync(() => {
          invocations++;
        }),
      ).withMaxRuns(3);
      const report = await scheduler.run(job);
      assert.equal(invocations, 3);
      assert.equal(report.stopReason, "terminal");
      assert.equal(report.state.triggerCount, 3);
      assert.equal(report.history.length, 3);
      const degraded = events.filter((e) => e.type === "store-degraded");
      assert.equal(degraded.length, 1, "store-degraded once per outage");
      assert.equal(degraded[0].jobId, "res-job");
      assert.equal(
        (degraded[0] as SchedulerEvent & { operation: string }).operation,
        "load",
      );
      assert.ok(
        (degraded[0] as SchedulerEvent & { error: string }).error.length > 0,
      );
      assert.equal(
        events.filter((e) => e.type === "store-recovered").length,
        0,
      );
      assert.equal(store.degraded, true);

      // The server comes back; after the probe interval a store call recovers.
      await server.restart();
      raw = await rawClient(server);
      assert.equal(await raw.exists("res:res-job"), 0, "nothing written yet");
      await sleep(120);
      const recovered = await eventually(async () => {
        await store.load("res-job");
        return !store.degraded;
      }, 4_000);
      assert.ok(recovered, "the store did not recover within 4 s");
      const recoveredEvents = storeEvents.filter((e) =>
        e.type === "store-recovered"
      );
      assert.equal(recoveredEvents.length, 1);
      assert.equal(recoveredEvents[0].jobId, "res-job");
      // The state written during the outage is now in Valkey.
      assert.equal(await raw.get("res:res-job"), rustJson(report.state));
      assert.deepEqual(await store.load("res-job"), report.state);
    } finally {
      if (raw) await closeRaw(raw);
      await store.close();
      await store.close();
      await server.stop();
    }
  },
);

valkeyTest(
  "state is restored across two schedulers sharing a prefix",
  async () => {
    await withServerAndRaw(async (server, raw) => {
      const first = await ValkeyStateStore.connect(server.url, {
        keyPrefix: "shared:",
      });
      const second = await ValkeyStateStore.connect(server.url, {
        keyPrefix: "shared:",
      });
      try {
        const now = Date.now();
        const schedule = Schedule.atTimes([now + 30, now + 120]);
        let invocations = 0;
        const firstScheduler = new Scheduler({}, first);
        const handle = firstScheduler.handle();
        const firstReport = await firstScheduler.run(
          Job.withoutDeps(
            "restored",
            schedule,
            Task.fromSync(() => {
              invocations++;
              handle.shutdown();
            }),
          ),
        );
        assert.equal(firstReport.stopReason, "shutdown");
        assert.equal(firstReport.history.length, 1);
        assert.equal(firstReport.state.triggerCount, 1);
        assert.equal(firstReport.state.nextRunAt?.getTime(), now + 120);
        assert.equal(
          await raw.get("shared:restored"),
          rustJson(firstReport.state),
        );

        const secondScheduler = new Scheduler({}, second);
        const events = recordEvents(secondScheduler);
        const secondReport = await secondScheduler.run(
          Job.withoutDeps(
            "restored",
            schedule,
            Task.fromSync(() => {
              invocations++;
            }),
          ),
        );
        assert.equal(invocations, 2);
        assert.equal(secondReport.stopReason, "terminal");
        assert.equal(secondReport.history.length, 1);
        assert.equal(secondReport.history[0].scheduledAt.getTime(), now + 120);
        assert.equal(secondReport.state.triggerCount, 2);
        assert.equal(secondReport.state.nextRunAt, null);
        const loaded = events.find((e) => e.type === "state-loaded") as
          | (SchedulerEvent & { source: string })
          | undefined;
        assert.equal(loaded?.source, "restored");
        assert.equal(
          await raw.get("shared:restored"),
          rustJson(secondReport.state),
        );
      } finally {
        await Promise.all([first.close(), second.close()]);
      }
    });
  },
);

valkeyTest(
  "store close() ends the connection, is idempotent, and works while the server is down",
  async () => {
    await withServerAndRaw(async (server, raw) => {
      assert.equal(await otherClients(raw), 0);
      const store = await ValkeyStateStore.connect(server.url);
      await store.load("x");
      assert.equal(await otherClients(raw), 1);
      const [, ms] = await timed(() => store.close());
      assert.ok(ms < 1_000, `close took ${ms} ms`);
      assert.ok(
        await eventually(async () => await otherClients(raw) === 0, 500),
        "the store's connection is still listed after close()",
      );
      await assertStoreError(store.load("x"), { kind: "connection" });
      await store.close(); // twice is fine

      const resilient = await ValkeyStateStore.resilient(server.url);
      assert.equal(await otherClients(raw), 1);
      await resilient.close();
      assert.ok(
        await eventually(async () => await otherClients(raw) === 0, 500),
        "the resilient store's connection is still listed after close()",
      );
      await resilient.close();
    });

    // A store whose server went away.
    const server = await startValkeyServer();
    try {
      const store = await ValkeyStateStore.connect(server.url, {
        retryBudgetMs: 0,
      });
      await server.stop();
      await assertStoreError(store.load("x"), { kind: "connection" });
      const [, ms] = await timed(async () => {
        await store.close();
        await store.close();
      });
      assert.ok(ms < 1_000, `close with the server down took ${ms} ms`);
    } finally {
      await server.stop();
    }
  },
);

// ---------------------------------------------------------------------------
// Execution guard
// ---------------------------------------------------------------------------

/** Runs `body` with a fresh server, a raw client and guards it connects. */
async function withGuards(
  body: (
    connect: (
      lease?: LeaseConfig,
      keyPrefix?: string,
    ) => Promise<ValkeyExecutionGuard>,
    raw: RawClient,
    server: ValkeyServer,
  ) => Promise<void>,
): Promise<void> {
  await withServerAndRaw(async (server, raw) => {
    const guards: ValkeyExecutionGuard[] = [];
    try {
      await body(
        async (lease = LEASE, keyPrefix) => {
          const guard = await ValkeyExecutionGuard.connect(
            server.url,
            lease,
            keyPrefix === undefined ? {} : { keyPrefix },
          );
          guards.push(guard);
          return guard;
        },
        raw,
        server,
      );
    } finally {
      await Promise.all(guards.map((guard) => guard.close()));
    }
  });
}

valkeyTest(
  "guard lease keys are <prefix><jobId>:<RFC 3339 UTC, nine digits>",
  async () => {
    await withGuards(async (connect, raw) => {
      const guard = await connect();
      const lease = acquired(
        await guard.acquire({ jobId: "job-1", scheduledAt: new Date(T) }),
      );
      assert.equal(
        lease.leaseKey,
        "scheduler:valkey:execution-lease:job-1:2026-04-03T01:02:03.000000000Z",
      );
      assert.equal(lease.jobId, "job-1");
      assert.equal(lease.scheduledAt.getTime(), T);
      assert.equal(await raw.exists(lease.leaseKey), 1);
      assert.equal(await raw.get(lease.leaseKey), lease.token);

      const millis = acquired(
        await guard.acquire({ jobId: "job-1", scheduledAt: new Date(T + 123) }),
      );
      assert.equal(
        millis.leaseKey,
        "scheduler:valkey:execution-lease:job-1:2026-04-03T01:02:03.123000000Z",
      );
      assert.equal(await raw.get(millis.leaseKey), millis.token);

      const custom = await connect(LEASE, "app:lease:");
      const prefixed = acquired(
        await custom.acquire({ jobId: "job-1", scheduledAt: new Date(T) }),
      );
      assert.equal(
        prefixed.leaseKey,
        "app:lease:job-1:2026-04-03T01:02:03.000000000Z",
      );
      assert.equal(await raw.get(prefixed.leaseKey), prefixed.token);
    });
  },
);

valkeyTest(
  "guard acquire, contended on the same slot, another occurrence acquires with a higher token",
  async () => {
    await withGuards(async (connect, raw) => {
      const guard = await connect();
      const other = await connect();
      const slot = { jobId: "job-1", scheduledAt: new Date(T) };
      const first = acquired(await guard.acquire(slot));
      assert.deepEqual(await guard.acquire(slot), { kind: "contended" });
      assert.deepEqual(await other.acquire(slot), { kind: "contended" });
      const second = acquired(
        await guard.acquire({
          jobId: "job-1",
          scheduledAt: new Date(T + 1_000),
        }),
      );
      assert.notEqual(second.leaseKey, first.leaseKey);
      assert.notEqual(second.token, first.token);
      assert.ok(second.fencingToken! > first.fencingToken!);
      // Rust test 10: both release fine.
      await guard.release(first);
      await guard.release(second);
      assert.ok((await raw.get(first.leaseKey))?.startsWith("done:"));
      assert.ok((await raw.get(second.leaseKey))?.startsWith("done:"));
    });
  },
);

valkeyTest(
  "guard renew by the holder resets the expiry; a foreign or overwritten token is lost",
  async () => {
    await withGuards(async (connect, raw) => {
      const guard = await connect({ ttlMs: 1_000, renewIntervalMs: 300 });
      assert.equal(guard.renewIntervalMs(), 300);
      const lease = acquired(
        await guard.acquire({ jobId: "renew", scheduledAt: new Date(T) }),
      );
      const initial = await raw.pttl(lease.leaseKey);
      assert.ok(initial > 800 && initial <= 1_000, `PTTL ${initial}`);
      await sleep(200);
      const before = await raw.pttl(lease.leaseKey);
      assert.ok(before > 0 && before < 850, `PTTL ${before} after 200 ms`);
      assert.equal(await guard.renew(lease), "renewed");
      const after = await raw.pttl(lease.leaseKey);
      assert.ok(after > 900 && after <= 1_000, `PTTL ${after} after renew`);

      // A foreign token is lost and does not hurt the holder.
      assert.equal(await guard.renew({ ...lease, token: "not-mine" }), "lost");
      assert.equal(await raw.get(lease.leaseKey), lease.token);
      assert.equal(await guard.renew(lease), "renewed");

      // Rust test 11: the key was overwritten by someone else.
      await raw.set(lease.leaseKey, "other-token", "PX", 5_000);
      assert.equal(await guard.renew(lease), "lost");
      // Rust test 12: release only touches the owner's key.
      await guard.release(lease);
      assert.equal(await raw.get(lease.leaseKey), "other-token");
      const pttl = await raw.pttl(lease.leaseKey);
      assert.ok(pttl > 4_000, `the foreign key's expiry was changed: ${pttl}`);

      // A lease whose key is gone (expired) is lost too, but its run did
      // complete: release still marks the occurrence done, as the KV guard
      // does, so a lagging instance cannot run it again.
      await raw.del(lease.leaseKey);
      assert.equal(await guard.renew(lease), "lost");
      await guard.release(lease);
      assert.equal(await raw.get(lease.leaseKey), `done:${lease.token}`);
    });
  },
);

valkeyTest(
  "guard release leaves a done marker that a Rust SET NX also sees; retention bounds it",
  async () => {
    await withGuards(async (connect, raw) => {
      const guard = await connect();
      const other = await connect();
      const slot = { jobId: "done", scheduledAt: new Date(T) };
      const lease = acquired(await guard.acquire(slot));
      await guard.release(lease);
      const marker = await raw.get(lease.leaseKey);
      assert.ok(marker?.startsWith("done:"), `marker ${marker}`);
      const retention = await raw.pttl(lease.leaseKey);
      assert.ok(
        retention > 3_590_000 && retention <= 3_600_000,
        `default retention is one hour, PTTL ${retention}`,
      );
      assert.deepEqual(await guard.acquire(slot), { kind: "contended" });
      assert.deepEqual(await other.acquire(slot), { kind: "contended" });
      // A Rust instance acquires with SET key token NX PX ttl.
      assert.equal(
        await raw.set(lease.leaseKey, "rust-token", "PX", 1_000, "NX"),
        null,
      );
      // Renewing a released lease is lost; releasing again changes nothing.
      assert.equal(await guard.renew(lease), "lost");
      await guard.release(lease);
      assert.equal(await raw.get(lease.leaseKey), marker);

      // A short retention: acquirable again once the marker expired.
      const short = await connect({
        ttlMs: 1_000,
        renewIntervalMs: 300,
        completedRetentionMs: 150,
      });
      const shortSlot = { jobId: "short", scheduledAt: new Date(T) };
      const shortLease = acquired(await short.acquire(shortSlot));
      await short.release(shortLease);
      assert.ok((await raw.get(shortLease.leaseKey))?.startsWith("done:"));
      const left = await raw.pttl(shortLease.leaseKey);
      assert.ok(left > 0 && left <= 150, `PTTL ${left}`);
      assert.deepEqual(await short.acquire(shortSlot), { kind: "contended" });
      await sleep(200);
      const again = acquired(await short.acquire(shortSlot));
      assert.ok(again.fencingToken! > shortLease.fencingToken!);

      // Retention 0: the key is deleted on release, as the Rust crate does.
      const none = await connect({
        ttlMs: 1_000,
        renewIntervalMs: 300,
        completedRetentionMs: 0,
      });
      const noneSlot = { jobId: "none", scheduledAt: new Date(T) };
      const noneLease = acquired(await none.acquire(noneSlot));
      await none.release(noneLease);
      assert.equal(await raw.exists(noneLease.leaseKey), 0);
      acquired(await none.acquire(noneSlot));
    });
  },
);

valkeyTest(
  "guard a lease lost by expiry: renew is lost, another guard takes it with a higher token",
  async () => {
    await withGuards(async (connect, raw) => {
      const lease = { ttlMs: 100, renewIntervalMs: 50 };
      const holder = await connect(lease);
      const taker = await connect(lease);
      const slot = { jobId: "expiring", scheduledAt: new Date(T) };
      const first = acquired(await holder.acquire(slot));
      assert.deepEqual(await taker.acquire(slot), { kind: "contended" });
      await sleep(150);
      assert.equal(await raw.exists(first.leaseKey), 0, "the lease expired");
      assert.equal(await holder.renew(first), "lost");
      const second = acquired(await taker.acquire(slot));
      assert.ok(
        second.fencingToken! > first.fencingToken!,
        `${second.fencingToken} should exceed ${first.fencingToken}`,
      );
      assert.equal(await holder.renew(first), "lost");
      // The old holder's release does not free the new holder's lease.
      await holder.release(first);
      assert.equal(await raw.get(second.leaseKey), second.token);
      assert.equal(await taker.renew(second), "renewed");
    });
  },
);

valkeyTest(
  "guard fencing tokens increase strictly per job id, across guard instances",
  async () => {
    await withGuards(async (connect) => {
      const a = await connect();
      const b = await connect();
      const tokens: bigint[] = [];
      for (let i = 0; i < 6; i++) {
        const guard = i % 2 === 0 ? a : b;
        const lease = acquired(
          await guard.acquire({
            jobId: "fenced",
            scheduledAt: new Date(T + i),
          }),
        );
        tokens.push(lease.fencingToken!);
        if (i % 3 === 0) await guard.release(lease);
      }
      for (let i = 1; i < tokens.length; i++) {
        assert.ok(tokens[i] > tokens[i - 1], `tokens ${tokens.join(", ")}`);
      }
      // Concurrent grants of one job id never share a token.
      const answers = await Promise.all(
        Array.from(
          { length: 10 },
          (_, i) =>
            (i % 2 === 0 ? a : b).acquire({
              jobId: "fenced",
              scheduledAt: new Date(T + 100 + i),
            }),
        ),
      );
      const concurrent = answers.map((answer) =>
        acquired(answer).fencingToken!
      );
      assert.equal(new Set(concurrent).size, 10);
      assert.ok(concurrent.every((token) => token > tokens[tokens.length - 1]));

      // Another job id has its own sequence.
      const otherJob = acquired(
        await b.acquire({ jobId: "other-job", scheduledAt: new Date(T) }),
      );
      const otherJobNext = acquired(
        await a.acquire({ jobId: "other-job", scheduledAt: new Date(T + 1) }),
      );
      // Every grant raises the counter to at least the server's clock in
      // microseconds (docs/valkey.md), so tokens follow the clock: greater
      // than the last one, and never behind the clock at the grant.
      assert.ok(otherJobNext.fencingToken! > otherJob.fencingToken!);
      const clockUs = BigInt(Date.now()) * 1000n;
      assert.ok(
        otherJobNext.fencingToken! > clockUs - 60_000_000n,
        `${otherJobNext.fencingToken} follows the clock (${clockUs})`,
      );
    });
  },
);

Deno.test("Valkey guard lease config and URL are validated before any connection", async () => {
  // A listener that counts connection attempts: none may arrive.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `redis://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  let accepted = 0;
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        accepted++;
        conn.close();
      }
    } catch {
      // closed
    }
  })();
  try {
    const invalid: unknown[] = [
      { ttlMs: 0, renewIntervalMs: 1 },
      { ttlMs: -5, renewIntervalMs: 1 },
      { ttlMs: 1_000, renewIntervalMs: 0 },
      { ttlMs: 1_000, renewIntervalMs: 1_000 },
      { ttlMs: 1_000, renewIntervalMs: 2_000 },
      { ttlMs: 1_000, renewIntervalMs: 100, completedRetentionMs: -1 },
      { ttlMs: 1_000, renewIntervalMs: 100, completedRetentionMs: 1.5 },
      { ttlMs: Number.NaN, renewIntervalMs: 100 },
      { ttlMs: Infinity, renewIntervalMs: 100 },
      { ttlMs: 2 ** 60, renewIntervalMs: 100 },
      null,
    ];
    for (const lease of invalid) {
      const error = await assertGuardError(
        ValkeyExecutionGuard.connect(url, lease as LeaseConfig),
        "data",
      );
      assert.ok(error.message.length > 0);
    }
    for (const bad of ["http://127.0.0.1:6379", "127.0.0.1:6379", "", 42]) {
      let caught: unknown;
      try {
        await ValkeyExecutionGuard.connect(bad as string, LEASE);
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof InvalidJobError, String(caught));
      assert.equal(caught.kind, "other");
      caught = undefined;
      try {
        await ValkeyStateStore.connect(bad as string);
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof InvalidJobError, String(caught));
      assert.equal(caught.kind, "other");
      caught = undefined;
      try {
        await ValkeyStateStore.resilient(bad as string);
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof InvalidJobError, String(caught));
      assert.equal(caught.kind, "other");
    }
    await sleep(20);
    assert.equal(accepted, 0, "validation must fail before connecting");
  } finally {
    listener.close();
    await accepting;
  }
});

valkeyTest(
  "guard connect to a dead port and calls after the server stopped are kind connection (retryBudgetMs 0)",
  async () => {
    const port = deadPort();
    const [, ms] = await timed(() =>
      assertGuardError(
        ValkeyExecutionGuard.connect(`redis://127.0.0.1:${port}`, LEASE),
        "connection",
      )
    );
    assert.ok(ms < 5_000, `took ${ms} ms`);

    const server = await startValkeyServer();
    const guard = await ValkeyExecutionGuard.connect(server.url, LEASE, {
      retryBudgetMs: 0,
    });
    try {
      const lease = acquired(
        await guard.acquire({ jobId: "down", scheduledAt: new Date(T) }),
      );
      await server.stop();
      const [, callsMs] = await timed(async () => {
        const error = await assertGuardError(
          guard.acquire({ jobId: "down", scheduledAt: new Date(T + 1) }),
          "connection",
        );
        assert.ok(error.message.includes("down"), error.message);
        await assertGuardError(guard.renew(lease), "connection");
        await assertGuardError(guard.release(lease), "connection");
      });
      assert.ok(callsMs < 2_000, `three failing calls took ${callsMs} ms`);
    } finally {
      const [, closeMs] = await timed(async () => {
        await guard.close();
        await guard.close();
      });
      assert.ok(closeMs < 1_000, `close took ${closeMs} ms`);
      await server.stop();
    }
  },
);

valkeyTest("guard close() ends the connection and is idempotent", async () => {
  await withServerAndRaw(async (server, raw) => {
    const guard = await ValkeyExecutionGuard.connect(server.url, LEASE);
    const lease = acquired(
      await guard.acquire({ jobId: "closing", scheduledAt: new Date(T) }),
    );
    assert.equal(await otherClients(raw), 1);
    await guard.close();
    assert.ok(
      await eventually(async () => await otherClients(raw) === 0, 500),
      "the guard's connection is still listed after close()",
    );
    await guard.close();
    await assertGuardError(guard.renew(lease), "connection");
  });
});

valkeyTest(
  "two schedulers with their own stores and guards run every occurrence exactly once",
  async () => {
    await withGuards(async (connect, raw) => {
      const lease = { ttlMs: 2_000, renewIntervalMs: 500 };
      const guards = [await connect(lease), await connect(lease)];
      // 200 ms apart: a loaded machine (the suite runs in parallel) must not
      // stall an instance past the next occurrence, which would merge two
      // occurrences into one catch-up run and make this test about timing.
      const start = Date.now() + 100;
      const times = [0, 1, 2, 3, 4].map((i) => start + i * 200);
      const runs: { instance: number; scheduledAt: number; fence?: bigint }[] =
        [];
      const schedulers = guards.map((guard) =>
        Scheduler.withExecutionGuard({}, new InMemoryStateStore(), guard)
      );
      const events = schedulers.map((scheduler) => recordEvents(scheduler));
      const reports = await Promise.all(
        schedulers.map((scheduler, instance) =>
          scheduler.run(
            Job.withoutDeps(
              "shared-job",
              Schedule.atTimes(times),
              Task.fromAsync(async (ctx) => {
                runs.push({
                  instance,
                  scheduledAt: ctx.run.scheduledAt.getTime(),
                  fence: ctx.run.fencingToken,
                });
                await sleep(5);
              }),
            ),
          )
        ),
      );

      assert.equal(runs.length, 5, JSON.stringify(runs, (_, v) => String(v)));
      assert.deepEqual(
        runs.map((run) => run.scheduledAt).sort((a, b) => a - b),
        times,
      );
      for (const [instance, report] of reports.entries()) {
        assert.equal(report.stopReason, "terminal");
        assert.equal(report.state.triggerCount, 5);
        const contended = events[instance].filter((e) =>
          e.type === "execution-guard-contended"
        );
        assert.equal(
          report.history.length + contended.length,
          5,
          `instance ${instance}: every occurrence runs or is contended`,
        );
      }
      // For each occurrence, the instance that did not run it was contended.
      for (const run of runs) {
        const loser = 1 - run.instance;
        assert.ok(
          events[loser].some((e) =>
            e.type === "execution-guard-contended" &&
            (e as SchedulerEvent & { scheduledAt: Date }).scheduledAt
                .getTime() === run.scheduledAt
          ),
          `instance ${loser} should be contended at ${run.scheduledAt}`,
        );
      }
      // Fencing tokens: present, distinct, increasing with the occurrences,
      // and the same as in run-started.
      const fences = [...runs]
        .sort((a, b) => a.scheduledAt - b.scheduledAt)
        .map((run) => run.fence);
      assert.ok(fences.every((fence) => typeof fence === "bigint"));
      for (let i = 1; i < fences.length; i++) {
        assert.ok(fences[i]! > fences[i - 1]!, fences.join(", "));
      }
      const started = events.flat().filter((e) => e.type === "run-started") as (
        SchedulerEvent & { fencingToken?: bigint }
      )[];
      assert.equal(started.length, 5);
      assert.deepEqual(
        new Set(started.map((e) => e.fencingToken)),
        new Set(fences),
      );
      // Every occurrence is left marked done.
      for (const time of times) {
        const key = `scheduler:valkey:execution-lease:shared-job:${
          new Date(time).toISOString().slice(0, 23)
        }000000Z`;
        assert.ok((await raw.get(key))?.startsWith("done:"), key);
      }
    });
  },
);

// ---------------------------------------------------------------------------
// Clean exit: nothing of the client's outlives close()
// ---------------------------------------------------------------------------

const ROOT = new URL("../", import.meta.url);
const VALKEY_MOD = new URL("../src/valkey/mod.ts", import.meta.url).href;
const SERVER_HELPER = new URL("./_valkey_server.ts", import.meta.url).href;

/**
 * Runs `body` (module code with `valkey` = the Valkey module, `servers` =
 * this file's server helper and `dead` = a URL where nothing listens) in a
 * fresh Deno process and returns how long the process lived on after the
 * code had finished: a timer or socket left behind keeps it alive.
 */
async function lingerAfter(body: string): Promise<number> {
  const code = `
const valkey = await import(${JSON.stringify(VALKEY_MOD)});
const servers = await import(${JSON.stringify(SERVER_HELPER)});
const dead = "redis://127.0.0.1:${deadPort()}";
const lease = { ttlMs: 1000, renewIntervalMs: 100 };
${body}
const finishedAt = performance.now();
addEventListener("unload", () => {
  console.log("LINGER " + Math.round(performance.now() - finishedAt));
});
`;
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--ext=ts",
      "--config",
      new URL("deno.json", ROOT).pathname,
      code,
    ],
    cwd: ROOT.pathname,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const match = /LINGER (\d+)/.exec(stdout);
  assert.ok(
    output.success && match,
    `child failed: ${stdout}\n${new TextDecoder().decode(output.stderr)}`,
  );
  return Number(match[1]);
}

const EXIT_SCENARIOS: Record<string, string> = {
  "a store and a guard connected, used and closed": `
const server = await servers.startValkeyServer();
const store = await valkey.ValkeyStateStore.connect(server.url);
const guard = await valkey.ValkeyExecutionGuard.connect(server.url, lease);
await store.load("x");
await guard.acquire({ jobId: "x", scheduledAt: new Date() });
await store.close();
await guard.close();
await server.stop();`,
  "a store connect() to a dead port that rejected": `
await valkey.ValkeyStateStore.connect(dead).catch(() => {});`,
  "a guard connect() to a dead port that rejected": `
await valkey.ValkeyExecutionGuard.connect(dead, lease).catch(() => {});`,
  "a resilient store started while the server is down, closed": `
const store = await valkey.ValkeyStateStore.resilient(dead);
await store.close();`,
  "a store whose server went away, closed while a call retries": `
const server = await servers.startValkeyServer();
const store = await valkey.ValkeyStateStore.connect(server.url);
await server.stop();
const loading = store.load("x").catch(() => {});
await new Promise((resolve) => setTimeout(resolve, 150));
await store.close();
await loading;`,
};

valkeyTest(
  "a process exits promptly after close(), on every path",
  async () => {
    // close() ends the connection so that a process can exit. The
    // scenarios run as concurrent child processes; each reports how long it
    // lived on after its last statement.
    const lingers = await Promise.all(
      Object.entries(EXIT_SCENARIOS).map(async ([scenario, body]) =>
        [scenario, await lingerAfter(body)] as const
      ),
    );
    const control = lingers[0];
    assert.ok(
      control[1] < 500,
      `control: ${control[0]} lingered ${control[1]} ms`,
    );
    const slow = lingers.filter(([, linger]) => linger >= 500);
    assert.deepEqual(
      slow.map(([scenario, linger]) => `${scenario}: ${linger} ms`),
      [],
      "the process lived on after close() (something outlived it)",
    );
  },
);

valkeyTest(
  "wrong credentials are not a connection problem: connect() and resilient() reject with kind auth",
  async () => {
    await withServerAndRaw(async (server, raw) => {
      await raw.config("SET", "requirepass", "right-password");
      const wrong = server.url.replace("redis://", "redis://:wrong-password@");
      const connectError = await assertStoreError(
        ValkeyStateStore.connect(wrong),
        { kind: "auth" },
      );
      assert.match(connectError.message, /WRONGPASS/);
      assert.doesNotMatch(
        connectError.message,
        /wrong-password/,
        "credentials redacted",
      );
      const resilientError = await assertStoreError(
        ValkeyStateStore.resilient(wrong),
        { kind: "auth" },
      );
      assert.match(resilientError.message, /WRONGPASS/);
      await assert.rejects(
        ValkeyExecutionGuard.connect(wrong, LEASE),
        (error: unknown) =>
          error instanceof ExecutionGuardError && error.kind === "auth" &&
          /WRONGPASS/.test(error.message),
      );
      await raw.auth("right-password");
      await raw.config("SET", "requirepass", "");
    });
  },
);

valkeyTest(
  "a key of the wrong type is kind data, for the store and for the guard's counter",
  async () => {
    await withServerAndRaw(async (server, raw) => {
      const store = await ValkeyStateStore.connect(server.url);
      const guard = await ValkeyExecutionGuard.connect(server.url, LEASE);
      try {
        await raw.lpush("scheduler:valkey:job-state:listy", "not a state");
        await assertStoreError(store.load("listy"), { kind: "data" });
        await raw.set(
          "scheduler:valkey:execution-lease:counted:fencing-token",
          "abc",
        );
        await assert.rejects(
          guard.acquire({ jobId: "counted", scheduledAt: new Date(0) }),
          (error: unknown) =>
            error instanceof ExecutionGuardError && error.kind === "data",
        );
      } finally {
        await store.close();
        await guard.close();
      }
    });
  },
);
