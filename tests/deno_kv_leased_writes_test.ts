/**
 * `DenoKvStateStore` as `LeasedStateWrites` for a `DenoKvExecutionGuard` on
 * the same `Deno.Kv`, through the contract: one commit before a run (state,
 * lease, fencing counter, in-flight record) and one after (state, the
 * lease's end), no read once the store has seen the job, counted on a real
 * KV behind the benchmarks' counting proxy; and every rule of the separate
 * path kept: merged states, tokens that never go backwards, damaged data
 * set aside, the records the guard's ledger lists and reclaims.
 */
import assert from "node:assert/strict";
import {
  canWriteLeased,
  DenoKvExecutionGuard,
  DenoKvStateStore,
  type ExecutionGuardAcquire,
  type ExecutionLease,
  type FencingResetDetail,
  InvalidJobError,
  type JobState,
  type LeasedAcquire,
  NoopExecutionGuard,
} from "../mod.ts";
import {
  countingKv,
  isCommit,
  isRead,
  KvCounts,
} from "../bench/_kv_counting.ts";
import { assertGuardError, assertStoreError } from "./_assert_errors.ts";
import { withFakeClock } from "./_fake_time.ts";
import { T0 } from "./_engine_helpers.ts";

const LEASE = { ttlMs: 1_000, renewIntervalMs: 300 };
const JOB = "leased";
const LEASES = ["scheduler", "execution-lease"];

function state(triggerCount: number, extra: Partial<JobState> = {}): JobState {
  return {
    jobId: JOB,
    triggerCount,
    lastRunAt: null,
    lastSuccessAt: null,
    nextRunAt: new Date(T0 + triggerCount * 60_000),
    lastError: null,
    ...extra,
  };
}

function slot(n: number) {
  return {
    jobId: JOB,
    scheduledAt: new Date(T0 + n * 60_000),
    triggerCount: n,
    catchUp: false,
  };
}

/** Saves `state(n)` and takes `slot(n)` through `store` for `guard`. */
function grant(
  store: DenoKvStateStore,
  guard: DenoKvExecutionGuard,
  n: number,
  record = true,
): Promise<LeasedAcquire> {
  return store.saveAndAcquire({
    guard,
    state: state(n),
    slot: slot(n),
    record,
  });
}

const leaseKey = (n: number) => [...LEASES, "lease", JOB, T0 + n * 60_000];
const recordKey = (n: number) => [...LEASES, "in-flight", JOB, T0 + n * 60_000];
const fenceKey = [...LEASES, "fence", JOB];

function acquired(answer: ExecutionGuardAcquire): ExecutionLease {
  assert.equal(answer.kind, "acquired", "expected a grant");
  assert.ok(answer.kind === "acquired");
  return answer.lease;
}

interface Setup {
  raw: Deno.Kv;
  counts: KvCounts;
  guard: DenoKvExecutionGuard;
  store: DenoKvStateStore;
  /** Commits and reads counted since the last call. */
  take(): { commits: number; reads: number };
}

/** A store and a guard on one counted in-memory KV, the store bound to it. */
async function withLeased(body: (setup: Setup) => Promise<void>) {
  const raw = await Deno.openKv(":memory:");
  try {
    const counts = new KvCounts();
    const kv = countingKv(raw, counts);
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const store = new DenoKvStateStore(kv);
    assert.ok(canWriteLeased(store, guard));
    const take = () => {
      const taken = {
        commits: counts.total(isCommit),
        reads: counts.total(isRead),
      };
      counts.reset();
      return taken;
    };
    await body({ raw, counts, guard, store, take });
  } finally {
    raw.close();
  }
}

async function quarantined(raw: Deno.Kv): Promise<unknown[]> {
  const moved = [];
  for await (const entry of raw.list({ prefix: [...LEASES, "quarantine"] })) {
    moved.push(entry.value);
  }
  return moved.sort();
}

