/**
 * `DenoKvExecutionGuard` grants each occurrence once and answers contention
 * to everyone else: lease keys, renewals and deadlines on a fake clock (KV
 * I/O is real, only `Date.now` and timers are faked), takeover after a lost
 * lease, owner-only release, the completed-occurrence retention, fencing
 * tokens, concurrency, config validation, corrupt records, and two
 * schedulers sharing one guard.
 */
import assert from "node:assert/strict";
import {
  DenoKvExecutionGuard,
  type ExecutionGuardAcquire,
  ExecutionGuardError,
  type ExecutionLease,
  type ExecutionSlot,
  InMemoryStateStore,
  Job,
  type LeaseConfig,
  Schedule,
  Scheduler,
  type SchedulerEvent,
  Task,
} from "../mod.ts";
import type { FakeClock } from "./_fake_time.ts";
import { drive, type KvIo, withClockAndKv } from "./_kv_helpers.ts";
import { assertGuardError } from "./_assert_errors.ts";
import { delay, recordEvents, T0 } from "./_engine_helpers.ts";

const LEASE: LeaseConfig = { ttlMs: 1_000, renewIntervalMs: 300 };

function slot(jobId: string, scheduledAt: number): ExecutionSlot {
  return { jobId, scheduledAt: new Date(scheduledAt) };
}

function acquired(answer: ExecutionGuardAcquire): ExecutionLease {
  assert.equal(answer.kind, "acquired", "expected the slot to be acquired");
  assert.ok(answer.kind === "acquired");
  return answer.lease;
}

// ---------------------------------------------------------------------------
// Acquire and lease keys
// ---------------------------------------------------------------------------

Deno.test("DenoKvExecutionGuard grants a slot once; the same slot is then contended", async () => {
  await withClockAndKv(async (kv) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const lease = acquired(await guard.acquire(slot("job-1", T0)));
    assert.equal(lease.jobId, "job-1");
    assert.ok(lease.scheduledAt instanceof Date);
    assert.equal(lease.scheduledAt.getTime(), T0);
    assert.equal(typeof lease.token, "string");
    assert.ok(lease.token.length > 0);
    assert.equal(typeof lease.fencingToken, "bigint");
    assert.deepEqual(await guard.acquire(slot("job-1", T0)), {
      kind: "contended",
    });
    // Another guard instance on the same KV is contended too.
    const other = new DenoKvExecutionGuard(kv, LEASE);
    assert.deepEqual(await other.acquire(slot("job-1", T0)), {
      kind: "contended",
    });
  });
});

Deno.test("DenoKvExecutionGuard another occurrence or another job is a separate slot", async () => {
  await withClockAndKv(async (kv) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const first = acquired(await guard.acquire(slot("job-1", T0)));
    const second = acquired(await guard.acquire(slot("job-1", T0 + 1)));
    const otherJob = acquired(await guard.acquire(slot("job-2", T0)));
    assert.notEqual(first.leaseKey, second.leaseKey);
    assert.notEqual(first.leaseKey, otherJob.leaseKey);
    assert.notEqual(first.token, second.token);
    assert.notEqual(first.token, otherJob.token);
    assert.equal(second.scheduledAt.getTime(), T0 + 1);
  });
});

Deno.test("DenoKvExecutionGuard lease keys are scheduler:execution-lease:<jobId>:<RFC 3339, 9 digits>Z", async () => {
  await withClockAndKv(async (kv) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const whole = acquired(await guard.acquire(slot("job-1", T0)));
    assert.equal(
      whole.leaseKey,
      "scheduler:execution-lease:job-1:2026-04-03T01:02:03.000000000Z",
    );
    const millis = acquired(await guard.acquire(slot("job-1", T0 + 123)));
    assert.equal(
      millis.leaseKey,
      "scheduler:execution-lease:job-1:2026-04-03T01:02:03.123000000Z",
    );
  });
});

Deno.test("DenoKvExecutionGuard the lease's scheduledAt is a copy of the slot's", async () => {
  await withClockAndKv(async (kv) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const asked = slot("copy", T0);
    const lease = acquired(await guard.acquire(asked));
    asked.scheduledAt.setTime(0);
    assert.equal(lease.scheduledAt.getTime(), T0);
  });
});

