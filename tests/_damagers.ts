/**
 * The backends of the damaged-data tests (docs/recovery.md): a Deno KV and a
 * Valkey guard, each with the ways to damage its data and the names its
 * error messages give the damaged keys.
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
  type JobState,
} from "../mod.ts";
import { ValkeyExecutionGuard } from "../src/valkey/mod.ts";
import { closeClient, connectClient } from "../src/valkey/_client.ts";
import { openClient } from "../src/valkey/_open_client.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";

export const LEASE = { ttlMs: 2_000, renewIntervalMs: 500 };
export const T = Date.UTC(2026, 3, 3, 1, 2, 3);
export const VALKEY_PREFIX = "scheduler:valkey:execution-lease:";
export const valkey = await hasValkeyServer();

/** A backend's guard and the ways to damage its data. */
export interface Damager {
  readonly name: string;
  readonly guard: ExecutionGuard & { inFlight: InFlightLedger };
  corruptCounter(jobId: string): Promise<void>;
  plantUndecodable(jobId: string, at: number): Promise<void>;
  /**
   * A record of a dead holder at the key of `at` whose value is for the
   * instant `holds` (hand-edited, copied): no reclaim would ever find it.
   */
  plantMismatched(jobId: string, at: number, holds: number): Promise<void>;
  /** The occurrence's lease becomes another holder's done marker. */
  markDoneByAnother(jobId: string, at: number): Promise<void>;
  /** The quarantined values, as text. */
  quarantined(jobId: string): Promise<string[]>;
  /** How an error message names the counter and the record at `at`. */
  readonly names: {
    counter(jobId: string): string;
    record(jobId: string, at: number): string;
  };
}

export async function withKv(body: (damager: Damager) => Promise<void>) {
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
      plantMismatched: async (jobId, at, holds) =>
        void await kv.set([...prefix, "in-flight", jobId, at], {
          jobId,
          scheduledAt: holds,
          triggerCount: 1,
          catchUp: false,
          fencingToken: 1n,
          holder: "dead-holder",
          leaseDeadline: holds + 1_000,
        }),
      markDoneByAnother: async (jobId, at) =>
        void await kv.set([...prefix, "lease", jobId, at], {
          token: "another",
          fencingToken: 1n,
          status: "done",
          deadline: Date.now() + 60_000,
        }),
      names: {
        counter: (jobId) => JSON.stringify([...prefix, "fence", jobId]),
        record: (jobId, at) =>
          JSON.stringify([...prefix, "in-flight", jobId, at]),
      },
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

export async function withValkey(body: (damager: Damager) => Promise<void>) {
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
        plantMismatched: async (jobId, at, holds) =>
          void await raw.hset(
            `${VALKEY_PREFIX}${jobId}:in-flight`,
            field(at),
            JSON.stringify({
              job_id: jobId,
              scheduled_at: field(holds),
              trigger_count: 1,
              catch_up: false,
              fencing_token: "1",
              holder: "dead-holder",
              lease_deadline_ms: holds + 1_000,
            }),
          ),
        markDoneByAnother: async (jobId, at) =>
          void await raw.set(
            `${VALKEY_PREFIX}${jobId}:${field(at)}`,
            "done:another",
            "PX",
            60_000,
          ),
        names: {
          counter: (jobId) => `${VALKEY_PREFIX}${jobId}:fencing-token`,
          record: (jobId, at) =>
            `${VALKEY_PREFIX}${jobId}:in-flight field "${field(at)}"`,
        },
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

/** A store that records every state it saves. */
export class SavesStore extends InMemoryStateStore {
  readonly saves: JobState[] = [];
  override save(state: JobState): Promise<void> {
    this.saves.push(structuredClone(state));
    return super.save(state);
  }
}

export function acquired(answer: ExecutionGuardAcquire): ExecutionLease {
  assert.equal(answer.kind, "acquired", "expected a grant");
  assert.ok(answer.kind === "acquired");
  return answer.lease;
}

export async function dataError(
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

export const slot = (jobId: string, at: number, triggerCount = 1) => ({
  jobId,
  scheduledAt: new Date(at),
  triggerCount,
  catchUp: false,
});

export const backends: [
  string,
  (body: (d: Damager) => Promise<void>) => Promise<void>,
  boolean,
][] = [
  ["Deno KV", withKv, false],
  ["Valkey", withValkey, !valkey],
];