Deno.test("DenoKvStateStore shares with every Deno KV guard on its own Deno.Kv whose keys cannot meet its state keys, each under its own keys; a guard it does not share is refused by name", async () => {
  const kv = await Deno.openKv(":memory:");
  const other = await Deno.openKv(":memory:");
  try {
    const store = new DenoKvStateStore(kv);
    const elsewhere = new DenoKvExecutionGuard(other, LEASE);
    assert.equal(store.sharesWith(elsewhere), false);
    assert.equal(store.sharesWith(new NoopExecutionGuard()), false);
    assert.equal(canWriteLeased(store, new NoopExecutionGuard()), false);
    await assert.rejects(
      () =>
        store.saveAndAcquire({
          guard: elsewhere,
          state: state(1),
          slot: slot(1),
          record: false,
        }),
      (error: Error) =>
        error instanceof InvalidJobError &&
        error.message.includes("sharesWith"),
    );
    // Two guards on the store's database, each with its own prefix and
    // lease settings: each grant writes under its guard's keys.
    const guards = [LEASES, ["app", "other-leases"]].map((keyPrefix) =>
      new DenoKvExecutionGuard(kv, LEASE, { keyPrefix })
    );
    for (const [i, guard] of guards.entries()) {
      assert.ok(store.sharesWith(guard));
      const lease = acquired(
        await store.saveAndAcquire({
          guard,
          state: state(i + 1),
          slot: slot(1),
          record: true,
        }),
      );
      assert.ok(
        lease.leaseKey.startsWith(guard === guards[0] ? "scheduler:" : "app:"),
      );
      assert.equal((await guard.inFlight.list(JOB))[0].holder, lease.token);
      await store.saveAndEnd({
        guard,
        state: state(i + 1),
        lease,
        end: "complete",
      });
      assert.deepEqual(await guard.inFlight.list(JOB), []);
    }
    // One prefix for both is fine; state keys inside the guard's are not.
    assert.ok(
      new DenoKvStateStore(kv, { keyPrefix: LEASES }).sharesWith(guards[0]),
    );
    for (const area of ["fence", "lease", "in-flight", "quarantine"]) {
      const inside = new DenoKvStateStore(kv, { keyPrefix: [...LEASES, area] });
      assert.equal(inside.sharesWith(guards[0]), false, area);
    }
  } finally {
    kv.close();
    other.close();
  }
});

Deno.test("a leased run is one commit before and one after, with no read once the store has seen the job; what it writes is what the guard and its ledger write", async () => {
  await withLeased(async ({ raw, guard, store, take }) => {
    await store.load(JOB);
    take();
    let previous = 0n;
    for (let n = 1; n <= 5; n++) {
      const answer = await grant(store, guard, n);
      const lease = acquired(answer);
      // The first grant reads the counter (one getMany) and lists the
      // job's records once; later ones read nothing.
      const before = take();
      assert.deepEqual(
        before,
        { commits: 1, reads: n === 1 ? 2 : 0 },
        `run ${n}`,
      );
      assert.equal(answer.inFlight, 1, "its own record, counted");
      assert.ok(lease.fencingToken! > previous, "tokens only go up");
      previous = lease.fencingToken!;
      assert.equal((await raw.get(fenceKey)).value, lease.fencingToken);
      assert.equal((await store.load(JOB))?.triggerCount, n);
      const [record] = await guard.inFlight.list(JOB);
      assert.equal(record.holder, lease.token);
      assert.equal(record.fencingToken, lease.fencingToken);
      assert.equal(record.triggerCount, n);
      assert.ok(record.remainingMs > 0, "held alive");
      assert.equal(
        (await guard.acquire({ jobId: JOB, scheduledAt: slot(n).scheduledAt }))
          .kind,
        "contended",
      );
      take();

      const ran = state(n, {
        lastRunAt: new Date(T0 + n),
        lastSuccessAt: new Date(T0 + n),
      });
      await store.saveAndEnd({ guard, state: ran, lease, end: "complete" });
      assert.deepEqual(take(), { commits: 1, reads: 0 }, `end of run ${n}`);
      assert.deepEqual(await guard.inFlight.list(JOB), [], "record cleared");
      const done = (await raw.get<{ status: string }>(leaseKey(n))).value;
      assert.equal(done?.status, "done", "kept done for completedRetentionMs");
      assert.deepEqual((await store.load(JOB))?.lastRunAt, new Date(T0 + n));
      take();
    }
  });
});