Deno.test("DenoKvExecutionGuard key prefixes isolate guards on one KV", async () => {
  await withClockAndKv(async (kv) => {
    const a = new DenoKvExecutionGuard(kv, LEASE, { keyPrefix: ["app-a"] });
    const b = new DenoKvExecutionGuard(kv, LEASE, { keyPrefix: ["app-b"] });
    acquired(await a.acquire(slot("job", T0)));
    acquired(await b.acquire(slot("job", T0)));
    assert.equal((await a.acquire(slot("job", T0))).kind, "contended");
    assert.equal((await b.acquire(slot("job", T0))).kind, "contended");
    // A default-prefix guard sees neither.
    acquired(
      await new DenoKvExecutionGuard(kv, LEASE).acquire(slot("job", T0)),
    );
  });
});

// ---------------------------------------------------------------------------
// Renewal and deadlines
// ---------------------------------------------------------------------------

Deno.test("DenoKvExecutionGuard renew by the holder extends the deadline", async () => {
  await withClockAndKv(async (kv, clock) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const other = new DenoKvExecutionGuard(kv, LEASE);
    const lease = acquired(await guard.acquire(slot("renew", T0)));
    await clock.tickAsync(800); // T0 + 800: deadline T0 + 1000
    assert.equal(await guard.renew(lease), "renewed"); // deadline T0 + 1800
    await clock.tickAsync(400); // T0 + 1200: past the original ttl
    assert.equal((await other.acquire(slot("renew", T0))).kind, "contended");
    assert.equal(await guard.renew(lease), "renewed"); // deadline T0 + 2200
    await clock.tickAsync(900); // T0 + 2100
    assert.equal((await other.acquire(slot("renew", T0))).kind, "contended");
    // Another guard instance holding the lease object may renew it too.
    assert.equal(await other.renew(lease), "renewed"); // deadline T0 + 3100
    await clock.tickAsync(999); // T0 + 3099
    assert.equal((await other.acquire(slot("renew", T0))).kind, "contended");
  });
});

Deno.test("DenoKvExecutionGuard renew with a wrong token or for an unknown slot is lost", async () => {
  await withClockAndKv(async (kv) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const lease = acquired(await guard.acquire(slot("wrong-token", T0)));
    assert.equal(await guard.renew({ ...lease, token: "not-mine" }), "lost");
    assert.equal(await guard.renew({ ...lease, token: "" }), "lost");
    assert.equal(
      await guard.renew({ ...lease, scheduledAt: new Date(T0 + 5) }),
      "lost",
      "a slot that was never acquired",
    );
    // The wrong-token attempts did not hurt the holder.
    assert.equal(await guard.renew(lease), "renewed");
    assert.equal(
      (await guard.acquire(slot("wrong-token", T0))).kind,
      "contended",
    );
  });
});

Deno.test("DenoKvExecutionGuard a lease not renewed by its deadline is lost and taken over", async () => {
  await withClockAndKv(async (kv, clock) => {
    const holder = new DenoKvExecutionGuard(kv, LEASE);
    const rival = new DenoKvExecutionGuard(kv, LEASE);
    const old = acquired(await holder.acquire(slot("takeover", T0)));
    await clock.tickAsync(999);
    assert.equal(
      (await rival.acquire(slot("takeover", T0))).kind,
      "contended",
      "still held just before the deadline",
    );
    await clock.tickAsync(2); // T0 + 1001: past the deadline
    assert.equal(await holder.renew(old), "lost");
    const taken = acquired(await rival.acquire(slot("takeover", T0)));
    assert.notEqual(taken.token, old.token);
    assert.ok(
      taken.fencingToken! > old.fencingToken!,
      `${taken.fencingToken} > ${old.fencingToken}`,
    );
    // The old holder can neither renew nor release the new holder's lease.
    assert.equal(await holder.renew(old), "lost");
    await holder.release(old);
    assert.equal(
      (await holder.acquire(slot("takeover", T0))).kind,
      "contended",
      "the new holder's lease stays",
    );
    assert.equal(await rival.renew(taken), "renewed");
    // The new holder completes it: still taken afterwards.
    await rival.release(taken);
    assert.equal(
      (await holder.acquire(slot("takeover", T0))).kind,
      "contended",
    );
  });
});

