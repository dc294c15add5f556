/**
 * What the tests of the Valkey store's leased writes share: a state and an
 * occurrence's slot of a job, a minute apart per trigger, and a store and a
 * guard on one real server (closed afterwards).
 */
import type { JobState } from "../mod.ts";
import { ValkeyExecutionGuard, ValkeyStateStore } from "../src/valkey/mod.ts";
import { withValkeyServer } from "./_valkey_server.ts";
import { cli } from "./_valkey_topology.ts";

/** The lease every pair's guard uses unless told otherwise. */
export const LEASE = { ttlMs: 30_000, renewIntervalMs: 10_000 };

const START = Date.UTC(2026, 0, 1);

/** The state of `jobId` after `triggerCount` occurrences. */
export function leasedState(jobId: string, triggerCount: number): JobState {
  return {
    jobId,
    triggerCount,
    lastRunAt: null,
    lastSuccessAt: null,
    nextRunAt: new Date(START + triggerCount * 60_000),
    lastError: null,
  };
}

/** The slot (with what an in-flight record needs) of an occurrence. */
export function leasedSlot(jobId: string, triggerCount: number) {
  return {
    jobId,
    scheduledAt: new Date(START + triggerCount * 60_000),
    triggerCount,
    catchUp: false,
  };
}

/** A store and a guard on one fresh server, and that server. */
export interface LeasedPair {
  readonly store: ValkeyStateStore;
  readonly guard: ValkeyExecutionGuard;
  readonly cli: (...args: string[]) => Promise<string>;
  readonly url: string;
}

/** Runs `body` with a store and a guard (`lease` over {@linkcode LEASE}). */
export async function withLeasedPair(
  lease: { completedRetentionMs?: number },
  body: (pair: LeasedPair) => Promise<void>,
): Promise<void> {
  await withValkeyServer(async (server) => {
    const store = await ValkeyStateStore.connect(server.url);
    const guard = await ValkeyExecutionGuard.connect(server.url, {
      ...LEASE,
      ...lease,
    });
    try {
      await body({
        store,
        guard,
        cli: (...args) => cli(server.port, ...args),
        url: server.url,
      });
    } finally {
      await guard.close();
      await store.close();
    }
  });
}