Deno.test("release marks the lease done and writes no record; abandon gives the occurrence back, its record left for the ledger to reclaim", async () => {
  await withLeased(async ({ raw, guard, store }) => {
    const plain = acquired(
      await grant(store, guard, 1, false),
    );
    assert.equal((await raw.get(recordKey(1))).value, null);
    await store.saveAndEnd({
      guard,
      state: state(1),
      lease: plain,
      end: "release",
    });
    assert.equal(
      (await raw.get<{ status: string }>(leaseKey(1))).value?.status,
      "done",
    );

    const given = acquired(
      await grant(store, guard, 2),
    );
    await store.saveAndEnd({
      guard,
      state: state(2),
      lease: given,
      end: "abandon",
    });
    assert.equal((await raw.get(leaseKey(2))).value, null, "lease ended");
    const [record] = await guard.inFlight.list(JOB);
    assert.equal(record.holder, given.token);
    assert.equal(record.remainingMs, 0, "nobody holds it: replayable");
    const replay = acquired(await guard.inFlight.reclaim(record));
    assert.ok(replay.fencingToken! > given.fencingToken!);
    await guard.inFlight.complete(replay);
    assert.deepEqual(await guard.inFlight.list(JOB), []);
  });
});

Deno.test("a grant counts the job's in-flight records: its own, another holder's (added by either path) and a given-back one; never fewer than there are", async () => {
  await withLeased(async ({ guard, store, take }) => {
    const leased = async (n: number) => {
      const answer = await grant(store, guard, n);
      return { lease: acquired(answer), inFlight: answer.inFlight };
    };
    const first = await leased(1);
    assert.equal(first.inFlight, 1);
    // Another instance's grant through the ledger: the counter changed.
    const theirs = acquired(await guard.inFlight.acquire(slot(100)));
    take();
    const second = await leased(2);
    assert.equal(second.inFlight, 3, "ours twice and theirs");
    assert.deepEqual(
      take(),
      { commits: 2, reads: 2 },
      "a failed check, a re-read and a listing",
    );
    await store.saveAndEnd({
      guard,
      state: state(2),
      lease: first.lease,
      end: "complete",
    });
    await store.saveAndEnd({
      guard,
      state: state(2),
      lease: second.lease,
      end: "abandon",
    });
    const third = await leased(3);
    assert.equal(third.inFlight, 3, "theirs, the given-back one and ours");
    // Theirs completed without touching the counter: still counted (the
    // scheduler looks at the ledger once more), never missed.
    await guard.inFlight.complete(theirs);
    await store.saveAndEnd({
      guard,
      state: state(3),
      lease: third.lease,
      end: "complete",
    });
    const fourth = await leased(4);
    assert.ok(fourth.inFlight! >= (await guard.inFlight.list(JOB)).length);
    // A grant elsewhere makes the next one list again: exact once more.
    await guard.acquire({ jobId: JOB, scheduledAt: slot(101).scheduledAt });
    const fifth = await leased(5);
    assert.equal(fifth.inFlight, (await guard.inFlight.list(JOB)).length);
    assert.equal(
      fifth.inFlight,
      3,
      "the given-back one, the fourth, the fifth",
    );
  });
});