Deno.test("DenoKvExecutionGuard a lapsed lease that nobody took over can still be released as done", async () => {
  await withClockAndKv(async (kv, clock) => {
    const guard = new DenoKvExecutionGuard(kv, {
      ...LEASE,
      completedRetentionMs: 10_000,
    });
    const lease = acquired(await guard.acquire(slot("lapsed", T0)));
    await clock.tickAsync(1_500);
    await guard.release(lease);
    await clock.tickAsync(5_000);
    assert.equal(
      (await guard.acquire(slot("lapsed", T0))).kind,
      "contended",
      "the run completed, so the occurrence is done",
    );
  });
});

// ---------------------------------------------------------------------------
// Release and completed retention
// ---------------------------------------------------------------------------

Deno.test("DenoKvExecutionGuard release only acts for the owner's token", async () => {
  await withClockAndKv(async (kv) => {
    const guard = new DenoKvExecutionGuard(kv, {
      ...LEASE,
      completedRetentionMs: 0,
    });
    const lease = acquired(await guard.acquire(slot("owner", T0)));
    await guard.release({ ...lease, token: "intruder" });
    assert.equal(
      (await guard.acquire(slot("owner", T0))).kind,
      "contended",
      "a wrong-token release leaves the lease held",
    );
    assert.equal(await guard.renew(lease), "renewed", "still held");
    await guard.release(lease);
    assert.equal(await guard.renew(lease), "lost", "released");
    // completedRetentionMs 0: the owner's release frees the slot at once.
    acquired(await guard.acquire(slot("owner", T0)));
  });
});

Deno.test("DenoKvExecutionGuard a released occurrence stays done for completedRetentionMs", async () => {
  await withClockAndKv(async (kv, clock) => {
    const guard = new DenoKvExecutionGuard(kv, {
      ...LEASE,
      completedRetentionMs: 5_000,
    });
    const other = new DenoKvExecutionGuard(kv, {
      ...LEASE,
      completedRetentionMs: 5_000,
    });
    const first = acquired(await guard.acquire(slot("retained", T0)));
    await clock.tickAsync(100);
    await guard.release(first); // done until T0 + 5100
    assert.equal(await guard.renew(first), "lost");
    await clock.tickAsync(1_000); // past the ttl, long within the retention
    assert.equal((await other.acquire(slot("retained", T0))).kind, "contended");
    await clock.tickAsync(3_999); // T0 + 5099
    assert.equal((await other.acquire(slot("retained", T0))).kind, "contended");
    // Releasing again, or renewing, does not extend or revive it.
    await guard.release(first);
    await clock.tickAsync(2); // T0 + 5101
    const again = acquired(await other.acquire(slot("retained", T0)));
    assert.ok(again.fencingToken! > first.fencingToken!);
  });
});

Deno.test("DenoKvExecutionGuard completedRetentionMs defaults to one hour", async () => {
  await withClockAndKv(async (kv, clock) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    acquired(await guard.acquire(slot("hour", T0)));
    const lease = acquired(await guard.acquire(slot("hour", T0 + 1)));
    await guard.release(lease);
    await clock.tickAsync(3_600_000 - 1);
    assert.equal((await guard.acquire(slot("hour", T0 + 1))).kind, "contended");
    await clock.tickAsync(2);
    acquired(await guard.acquire(slot("hour", T0 + 1)));
  });
});

Deno.test("DenoKvExecutionGuard completedRetentionMs 0 frees a released occurrence at once", async () => {
  await withClockAndKv(async (kv) => {
    const guard = new DenoKvExecutionGuard(kv, {
      ...LEASE,
      completedRetentionMs: 0,
    });
    const tokens: bigint[] = [];
    for (let i = 0; i < 3; i++) {
      const lease = acquired(await guard.acquire(slot("zero", T0)));
      tokens.push(lease.fencingToken!);
      assert.equal((await guard.acquire(slot("zero", T0))).kind, "contended");
      await guard.release(lease);
    }
    // Removing the lease never resets the fencing counter.
    assert.ok(tokens[0] < tokens[1] && tokens[1] < tokens[2], String(tokens));
  });
});

// ---------------------------------------------------------------------------
// Fencing tokens
// ---------------------------------------------------------------------------