Deno.test("a record granted elsewhere right after the listing of the records is still counted (the counter is read first)", async () => {
  const raw = await Deno.openKv(":memory:");
  try {
    const other = new DenoKvExecutionGuard(raw, LEASE);
    let injected = false;
    // Another instance grants right after the first listing of the job's
    // records: a store that read the counter after listing would miss it.
    const kv = new Proxy(raw, {
      get(target, property) {
        const value = Reflect.get(target, property, target);
        if (typeof value !== "function") return value;
        if (property !== "list") return value.bind(target);
        return (selector: Deno.KvListSelector) => {
          if (injected) return target.list(selector);
          injected = true;
          async function* listed() {
            yield* target.list(selector);
            await other.inFlight.acquire(slot(100));
          }
          return listed();
        };
      },
    });
    const store = new DenoKvStateStore(kv);
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    assert.ok(store.sharesWith(guard));
    const answer = await grant(store, guard, 1);
    acquired(answer);
    assert.ok(injected);
    assert.equal((await other.inFlight.list(JOB)).length, 2);
    assert.equal(answer.inFlight, 2, "the other instance's record counted");
  } finally {
    raw.close();
  }
});

Deno.test("a slot another holder has is contended, and the state is saved all the same", async () => {
  await withLeased(async ({ guard, store }) => {
    await store.save(state(1));
    const held = acquired(await guard.acquire(slot(2)));
    const answer = await grant(store, guard, 2);
    assert.equal(answer.kind, "contended");
    assert.equal((await store.load(JOB))?.triggerCount, 2, "consumed");
    const [record] = await guard.inFlight.list(JOB).then((all) =>
      all.filter((r) => r.holder !== held.token)
    );
    assert.equal(record, undefined, "no record of ours");
  });
});

Deno.test("another writer's state is merged, never moved back, and the grant still goes through on it", async () => {
  await withLeased(async ({ raw, guard, store, take }) => {
    await store.load(JOB);
    acquired(
      await grant(store, guard, 1),
    );
    // Another instance (its own store on the same file) gets ahead.
    const ahead = state(9, { lastRunAt: new Date(T0 + 9), lastError: "boom" });
    await new DenoKvStateStore(raw).save(ahead);
    take();
    const lease = acquired(
      await grant(store, guard, 2),
    );
    assert.deepEqual(
      take(),
      { commits: 2, reads: 1 },
      "one failed check, one read",
    );
    const stored = await store.load(JOB);
    assert.equal(stored?.triggerCount, 9, "the furthest cursor");
    assert.equal(stored?.lastError, "boom");
    await store.saveAndEnd({
      guard,
      state: state(2, { lastRunAt: new Date(T0 + 2) }),
      lease,
      end: "complete",
    });
    assert.deepEqual((await store.load(JOB))?.lastRunAt, new Date(T0 + 9));
  });
});

Deno.test("fencing tokens never go backwards across the guard's own grants, the leased grants and a deleted counter (reported as fencing-reset)", async () => {
  await withLeased(async ({ raw, guard, store }) => {
    const resets: FencingResetDetail[] = [];
    guard.addEventListener(
      "fencing-reset",
      (event) => resets.push((event as CustomEvent<FencingResetDetail>).detail),
    );
    const tokens: bigint[] = [];
    for (let n = 1; n <= 6; n++) {
      const answer = n % 2 === 0
        ? await guard.acquire(slot(n))
        : await grant(store, guard, n);
      tokens.push(acquired(answer).fencingToken!);
    }
    // The file lost its counter; this guard still remembers the highest.
    await raw.set(fenceKey, 5n);
    tokens.push(
      acquired(
        await grant(store, guard, 7),
      )
        .fencingToken!,
    );
    for (let i = 1; i < tokens.length; i++) {
      assert.ok(tokens[i] > tokens[i - 1], `token ${i} after ${i - 1}`);
    }
    assert.equal(resets.length, 1);
    assert.equal(resets[0].previousFencingToken, tokens[5]);
    assert.equal(resets[0].fencingToken, tokens[6]);
  });
});