Deno.test("DenoKvExecutionGuard fencing tokens strictly increase per job id", async () => {
  await withClockAndKv(async (kv, clock) => {
    const a = new DenoKvExecutionGuard(kv, LEASE);
    const b = new DenoKvExecutionGuard(kv, LEASE);
    const tokens: bigint[] = [];
    const grant = (lease: ExecutionLease) => {
      assert.equal(typeof lease.fencingToken, "bigint");
      tokens.push(lease.fencingToken!);
      return lease;
    };
    const first = grant(acquired(await a.acquire(slot("fenced", T0))));
    await a.release(first);
    grant(acquired(await b.acquire(slot("fenced", T0 + 1_000))));
    const lapsing = grant(
      acquired(await a.acquire(slot("fenced", T0 + 2_000))),
    );
    await clock.tickAsync(1_001);
    assert.equal(await a.renew(lapsing), "lost");
    grant(acquired(await b.acquire(slot("fenced", T0 + 2_000)))); // takeover
    // An earlier scheduledAt acquired later still gets a higher token.
    grant(acquired(await a.acquire(slot("fenced", T0 - 60_000))));
    assert.equal(tokens.length, 5);
    for (let i = 1; i < tokens.length; i++) {
      assert.ok(tokens[i] > tokens[i - 1], `tokens ${tokens.join(", ")}`);
    }
    // Another job id has its own counter, untouched by the grants above.
    // (A new counter starts from the time in microseconds.)
    const other = acquired(await b.acquire(slot("other-job", T0)));
    assert.equal(other.fencingToken, BigInt(Date.now()) * 1000n + 1n);
    const other2 = acquired(await a.acquire(slot("other-job", T0 + 1)));
    assert.equal(other2.fencingToken, other.fencingToken! + 1n);
    // ...and it did not advance the first job's counter.
    const next = acquired(await a.acquire(slot("fenced", T0 + 9_000)));
    assert.equal(next.fencingToken, tokens.at(-1)! + 1n);
  });
});

Deno.test("DenoKvExecutionGuard contended acquires do not consume fencing tokens", async () => {
  await withClockAndKv(async (kv) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const first = acquired(await guard.acquire(slot("no-burn", T0)));
    for (let i = 0; i < 5; i++) {
      assert.equal(
        (await guard.acquire(slot("no-burn", T0))).kind,
        "contended",
      );
    }
    const second = acquired(await guard.acquire(slot("no-burn", T0 + 1)));
    assert.equal(second.fencingToken, first.fencingToken! + 1n);
  });
});

// ---------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------

Deno.test("DenoKvExecutionGuard 20 concurrent acquires from two guards: exactly one wins", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const guards = [
      new DenoKvExecutionGuard(kv, LEASE),
      new DenoKvExecutionGuard(kv, LEASE),
    ];
    for (let round = 0; round < 5; round++) {
      const target = slot("race", Date.UTC(2026, 0, 1) + round);
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => guards[i % 2].acquire(target)),
      );
      const winners = answers.filter((a) => a.kind === "acquired");
      assert.equal(winners.length, 1, `round ${round}`);
      assert.equal(
        answers.filter((a) => a.kind === "contended").length,
        19,
      );
    }
  } finally {
    kv.close();
  }
});

Deno.test("DenoKvExecutionGuard two connections to one KV file: exactly one wins, no errors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kv-guard-test-" });
  try {
    const path = `${dir}/guard.kv`;
    const kv1 = await Deno.openKv(path);
    try {
      const kv2 = await Deno.openKv(path);
      try {
        const guards = [
          new DenoKvExecutionGuard(kv1, LEASE),
          new DenoKvExecutionGuard(kv2, LEASE),
        ];
        const tokens: bigint[] = [];
        for (let round = 0; round < 3; round++) {
          const target = slot("file-race", Date.UTC(2026, 0, 1) + round);
          const answers = await Promise.all(
            Array.from({ length: 20 }, (_, i) => guards[i % 2].acquire(target)),
          );
          const winners = answers.filter((a) => a.kind === "acquired");
          assert.equal(winners.length, 1, `round ${round}`);
          tokens.push(acquired(winners[0]).fencingToken!);
        }
        assert.deepEqual(tokens, [tokens[0], tokens[0] + 1n, tokens[0] + 2n]);
      } finally {
        kv2.close();
      }
    } finally {
      kv1.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------
// Validation and corrupt data
// ---------------------------------------------------------------------------

Deno.test("DenoKvExecutionGuard rejects an invalid lease config with a data error naming the value", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const cases: ReadonlyArray<readonly [LeaseConfig, string]> = [
      [{ ttlMs: 0, renewIntervalMs: 300 }, "0"],
      [{ ttlMs: -1, renewIntervalMs: 300 }, "-1"],
      [{ ttlMs: 1.5, renewIntervalMs: 1 }, "1.5"],
      [{ ttlMs: NaN, renewIntervalMs: 300 }, "NaN"],
      [{ ttlMs: Infinity, renewIntervalMs: 300 }, "Infinity"],
      [{ ttlMs: 1_000, renewIntervalMs: 0 }, "0"],
      [{ ttlMs: 1_000, renewIntervalMs: -5 }, "-5"],
      [{ ttlMs: 1_000, renewIntervalMs: 2.5 }, "2.5"],
      [{ ttlMs: 1_000, renewIntervalMs: 1_000 }, "1000"],
      [{ ttlMs: 1_000, renewIntervalMs: 1_500 }, "1500"],
      [{ ttlMs: 1_000, renewIntervalMs: 300, completedRetentionMs: -1 }, "-1"],
      [
        { ttlMs: 1_000, renewIntervalMs: 300, completedRetentionMs: 0.5 },
        "0.5",
      ],
      [
        { ttlMs: 1_000, renewIntervalMs: 300, completedRetentionMs: NaN },
        "NaN",
      ],
      [
        { ttlMs: "1000" as unknown as number, renewIntervalMs: 300 },
        "1000",
      ],
    ];
    for (const [config, named] of cases) {
      assert.throws(
        () => new DenoKvExecutionGuard(kv, config),
        (error: unknown) => {
          assert.ok(
            error instanceof ExecutionGuardError,
            `${JSON.stringify(config)}: ${String(error)}`,
          );
          assert.equal(error.kind, "data");
          assert.ok(
            error.message.includes(named),
            `${JSON.stringify(error.message)} should name ${named}`,
          );
          return true;
        },
        `accepted ${JSON.stringify(config)}`,
      );
    }
    assert.throws(
      () => new DenoKvExecutionGuard(kv, undefined as unknown as LeaseConfig),
      (error: unknown) =>
        error instanceof ExecutionGuardError && error.kind === "data",
    );
  } finally {
    kv.close();
  }
});

Deno.test("DenoKvExecutionGuard renewIntervalMs() returns the configured value", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const guard = new DenoKvExecutionGuard(kv, {
      ttlMs: 30_000,
      renewIntervalMs: 7_500,
    });
    assert.equal(guard.renewIntervalMs(), 7_500);
    const answer = await guard.acquire(slot("interval", Date.now()));
    assert.equal(guard.renewIntervalMs(acquired(answer)), 7_500);
    const minimal = new DenoKvExecutionGuard(kv, {
      ttlMs: 2,
      renewIntervalMs: 1,
      completedRetentionMs: 0,
    });
    assert.equal(minimal.renewIntervalMs(), 1);
  } finally {
    kv.close();
  }
});

/** Every KV entry, to find what the guard wrote without knowing its keys. */
async function entries(kv: Deno.Kv): Promise<Deno.KvEntry<unknown>[]> {
  const all: Deno.KvEntry<unknown>[] = [];
  for await (const entry of kv.list({ prefix: [] })) all.push(entry);
  return all;
}

Deno.test("DenoKvExecutionGuard a corrupt lease record is a data error naming the key; acquire sets it aside under quarantine and the next acquire is granted", async () => {
  await withClockAndKv(async (kv) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const lease = acquired(await guard.acquire(slot("corrupt", T0)));
    // The lease record is the entry that holds the lease's token.
    const records = (await entries(kv)).filter((entry) =>
      typeof entry.value === "object" && entry.value !== null &&
      (entry.value as { token?: unknown }).token === lease.token
    );
    assert.equal(records.length, 1, "one lease record");
    const key = records[0].key;
    for (const garbage of ["garbage", 42, { token: lease.token }]) {
      await kv.set(key, garbage);
      await assertGuardError(guard.renew(lease), "data", "corrupt");
      assert.deepEqual((await kv.get(key)).value, garbage, "renew leaves it");
      const error = await assertGuardError(
        guard.acquire(slot("corrupt", T0)),
        "data",
        "corrupt",
      );
      assert.match(error.message, /"lease", "corrupt"/);
      assert.match(
        error.message,
        /set aside at \[.*"quarantine", "lease", "corrupt"/,
      );
      assert.equal((await kv.get(key)).value, null, "moved away");
      const moved = (await entries(kv)).filter((entry) =>
        entry.key.includes("quarantine")
      );
      assert.deepEqual(moved.map((entry) => entry.value), [garbage]);
      for (const entry of moved) await kv.delete(entry.key);
      acquired(await guard.acquire(slot("corrupt", T0)));
    }
  });
});