Deno.test("an expired lease of a dead holder is taken over with a higher token; the dead holder's late end leaves the new holder alone", async () => {
  await withFakeClock(T0, async (clock) => {
    await withLeased(async ({ guard, store }) => {
      const dead = acquired(
        await grant(store, guard, 1),
      );
      clock.tick(LEASE.ttlMs + 1);
      const [expired] = await guard.inFlight.list(JOB);
      assert.equal(expired.remainingMs, 0);
      const next = acquired(
        await grant(store, guard, 1),
      );
      assert.ok(next.fencingToken! > dead.fencingToken!);
      await store.saveAndEnd({
        guard,
        state: state(1),
        lease: dead,
        end: "complete",
      });
      const [record] = await guard.inFlight.list(JOB);
      assert.equal(record.holder, next.token, "the new holder's record stays");
      assert.ok(record.remainingMs > 0, "and its lease");
      await store.saveAndEnd({
        guard,
        state: state(1),
        lease: next,
        end: "complete",
      });
      assert.deepEqual(await guard.inFlight.list(JOB), []);
    });
  });
});

Deno.test("a garbage lease or counter met by a grant is set aside and reported (kind data, naming it) with nothing else written; the second ask grants", async () => {
  await withLeased(async ({ raw, guard, store }) => {
    await store.save(state(1));
    for (const [n, key] of [[2, leaseKey(2)], [3, fenceKey]] as const) {
      await raw.set(key, `garbage-${n}`);
      await assertGuardError(
        grant(store, guard, n),
        "data",
        `garbage-${n}`,
      );
      assert.equal((await store.load(JOB))?.triggerCount, n - 1, "not saved");
      assert.equal((await raw.get(recordKey(n))).value, null, "no record");
      acquired(
        await grant(store, guard, n),
      );
      assert.equal((await store.load(JOB))?.triggerCount, n);
    }
    assert.deepEqual(await quarantined(raw), ["garbage-2", "garbage-3"]);
  });
});

Deno.test("a garbage record or lease met by an end is set aside in the same commit, the state saved, and reported (kind data: saved, the end not confirmed)", async () => {
  await withLeased(async ({ raw, guard, store, take }) => {
    const first = acquired(
      await grant(store, guard, 1),
    );
    await raw.set(recordKey(1), "garbage-record");
    take();
    await assertGuardError(
      store.saveAndEnd({
        guard,
        state: state(1, { lastRunAt: new Date(T0 + 1) }),
        lease: first,
        end: "complete",
      }),
      "data",
      '"quarantine", "in-flight"',
    );
    assert.deepEqual(
      take(),
      { commits: 2, reads: 1 },
      "a failed check, a read, one commit",
    );
    assert.equal(
      (await raw.get<{ status: string }>(leaseKey(1))).value?.status,
      "done",
    );
    assert.deepEqual(await guard.inFlight.list(JOB), []);
    assert.deepEqual((await store.load(JOB))?.lastRunAt, new Date(T0 + 1));

    const second = acquired(
      await grant(store, guard, 2, false),
    );
    await raw.set(leaseKey(2), "garbage-lease");
    await assertGuardError(
      store.saveAndEnd({
        guard,
        state: state(2),
        lease: second,
        end: "release",
      }),
      "data",
      "garbage-lease",
    );
    assert.equal((await raw.get(leaseKey(2))).value, null);
    assert.equal((await store.load(JOB))?.triggerCount, 2);
    assert.deepEqual(await quarantined(raw), [
      "garbage-lease",
      "garbage-record",
    ]);
  });
});

Deno.test("a lease renewed by the guard still ends in one commit, after one read", async () => {
  await withLeased(async ({ raw, guard, store, take }) => {
    const lease = acquired(
      await grant(store, guard, 1),
    );
    assert.equal(await guard.renew(lease), "renewed");
    take();
    await store.saveAndEnd({ guard, state: state(1), lease, end: "complete" });
    assert.deepEqual(take(), { commits: 2, reads: 1 });
    assert.equal(
      (await raw.get<{ status: string }>(leaseKey(1))).value?.status,
      "done",
    );
    assert.deepEqual(await guard.inFlight.list(JOB), []);
  });
});

Deno.test("two stores racing for each slot: exactly one grant per occurrence, and the stored state is the furthest", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const pairs = [0, 1].map(() => {
      const store = new DenoKvStateStore(kv);
      const guard = new DenoKvExecutionGuard(kv, LEASE);
      assert.ok(store.sharesWith(guard));
      return { store, guard };
    });
    const tokens: bigint[] = [];
    for (let n = 1; n <= 20; n++) {
      const answers = await Promise.all(
        pairs.map(({ store, guard }, i) =>
          store.saveAndAcquire({
            guard,
            state: state(n, { lastError: `store ${i}` }),
            slot: slot(n),
            record: true,
          })
        ),
      );
      const granted = answers.filter((a) => a.kind === "acquired");
      assert.equal(granted.length, 1, `slot ${n}`);
      tokens.push(acquired(granted[0]).fencingToken!);
      assert.equal((await pairs[0].store.load(JOB))?.triggerCount, n);
    }
    assert.deepEqual(tokens, [...tokens].sort((a, b) => a < b ? -1 : 1));
    assert.equal(new Set(tokens).size, tokens.length);
  } finally {
    kv.close();
  }
});

Deno.test("leased writes refuse bad input by name before any commit", async () => {
  await withLeased(async ({ guard, store, take }) => {
    const lease = acquired(
      await grant(store, guard, 1),
    );
    take();
    await assert.rejects(
      () =>
        store.saveAndAcquire({
          guard,
          state: { ...state(2), jobId: "other" },
          slot: slot(2),
          record: true,
        }),
      (error: Error) =>
        error instanceof InvalidJobError && error.message.includes('"other"'),
    );
    await assert.rejects(
      () =>
        store.saveAndAcquire({
          guard,
          state: { ...state(2), triggerCount: -1 },
          slot: slot(2),
          record: true,
        }),
      InvalidJobError,
    );
    await assertGuardError(
      store.saveAndAcquire({
        guard,
        state: state(2),
        slot: { jobId: JOB, scheduledAt: new Date(T0) },
        record: true,
      }),
      "data",
      "triggerCount",
    );
    await assert.rejects(
      () =>
        store.saveAndEnd({
          guard,
          state: state(1),
          lease: { ...lease, leaseKey: "elsewhere" },
          end: "complete",
        }),
      (error: Error) =>
        error instanceof InvalidJobError && error.message.includes("elsewhere"),
    );
    await assert.rejects(
      () =>
        store.saveAndEnd({
          guard,
          state: state(1),
          lease,
          end: "finish" as "complete",
        }),
      (error: Error) =>
        error instanceof InvalidJobError && error.message.includes('"finish"'),
    );
    assert.deepEqual(take(), { commits: 0, reads: 0 });
  });
});

Deno.test("a closed database: a grant fails as the guard's acquire (kind connection), an end as a save (StoreError kind connection)", async () => {
  const kv = await Deno.openKv(":memory:");
  const guard = new DenoKvExecutionGuard(kv, LEASE);
  const store = new DenoKvStateStore(kv, { retryBudgetMs: 0 });
  assert.ok(store.sharesWith(guard));
  const lease = acquired(
    await grant(store, guard, 1),
  );
  kv.close();
  await assertGuardError(
    grant(store, guard, 2),
    "connection",
    JOB,
  );
  await assertStoreError(
    store.saveAndEnd({ guard, state: state(1), lease, end: "complete" }),
    { kind: "connection", operation: "save", includes: JOB },
  );
});