Deno.test("DenoKvExecutionGuard a corrupt fencing counter is a data error naming the key; it is set aside under quarantine and the next grant's token is above every earlier one", async () => {
  await withClockAndKv(async (kv) => {
    const guard = new DenoKvExecutionGuard(kv, {
      ...LEASE,
      completedRetentionMs: 0,
    });
    const lease = acquired(await guard.acquire(slot("bad-fence", T0)));
    await guard.release(lease); // retention 0: only the counter is left
    const left = await entries(kv);
    assert.equal(left.length, 1, "only the fencing counter remains");
    assert.equal(left[0].value, lease.fencingToken);
    await kv.set(left[0].key, "seven");
    const error = await assertGuardError(
      guard.acquire(slot("bad-fence", T0 + 1)),
      "data",
      "bad-fence",
    );
    assert.match(error.message, /fencing counter \[.*"fence", "bad-fence"\]/);
    assert.match(error.message, /"quarantine", "fence", "bad-fence", \d+\]/);
    assert.equal((await kv.get(left[0].key)).value, null);
    const next = acquired(await guard.acquire(slot("bad-fence", T0 + 1)));
    assert.ok(next.fencingToken! > lease.fencingToken!);
    const moved = (await entries(kv)).filter((entry) =>
      entry.key.includes("quarantine")
    );
    assert.deepEqual(moved.map((entry) => entry.value), ["seven"]);
  });
});

Deno.test("DenoKvExecutionGuard acquire with an invalid slot is a data error", async () => {
  await withClockAndKv(async (kv) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE);
    const bad: unknown[] = [
      undefined,
      null,
      {},
      { scheduledAt: new Date(T0) },
      { jobId: undefined, scheduledAt: new Date(T0) },
      { jobId: 7, scheduledAt: new Date(T0) },
      { jobId: "j" },
      { jobId: "j", scheduledAt: new Date(NaN) },
      { jobId: "j", scheduledAt: "2026-04-03T01:02:03Z" },
      { jobId: "j", scheduledAt: T0 },
    ];
    for (const value of bad) {
      await assertGuardError(
        guard.acquire(value as ExecutionSlot),
        "data",
      );
    }
    assert.deepEqual(await entries(kv), [], "nothing was written");
  });
});

Deno.test("DenoKvExecutionGuard on a closed KV fails with an ExecutionGuardError", async () => {
  const kv = await Deno.openKv(":memory:");
  const guard = new DenoKvExecutionGuard(kv, LEASE);
  const lease = acquired(await guard.acquire(slot("closed", Date.now())));
  kv.close();
  await assertGuardError(
    guard.acquire(slot("closed", Date.now() + 1)),
    "connection",
    "closed",
  );
  await assertGuardError(guard.renew(lease), "connection", "closed");
});

// ---------------------------------------------------------------------------
// Through the scheduler
// ---------------------------------------------------------------------------

interface RunSeen {
  readonly who: string;
  readonly scheduledAt: number;
  readonly fencingToken: bigint | undefined;
}

async function twoSchedulers(
  kv: Deno.Kv,
  clock: FakeClock,
  io: KvIo,
  guards: readonly [DenoKvExecutionGuard, DenoKvExecutionGuard],
): Promise<void> {
  const times = [100, 200, 300, 400, 500].map((ms) => T0 + ms);
  const seen: RunSeen[] = [];
  const job = (who: string) =>
    Job.withoutDeps(
      "shared-job",
      Schedule.atTimes(times),
      Task.fromAsync(async ({ run }) => {
        seen.push({
          who,
          scheduledAt: run.scheduledAt.getTime(),
          fencingToken: run.fencingToken,
        });
        await delay(30);
      }),
    );
  const a = Scheduler.withExecutionGuard(
    {},
    new InMemoryStateStore(),
    guards[0],
  );
  const b = Scheduler.withExecutionGuard(
    {},
    new InMemoryStateStore(),
    guards[1],
  );
  const eventsA = recordEvents(a);
  const eventsB = recordEvents(b);
  const [reportA, reportB] = await drive(
    clock,
    Promise.all([a.run(job("a")), b.run(job("b"))]),
    io,
  );
  assert.equal(reportA.stopReason, "terminal");
  assert.equal(reportB.stopReason, "terminal");
  assert.equal(reportA.state.triggerCount, 5);
  assert.equal(reportB.state.triggerCount, 5);

  // Every occurrence ran exactly once in total.
  assert.deepEqual(seen.map((s) => s.scheduledAt).sort(), times);
  assert.equal(reportA.history.length + reportB.history.length, 5);

  // The loser of each occurrence saw it contended.
  const contended = (events: SchedulerEvent[]) =>
    events.flatMap((e) =>
      e.type === "execution-guard-contended" ? [e.scheduledAt.getTime()] : []
    );
  for (const run of seen) {
    const loser = run.who === "a" ? eventsB : eventsA;
    assert.ok(
      contended(loser).includes(run.scheduledAt),
      `the loser of ${run.scheduledAt - T0} saw it contended`,
    );
  }
  assert.equal(contended(eventsA).length + contended(eventsB).length, 5);
  assert.equal(
    [...eventsA, ...eventsB].some((e) => e.type === "execution-guard-lost"),
    false,
  );

  // Fencing tokens reach the runs and the run-started events, increasing.
  const inOrder = [...seen].sort((x, y) => x.scheduledAt - y.scheduledAt);
  for (const run of inOrder) {
    assert.equal(typeof run.fencingToken, "bigint");
  }
  for (let i = 1; i < inOrder.length; i++) {
    assert.ok(inOrder[i].fencingToken! > inOrder[i - 1].fencingToken!);
  }
  const started = [...eventsA, ...eventsB].flatMap((e) =>
    e.type === "run-started" ? [[e.scheduledAt.getTime(), e.fencingToken]] : []
  ).sort((x, y) => Number(x[0]) - Number(y[0]));
  assert.deepEqual(
    started,
    inOrder.map((run) => [run.scheduledAt, run.fencingToken]),
  );

  // Every occurrence is marked done: a third instance cannot take any.
  const late = new DenoKvExecutionGuard(kv, LEASE);
  for (const at of times) {
    assert.equal(
      (await late.acquire(slot("shared-job", at))).kind,
      "contended",
    );
  }
}

Deno.test("two schedulers sharing one DenoKvExecutionGuard run each occurrence once", async () => {
  await withClockAndKv(async (kv, clock, io) => {
    const guard = new DenoKvExecutionGuard(kv, {
      ttlMs: 10_000,
      renewIntervalMs: 3_000,
    });
    await twoSchedulers(kv, clock, io, [guard, guard]);
  });
});

Deno.test("two schedulers with two DenoKvExecutionGuards on one KV run each occurrence once", async () => {
  await withClockAndKv(async (kv, clock, io) => {
    const config = { ttlMs: 10_000, renewIntervalMs: 3_000 };
    await twoSchedulers(kv, clock, io, [
      new DenoKvExecutionGuard(kv, config),
      new DenoKvExecutionGuard(kv, config),
    ]);
  });
});

Deno.test("a run longer than ttlMs keeps its DenoKv lease through the scheduler's renewals", async () => {
  await withClockAndKv(async (kv, clock, io) => {
    const guard = new DenoKvExecutionGuard(kv, LEASE); // ttl 1000, renew 300
    const rival = new DenoKvExecutionGuard(kv, LEASE);
    const at = T0 + 100;
    const midRun: string[] = [];
    let signalAborted: boolean | undefined;
    const job = Job.withoutDeps(
      "long-run",
      Schedule.atTimes([at]),
      Task.fromAsync(async ({ signal }) => {
        for (let i = 0; i < 4; i++) {
          await delay(1_000);
          midRun.push((await rival.acquire(slot("long-run", at))).kind);
        }
        signalAborted = signal.aborted;
      }),
    );
    const scheduler = Scheduler.withExecutionGuard(
      {},
      new InMemoryStateStore(),
      guard,
    );
    const events = recordEvents(scheduler);
    const report = await drive(clock, scheduler.run(job), io);
    assert.deepEqual(midRun, [
      "contended",
      "contended",
      "contended",
      "contended",
    ]);
    assert.equal(signalAborted, false);
    assert.equal(report.stopReason, "terminal");
    assert.equal(report.history.length, 1);
    assert.equal(report.history[0].status, "success");
    assert.equal(events.some((e) => e.type === "execution-guard-lost"), false);
    // Released as done: still contended long after the ttl.
    await clock.tickAsync(10_000);
    assert.equal((await rival.acquire(slot("long-run", at))).kind, "contended");
  });
});
