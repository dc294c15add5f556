/**
 * The scheduler's execution-guard protocol, driven by a scripted guard on a
 * fake clock: a contended occurrence is skipped, acquire and release
 * failures are typed and reported, leases are renewed on their cadence, a
 * lost lease aborts its run and shuts the scheduler down, and the fencing
 * token reaches the run.
 */
import assert from "node:assert/strict";
import {
  type ExecutionGuard,
  type ExecutionGuardAcquire,
  ExecutionGuardError,
  ExecutionGuardErrorKind,
  type ExecutionGuardRenewal,
  type ExecutionLease,
  type ExecutionSlot,
  InMemoryStateStore,
  Job,
  NoopExecutionGuard,
  OverlapPolicy,
  type RunContext,
  RunStatus,
  Schedule,
  Scheduler,
  type SchedulerEvent,
  SchedulerStopReason,
  Task,
  type TaskContext,
} from "../mod.ts";
import { type FakeClock, withFakeClock } from "./_fake_time.ts";
import {
  Concurrency,
  delay,
  recordEvents,
  settle,
  T0,
} from "./_engine_helpers.ts";

// ---------------------------------------------------------------------------
// Fixture: a guard whose answers are scripted call by call.
// ---------------------------------------------------------------------------

/** What the n-th acquire does. */
type AcquirePlan =
  | "acquired"
  | "contended"
  | { readonly guardError: ExecutionGuardErrorKind; readonly message: string }
  | { readonly plainError: string }
  | { readonly malformed: unknown };

/** What the n-th renew does. */
type RenewPlan =
  | "renewed"
  | "lost"
  | { readonly guardError: ExecutionGuardErrorKind; readonly message: string };

/** What the n-th release does. */
type ReleasePlan =
  | "ok"
  | { readonly guardError: ExecutionGuardErrorKind; readonly message: string };

interface ScriptedGuardOptions {
  acquire?: AcquirePlan[];
  renew?: RenewPlan[];
  release?: ReleasePlan[];
  /** When set, the guard asks to be renewed this often. */
  renewIntervalMs?: number;
  /** How long each renew call takes (fake time); default: answers at once. */
  renewDelayMs?: number;
}

/** One call the guard received, in order. */
interface GuardCall {
  readonly op: "acquire" | "renew" | "renew-done" | "release";
  readonly at: number;
  /** The lease's token (renew, release) or the slot's scheduledAt (acquire). */
  readonly key: string;
}

class ScriptedGuard implements ExecutionGuard {
  readonly slots: ExecutionSlot[] = [];
  readonly leases: ExecutionLease[] = [];
  readonly renewed: ExecutionLease[] = [];
  readonly released: ExecutionLease[] = [];
  readonly calls: GuardCall[] = [];
  /** Errors the guard threw, in order (to check identity of rejections). */
  readonly thrown: unknown[] = [];
  acquireCount = 0;
  renewCount = 0;
  releaseCount = 0;
  renewIntervalMs?: (lease: ExecutionLease) => number | undefined;
  readonly #acquirePlan: AcquirePlan[];
  readonly #renewPlan: RenewPlan[];
  readonly #releasePlan: ReleasePlan[];
  readonly #renewDelayMs: number;
  #nextFencingToken = 1n;

  constructor(options: ScriptedGuardOptions = {}) {
    this.#acquirePlan = options.acquire ?? [];
    this.#renewPlan = options.renew ?? [];
    this.#releasePlan = options.release ?? [];
    this.#renewDelayMs = options.renewDelayMs ?? 0;
    const every = options.renewIntervalMs;
    if (every !== undefined) this.renewIntervalMs = () => every;
  }

  #throw(error: unknown): never {
    this.thrown.push(error);
    throw error;
  }

  acquire(slot: ExecutionSlot): Promise<ExecutionGuardAcquire> {
    const plan = this.#acquirePlan[this.acquireCount] ?? "acquired";
    this.acquireCount++;
    this.slots.push({
      jobId: slot.jobId,
      scheduledAt: new Date(slot.scheduledAt),
    });
    this.calls.push({
      op: "acquire",
      at: Date.now(),
      key: slot.scheduledAt.toISOString(),
    });
    return Promise.resolve().then(() => {
      if (plan === "contended") return { kind: "contended" } as const;
      if (plan === "acquired") {
        const fencingToken = this.#nextFencingToken++;
        const token = `token-${fencingToken}`;
        const lease: ExecutionLease = {
          jobId: slot.jobId,
          scheduledAt: new Date(slot.scheduledAt),
          token,
          leaseKey: `${slot.jobId}:${slot.scheduledAt.toISOString()}`,
          fencingToken,
        };
        this.leases.push(lease);
        return { kind: "acquired", lease } as const;
      }
      if ("guardError" in plan) {
        return this.#throw(
          new ExecutionGuardError(plan.message, { kind: plan.guardError }),
        );
      }
      if ("plainError" in plan) return this.#throw(new Error(plan.plainError));
      return plan.malformed as ExecutionGuardAcquire;
    });
  }

  renew(lease: ExecutionLease): Promise<ExecutionGuardRenewal> {
    const plan = this.#renewPlan[this.renewCount] ?? "renewed";
    this.renewCount++;
    this.renewed.push(lease);
    this.calls.push({ op: "renew", at: Date.now(), key: lease.token });
    const wait = this.#renewDelayMs > 0
      ? delay(this.#renewDelayMs)
      : Promise.resolve();
    return wait.then(() => {
      this.calls.push({ op: "renew-done", at: Date.now(), key: lease.token });
      if (plan === "renewed" || plan === "lost") return plan;
      return this.#throw(
        new ExecutionGuardError(plan.message, { kind: plan.guardError }),
      );
    });
  }

  release(lease: ExecutionLease): Promise<void> {
    const plan = this.#releasePlan[this.releaseCount] ?? "ok";
    this.releaseCount++;
    this.released.push(lease);
    this.calls.push({ op: "release", at: Date.now(), key: lease.token });
    return Promise.resolve().then(() => {
      if (plan === "ok") return;
      this.#throw(
        new ExecutionGuardError(plan.message, { kind: plan.guardError }),
      );
    });
  }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const JOB_ID = "guarded-job";

type EventOf<T extends SchedulerEvent["type"]> = Extract<
  SchedulerEvent,
  { type: T }
>;

function ofType<T extends SchedulerEvent["type"]>(
  events: readonly SchedulerEvent[],
  type: T,
): EventOf<T>[] {
  return events.filter((event): event is EventOf<T> => event.type === type);
}

function indexOfType(
  events: readonly SchedulerEvent[],
  type: SchedulerEvent["type"],
): number {
  return events.findIndex((event) => event.type === type);
}

function guardedScheduler(guard: ExecutionGuard): {
  scheduler: Scheduler;
  events: SchedulerEvent[];
} {
  const scheduler = Scheduler.withExecutionGuard(
    {},
    new InMemoryStateStore(),
    guard,
  );
  return { scheduler, events: recordEvents(scheduler) };
}

/** Rejects `promise` (driven by the clock) and hands back the error. */
async function rejection(
  clock: FakeClock,
  promise: Promise<unknown>,
): Promise<unknown> {
  let caught: unknown;
  await assert.rejects(settle(clock, promise), (error) => {
    caught = error;
    return true;
  });
  return caught;
}

// ---------------------------------------------------------------------------
// Ported from the Rust suite
// ---------------------------------------------------------------------------

Deno.test("guard: NoopExecutionGuard keeps behaviour and grants no fencing token", async () => {
  await withFakeClock(T0, async (clock) => {
    const { scheduler, events } = guardedScheduler(new NoopExecutionGuard());
    const contexts: RunContext[] = [];
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.atTimes([T0 + 20]),
      Task.fromAsync(({ run }) => {
        contexts.push(run);
        return Promise.resolve();
      }),
    ).withMaxRuns(1);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(contexts.length, 1);
    assert.equal(report.history.length, 1);
    assert.equal(report.history[0].status, RunStatus.Success);
    assert.equal(report.stopReason, SchedulerStopReason.Terminal);
    assert.equal("fencingToken" in contexts[0], false);
    const started = ofType(events, "run-started");
    assert.equal(started.length, 1);
    assert.equal(started[0].fencingToken, undefined);
  });
});

Deno.test("guard: a contended acquire skips the run and emits execution-guard-contended", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new ScriptedGuard({ acquire: ["contended"] });
    const { scheduler, events } = guardedScheduler(guard);
    let invocations = 0;
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.atTimes([T0 + 20]),
      Task.fromSync(() => {
        invocations++;
      }),
    ).withMaxRuns(1);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(invocations, 0);
    assert.deepEqual(report.history, []);
    assert.equal(report.state.triggerCount, 1);
    assert.equal(report.stopReason, SchedulerStopReason.Terminal);
    assert.equal(guard.acquireCount, 1);
    assert.equal(guard.releaseCount, 0, "a contended slot is never released");
    const contended = ofType(events, "execution-guard-contended");
    assert.equal(contended.length, 1);
    assert.deepEqual(contended[0], {
      type: "execution-guard-contended",
      jobId: JOB_ID,
      scheduledAt: new Date(T0 + 20),
      catchUp: false,
      triggerCount: 1,
    });
    assert.equal(ofType(events, "run-started").length, 0);
    assert.equal(ofType(events, "run-completed").length, 0);
  });
});

Deno.test("guard: scheduling goes on after a contended occurrence", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new ScriptedGuard({ acquire: ["contended", "acquired"] });
    const { scheduler } = guardedScheduler(guard);
    const seen: number[] = [];
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.atTimes([T0 + 20, T0 + 40]),
      Task.fromSync(({ run }) => {
        seen.push(run.scheduledAt.getTime());
      }),
    );
    const report = await settle(clock, scheduler.run(job));
    assert.deepEqual(seen, [T0 + 40]);
    assert.equal(report.history.length, 1);
    assert.equal(report.history[0].scheduledAt.getTime(), T0 + 40);
    assert.equal(report.state.triggerCount, 2);
    assert.equal(guard.acquireCount, 2);
  });
});

Deno.test("guard: an acquire error rejects run() with that ExecutionGuardError and emits scheduler-stopped failed", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new ScriptedGuard({
      acquire: [{
        guardError: ExecutionGuardErrorKind.Connection,
        message: "guard connection failed",
      }],
    });
    const { scheduler, events } = guardedScheduler(guard);
    let invocations = 0;
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.atTimes([T0 + 20]),
      Task.fromSync(() => {
        invocations++;
      }),
    ).withMaxRuns(1);
    const error = await rejection(clock, scheduler.run(job));
    assert.ok(error instanceof ExecutionGuardError);
    assert.equal(error.kind, ExecutionGuardErrorKind.Connection);
    assert.equal(error.message, "guard connection failed");
    assert.equal(error, guard.thrown[0], "the guard's own error is passed on");
    assert.equal(invocations, 0);
    const stopped = ofType(events, "scheduler-stopped");
    assert.equal(stopped.length, 1);
    assert.equal(stopped[0].reason, SchedulerStopReason.Failed);
    assert.equal(stopped[0].error, "guard connection failed");
    assert.equal(stopped[0].jobId, JOB_ID);
    assert.equal(stopped[0].triggerCount, 1);
    assert.equal(events.at(-1)?.type, "scheduler-stopped");
  });
});

Deno.test("guard: an acquire error of kind data is asked again once; still failing, it counts as contended: reported each time, saved as lastError, not run, later occurrences go on", async () => {
  await withFakeClock(T0, async (clock) => {
    const corrupt = {
      guardError: ExecutionGuardErrorKind.Data,
      message: 'the lease record ["lease", "x"] is corrupt: "garbage"',
    };
    const guard = new ScriptedGuard({
      acquire: [corrupt, corrupt, "acquired"],
    });
    const store = new InMemoryStateStore();
    const scheduler = Scheduler.withExecutionGuard({}, store, guard);
    const events = recordEvents(scheduler);
    const stored: (string | null)[] = [];
    const seen: number[] = [];
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.atTimes([T0 + 20, T0 + 40]),
      Task.fromAsync(async ({ run }) => {
        seen.push(run.scheduledAt.getTime());
        stored.push((await store.load(JOB_ID))?.lastError ?? null);
      }),
    );
    const report = await settle(clock, scheduler.run(job));
    assert.deepEqual(seen, [T0 + 40]);
    assert.deepEqual(stored, [corrupt.message], "saved before the next run");
    assert.equal(report.stopReason, SchedulerStopReason.Terminal);
    assert.equal(report.state.triggerCount, 2);
    assert.equal(report.state.lastError, null, "cleared by the later success");
    const failed = ofType(events, "execution-guard-acquire-failed");
    assert.equal(failed.length, 2);
    for (const event of failed) {
      assert.deepEqual(event, {
        type: "execution-guard-acquire-failed",
        jobId: JOB_ID,
        scheduledAt: new Date(T0 + 20),
        catchUp: false,
        triggerCount: 1,
        error: corrupt.message,
        errorKind: "data",
      });
    }
    assert.equal(ofType(events, "execution-guard-contended").length, 0);
    assert.equal(guard.releaseCount, 1, "only the granted lease is released");
  });
});

Deno.test("guard: an acquire error of kind data set aside by the guard (the second ask succeeds): the occurrence runs, the damage is reported", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new ScriptedGuard({
      acquire: [{
        guardError: ExecutionGuardErrorKind.Data,
        message: "the fencing counter k is corrupt; set aside at q",
      }, "acquired"],
    });
    const { scheduler, events } = guardedScheduler(guard);
    const seen: number[] = [];
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.atTimes([T0 + 20]),
      Task.fromSync(({ run }) => void seen.push(run.scheduledAt.getTime())),
    );
    const report = await settle(clock, scheduler.run(job));
    assert.deepEqual(seen, [T0 + 20]);
    assert.equal(ofType(events, "execution-guard-acquire-failed").length, 1);
    assert.equal(report.stopReason, SchedulerStopReason.Terminal);
  });
});

Deno.test("guard: a job whose every grant fails with a data error never ends terminal with lastError null", async () => {
  await withFakeClock(T0, async (clock) => {
    const corrupt = {
      guardError: ExecutionGuardErrorKind.Data,
      message: "the fencing counter k is corrupt",
    };
    const guard = new ScriptedGuard({
      acquire: Array.from({ length: 6 }, () => corrupt),
    });
    const { scheduler, events } = guardedScheduler(guard);
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.atTimes([T0 + 20, T0 + 40, T0 + 60]),
      Task.fromSync(() => {}),
    );
    const report = await settle(clock, scheduler.run(job));
    assert.equal(report.stopReason, SchedulerStopReason.Terminal);
    assert.equal(report.history.length, 0);
    assert.equal(report.state.lastError, corrupt.message);
    assert.equal(ofType(events, "execution-guard-acquire-failed").length, 6);
  });
});

Deno.test("guard: a plain Error thrown by acquire becomes ExecutionGuardError kind unknown", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new ScriptedGuard({
      acquire: [{ plainError: "socket hang up" }],
    });
    const { scheduler, events } = guardedScheduler(guard);
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.atTimes([T0 + 20]),
      Task.fromSync(() => {}),
    ).withMaxRuns(1);
    const error = await rejection(clock, scheduler.run(job));
    assert.ok(error instanceof ExecutionGuardError);
    assert.equal(error.kind, ExecutionGuardErrorKind.Unknown);
    assert.match(error.message, /socket hang up/);
    const stopped = ofType(events, "scheduler-stopped");
    assert.equal(stopped.length, 1);
    assert.equal(stopped[0].reason, SchedulerStopReason.Failed);
    assert.equal(stopped[0].error, error.message);
  });
});

Deno.test("guard: an acquire error waits for the in-flight run, whose run-completed precedes scheduler-stopped", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new ScriptedGuard({
      acquire: ["acquired", {
        guardError: ExecutionGuardErrorKind.Connection,
        message: "guard connection failed",
      }],
    });
    const { scheduler, events } = guardedScheduler(guard);
    let firstFinished = false;
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.atTimes([T0 + 20, T0 + 40]),
      Task.fromAsync(async () => {
        await delay(80);
        firstFinished = true;
      }),
    ).withOverlapPolicy(OverlapPolicy.AllowParallel);
    let rejectedAt: number | undefined;
    let finishedWhenRejected: boolean | undefined;
    const running = scheduler.run(job).catch((error) => {
      rejectedAt = Date.now();
      finishedWhenRejected = firstFinished;
      throw error;
    });
    const error = await rejection(clock, running);
    assert.ok(error instanceof ExecutionGuardError);
    assert.equal(error.kind, ExecutionGuardErrorKind.Connection);
    assert.equal(
      finishedWhenRejected,
      true,
      "the first run settled before run() rejected",
    );
    assert.ok(rejectedAt !== undefined && rejectedAt >= T0 + 100);
    assert.equal(guard.acquireCount, 2);
    assert.equal(guard.releaseCount, 1, "the first run's lease is released");
    const completed = ofType(events, "run-completed");
    assert.equal(completed.length, 1);
    assert.equal(completed[0].status, RunStatus.Success);
    assert.equal(completed[0].scheduledAt.getTime(), T0 + 20);
    const completedAt = indexOfType(events, "run-completed");
    const stoppedAt = indexOfType(events, "scheduler-stopped");
    assert.ok(completedAt >= 0 && stoppedAt > completedAt);
    const stopped = ofType(events, "scheduler-stopped");
    assert.equal(stopped.length, 1);
    assert.equal(stopped[0].reason, SchedulerStopReason.Failed);
    assert.equal(stopped[0].error, "guard connection failed");
  });
});

Deno.test("guard: forbid drops an overlapping trigger before acquiring", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new ScriptedGuard();
    const { scheduler, events } = guardedScheduler(guard);
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.atTimes([T0 + 20, T0 + 40]),
      Task.fromAsync(() => delay(80)),
    ).withOverlapPolicy(OverlapPolicy.Forbid);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(guard.acquireCount, 1);
    assert.deepEqual(guard.slots.map((slot) => slot.scheduledAt.getTime()), [
      T0 + 20,
    ]);
    assert.equal(report.state.triggerCount, 2);
    assert.equal(report.history.length, 1);
    const skipped = ofType(events, "run-skipped");
    assert.equal(skipped.length, 1);
    assert.equal(skipped[0].reason, "overlap");
    assert.equal(skipped[0].count, 1);
    assert.equal(skipped[0].scheduledAt.getTime(), T0 + 40);
  });
});

Deno.test("guard: a queued trigger acquires only when it is dequeued", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new ScriptedGuard();
    const { scheduler } = guardedScheduler(guard);
    let invocations = 0;
    const acquiresAfterFirstRun: number[] = [];
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.atTimes([T0 + 20, T0 + 40]),
      Task.fromAsync(async () => {
        invocations++;
        if (invocations === 1) {
          await delay(80);
          acquiresAfterFirstRun.push(guard.acquireCount);
        }
      }),
    ).withOverlapPolicy(OverlapPolicy.QueueOne);
    const report = await settle(clock, scheduler.run(job));
    assert.deepEqual(acquiresAfterFirstRun, [1]);
    assert.equal(invocations, 2);
    assert.equal(guard.acquireCount, 2);
    assert.equal(report.history.length, 2);
    assert.ok(
      report.history.every((record) => record.status === RunStatus.Success),
    );
    const acquires = guard.calls.filter((call) => call.op === "acquire");
    assert.equal(acquires[1].key, new Date(T0 + 40).toISOString());
    assert.ok(acquires[1].at >= T0 + 100, "acquired after the first run ended");
  });
});

Deno.test("guard: a release error only emits execution-guard-release-failed", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new ScriptedGuard({
      release: [{
        guardError: ExecutionGuardErrorKind.Connection,
        message: "release failed",
      }],
    });
    const { scheduler, events } = guardedScheduler(guard);
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.atTimes([T0 + 20]),
      Task.fromSync(() => {}),
    ).withMaxRuns(1);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(report.stopReason, SchedulerStopReason.Terminal);
    assert.equal(report.history.length, 1);
    assert.equal(report.history[0].status, RunStatus.Success);
    assert.equal(guard.releaseCount, 1);
    const failed = ofType(events, "execution-guard-release-failed");
    assert.deepEqual(failed, [{
      type: "execution-guard-release-failed",
      jobId: JOB_ID,
      scheduledAt: new Date(T0 + 20),
      catchUp: false,
      triggerCount: 1,
      error: "release failed",
      errorKind: "connection",
    }]);
    const completed = ofType(events, "run-completed");
    assert.equal(completed.length, 1);
    assert.equal(completed[0].status, RunStatus.Success);
    assert.equal(
      ofType(events, "scheduler-stopped")[0].reason,
      SchedulerStopReason.Terminal,
    );
  });
});

// ---------------------------------------------------------------------------
// Lost leases
// ---------------------------------------------------------------------------

interface SignalObservation {
  aborted: boolean;
  reason: unknown;
}

Deno.test("guard: a lost renewal aborts the run's signal, emits execution-guard-lost and shuts down", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new ScriptedGuard({ renew: ["lost"], renewIntervalMs: 20 });
    const { scheduler, events } = guardedScheduler(guard);
    const observed: SignalObservation[] = [];
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.interval(10),
      Task.fromAsync(async ({ signal }) => {
        await delay(80);
        observed.push({ aborted: signal.aborted, reason: signal.reason });
      }),
    ).withMaxRuns(10);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(report.stopReason, SchedulerStopReason.Shutdown);
    assert.equal(report.history.length, 1);
    assert.ok(report.state.triggerCount >= 1);
    assert.ok(
      report.state.triggerCount < 10,
      "no triggers after the lease was lost",
    );
    assert.equal(observed.length, 1);
    assert.equal(observed[0].aborted, true);
    const reason = observed[0].reason;
    assert.ok(reason instanceof DOMException);
    assert.equal(reason.name, "AbortError");
    assert.match(reason.message, /lease/i);
    assert.equal(guard.renewCount, 1, "no renewal after the lease was lost");
    assert.equal(guard.releaseCount, 1, "the lease is still released");
    const lost = ofType(events, "execution-guard-lost");
    assert.equal(lost.length, 1);
    assert.deepEqual(lost[0], {
      type: "execution-guard-lost",
      jobId: JOB_ID,
      scheduledAt: new Date(T0 + 10),
      catchUp: false,
      triggerCount: 1,
    });
    const stopped = ofType(events, "scheduler-stopped");
    assert.equal(stopped.length, 1);
    assert.equal(stopped[0].reason, SchedulerStopReason.Shutdown);
    assert.equal(stopped[0].error, undefined);
    assert.equal(clock.countTimers(), 0);
  });
});

function abortableTask(ms: number) {
  return Task.fromAsync(({ signal }: TaskContext<undefined>) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(signal.reason);
      }, { once: true });
    })
  );
}

Deno.test("guard: a task that rejects when its lease is lost is recorded as cancelled", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new ScriptedGuard({ renew: ["lost"], renewIntervalMs: 20 });
    const { scheduler, events } = guardedScheduler(guard);
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.interval(10),
      abortableTask(80),
    )
      .withMaxRuns(10);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(report.stopReason, SchedulerStopReason.Shutdown);
    assert.equal(report.history.length, 1);
    const [record] = report.history;
    assert.equal(record.status, RunStatus.Cancelled);
    assert.match(record.error ?? "", /lease/i);
    assert.ok(
      record.finishedAt.getTime() - record.startedAt.getTime() < 80,
      "the run ended when its lease was lost, not after 80 ms",
    );
    assert.equal(ofType(events, "execution-guard-lost").length, 1);
    assert.equal(
      ofType(events, "run-completed")[0].status,
      RunStatus.Cancelled,
    );
    assert.equal(guard.releaseCount, 1);
  });
});

Deno.test("guard: a renewal that throws is treated like a lost lease", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new ScriptedGuard({
      renew: [{
        guardError: ExecutionGuardErrorKind.Connection,
        message: "renew failed",
      }],
      renewIntervalMs: 20,
    });
    const { scheduler, events } = guardedScheduler(guard);
    const observed: SignalObservation[] = [];
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.interval(10),
      Task.fromAsync(async ({ signal }) => {
        await delay(80);
        observed.push({ aborted: signal.aborted, reason: signal.reason });
      }),
    ).withMaxRuns(10);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(report.stopReason, SchedulerStopReason.Shutdown);
    assert.equal(report.history.length, 1);
    assert.equal(observed.length, 1);
    assert.equal(observed[0].aborted, true);
    assert.ok(observed[0].reason instanceof DOMException);
    assert.equal(observed[0].reason.name, "AbortError");
    assert.equal(ofType(events, "execution-guard-lost").length, 1);
    assert.equal(guard.renewCount, 1);
    assert.equal(guard.releaseCount, 1);
    assert.equal(
      ofType(events, "scheduler-stopped")[0].reason,
      SchedulerStopReason.Shutdown,
    );
  });
});

// ---------------------------------------------------------------------------
// Renewal cadence and lease bookkeeping
// ---------------------------------------------------------------------------

Deno.test("guard: renews every renewIntervalMs while running, never after release, leaves no timers", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new ScriptedGuard({ renewIntervalMs: 20 });
    const { scheduler, events } = guardedScheduler(guard);
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.atTimes([T0 + 20]),
      Task.fromAsync(() => delay(100)),
    ).withMaxRuns(1);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(report.stopReason, SchedulerStopReason.Terminal);
    assert.equal(report.history.length, 1);
    assert.equal(report.history[0].status, RunStatus.Success);
    assert.ok(
      guard.renewCount >= 4 && guard.renewCount <= 5,
      `expected 4–5 renewals, got ${guard.renewCount}`,
    );
    assert.equal(guard.leases.length, 1);
    const [lease] = guard.leases;
    assert.ok(guard.renewed.every((renewed) => renewed.token === lease.token));
    assert.ok(
      guard.renewed.every((renewed) => renewed.leaseKey === lease.leaseKey),
    );
    assert.deepEqual(guard.released.map((released) => released.token), [
      lease.token,
    ]);
    // Order of calls: acquire, renew…, release — nothing after release.
    const ops = guard.calls.map((call) => call.op);
    assert.equal(ops[0], "acquire");
    assert.equal(ops.at(-1), "release");
    assert.equal(ops.filter((op) => op === "release").length, 1);
    assert.ok(
      ops.slice(1, -1).every((op) => op === "renew" || op === "renew-done"),
    );
    // Renewals are spaced by the interval, within the run.
    const renewTimes = guard.calls
      .filter((call) => call.op === "renew")
      .map((call) => call.at);
    const startedAt = report.history[0].startedAt.getTime();
    const finishedAt = report.history[0].finishedAt.getTime();
    assert.ok(
      renewTimes[0] >= startedAt + 20,
      "first renewal one interval after start",
    );
    for (let i = 1; i < renewTimes.length; i++) {
      assert.ok(
        renewTimes[i] - renewTimes[i - 1] >= 20,
        "renewals never burst",
      );
    }
    assert.ok(renewTimes.every((at) => at <= finishedAt));
    assert.equal(ofType(events, "execution-guard-lost").length, 0);
    assert.equal(clock.countTimers(), 0, "no timer left after run() resolved");
  });
});

Deno.test("guard: a renewal in flight when the run ends is awaited before release, and none follows", async () => {
  await withFakeClock(T0, async (clock) => {
    // Renewals at +20 (done +35), +55 (done +70), +90 (done +105): the task
    // ends at +100 while the third renewal is still in flight.
    const guard = new ScriptedGuard({ renewIntervalMs: 20, renewDelayMs: 15 });
    const { scheduler } = guardedScheduler(guard);
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.atTimes([T0 + 20]),
      Task.fromAsync(() => delay(100)),
    ).withMaxRuns(1);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(report.history.length, 1);
    assert.equal(report.history[0].status, RunStatus.Success);
    const ops = guard.calls.map((call) => call.op);
    assert.equal(ops.at(-1), "release", `calls: ${ops.join(",")}`);
    const renews = ops.filter((op) => op === "renew").length;
    const dones = ops.filter((op) => op === "renew-done").length;
    assert.equal(dones, renews, "every renewal finished before the release");
    assert.equal(renews, 3);
    const lastDone = guard.calls.findLast((call) => call.op === "renew-done")!;
    const release = guard.calls.at(-1)!;
    assert.ok(release.at >= lastDone.at);
    assert.ok(release.at >= report.history[0].finishedAt.getTime());
    assert.equal(clock.countTimers(), 0, "no renewal timer left behind");
  });
});

Deno.test("guard: allow-parallel acquires a distinct slot per occurrence", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new ScriptedGuard();
    const { scheduler } = guardedScheduler(guard);
    const concurrency = new Concurrency();
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.atTimes([T0 + 20, T0 + 40]),
      Task.fromAsync(() => concurrency.around(() => delay(80))),
    ).withOverlapPolicy(OverlapPolicy.AllowParallel);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(report.history.length, 2);
    assert.equal(concurrency.peak, 2);
    assert.equal(guard.slots.length, 2);
    assert.ok(guard.slots.every((slot) => slot.jobId === JOB_ID));
    assert.deepEqual(
      guard.slots.map((slot) => slot.scheduledAt.getTime()),
      [T0 + 20, T0 + 40],
    );
    assert.notEqual(
      guard.slots[0].scheduledAt.getTime(),
      guard.slots[1].scheduledAt.getTime(),
    );
    assert.equal(guard.releaseCount, 2);
    assert.deepEqual(
      guard.released.map((lease) => lease.token).sort(),
      guard.leases.map((lease) => lease.token).sort(),
    );
  });
});

// ---------------------------------------------------------------------------
// New behaviour of the port
// ---------------------------------------------------------------------------

Deno.test("guard: the lease's fencing token reaches ctx.run and the run-started event", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new ScriptedGuard();
    const { scheduler, events } = guardedScheduler(guard);
    const tokens: (bigint | undefined)[] = [];
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.atTimes([T0 + 20, T0 + 40]),
      Task.fromSync(({ run }) => {
        tokens.push(run.fencingToken);
      }),
    ).withMaxRuns(2);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(report.history.length, 2);
    assert.deepEqual(tokens, [1n, 2n]);
    const started = ofType(events, "run-started");
    assert.deepEqual(started.map((event) => event.fencingToken), [1n, 2n]);
    assert.deepEqual(started[0], {
      type: "run-started",
      jobId: JOB_ID,
      scheduledAt: new Date(T0 + 20),
      catchUp: false,
      triggerCount: 1,
      fencingToken: 1n,
    });
  });
});

Deno.test("guard: a malformed acquire answer rejects run() with ExecutionGuardError kind data", async () => {
  const answers: unknown[] = [
    undefined,
    null,
    { kind: "acquired" },
    { kind: "granted", lease: {} },
    "acquired",
  ];
  for (const malformed of answers) {
    await withFakeClock(T0, async (clock) => {
      const guard = new ScriptedGuard({ acquire: [{ malformed }] });
      const { scheduler, events } = guardedScheduler(guard);
      let invocations = 0;
      const job = Job.withoutDeps(
        JOB_ID,
        Schedule.atTimes([T0 + 20]),
        Task.fromSync(() => {
          invocations++;
        }),
      ).withMaxRuns(1);
      const error = await rejection(clock, scheduler.run(job));
      const label = JSON.stringify(malformed) ?? String(malformed);
      assert.ok(error instanceof ExecutionGuardError, `answer ${label}`);
      assert.equal(error.kind, ExecutionGuardErrorKind.Data, `answer ${label}`);
      assert.equal(invocations, 0, `answer ${label}`);
      const stopped = ofType(events, "scheduler-stopped");
      assert.equal(stopped.length, 1);
      assert.equal(stopped[0].reason, SchedulerStopReason.Failed);
      assert.equal(stopped[0].error, error.message);
    });
  }
});

Deno.test("guard: cancel aborts a guarded run with the cancel reason and still releases the lease", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new ScriptedGuard({ renewIntervalMs: 20 });
    const { scheduler, events } = guardedScheduler(guard);
    const handle = scheduler.handle();
    const reasons: unknown[] = [];
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.atTimes([T0 + 20]),
      Task.fromAsync(({ signal }) =>
        new Promise<void>((_resolve, reject) => {
          signal.addEventListener("abort", () => {
            reasons.push(signal.reason);
            reject(signal.reason);
          }, { once: true });
        })
      ),
    ).withMaxRuns(1);
    const cancelReason = new Error("operator cancelled");
    setTimeout(() => handle.cancel(cancelReason), 70);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(report.stopReason, SchedulerStopReason.Cancelled);
    assert.deepEqual(reasons, [cancelReason]);
    assert.equal(
      reasons[0],
      cancelReason,
      "aborted with the very reason given",
    );
    assert.equal(report.history.length, 1);
    assert.equal(report.history[0].status, RunStatus.Cancelled);
    assert.equal(guard.releaseCount, 1);
    assert.equal(guard.released[0].token, guard.leases[0].token);
    assert.equal(guard.calls.at(-1)?.op, "release");
    assert.ok(
      guard.renewCount >= 1,
      "the lease was being renewed before the cancel",
    );
    assert.equal(ofType(events, "execution-guard-lost").length, 0);
    const stopped = ofType(events, "scheduler-stopped");
    assert.equal(stopped.length, 1);
    assert.equal(stopped[0].reason, SchedulerStopReason.Cancelled);
    assert.equal(clock.countTimers(), 0);
  });
});

Deno.test("guard: an acquired answer whose lease is null rejects run() with ExecutionGuardError kind data", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new ScriptedGuard({
      acquire: [{ malformed: { kind: "acquired", lease: null } }],
    });
    const { scheduler, events } = guardedScheduler(guard);
    let invocations = 0;
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.atTimes([T0 + 20]),
      Task.fromSync(() => {
        invocations++;
      }),
    ).withMaxRuns(1);
    const error = await rejection(clock, scheduler.run(job));
    assert.equal(invocations, 0);
    assert.ok(
      error instanceof ExecutionGuardError,
      `expected an ExecutionGuardError, got ${String(error)}`,
    );
    assert.equal(error.kind, ExecutionGuardErrorKind.Data);
    const stopped = ofType(events, "scheduler-stopped");
    assert.equal(stopped.length, 1);
    assert.equal(stopped[0].reason, SchedulerStopReason.Failed);
  });
});

Deno.test("guard: a renewIntervalMs that throws neither escapes as an uncaught error nor hangs run()", async () => {
  const uncaught: unknown[] = [];
  const onUnhandled = (event: PromiseRejectionEvent) => {
    uncaught.push(event.reason);
    event.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  try {
    await withFakeClock(T0, async (clock) => {
      const guard = new ScriptedGuard();
      guard.renewIntervalMs = () => {
        throw new Error("renew interval unavailable");
      };
      const { scheduler } = guardedScheduler(guard);
      const job = Job.withoutDeps(
        JOB_ID,
        Schedule.atTimes([T0 + 20]),
        Task.fromSync(() => {}),
      ).withMaxRuns(1);
      let outcome: unknown;
      try {
        outcome = await settle(clock, scheduler.run(job));
      } catch (error) {
        outcome = error;
      }
      // Let a dangling rejection surface before checking.
      await new Promise((resolve) => queueMicrotask(() => resolve(undefined)));
      assert.deepEqual(uncaught, [], "no uncaught rejection");
      if (outcome instanceof Error) {
        assert.ok(
          outcome instanceof ExecutionGuardError,
          `run() must settle, with a report or an ExecutionGuardError; got ${
            String(outcome)
          }`,
        );
      } else {
        assert.equal((outcome as { history: unknown[] }).history.length, 1);
      }
    });
  } finally {
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
  }
});

Deno.test("guard: a lost lease also drops the queued trigger", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new ScriptedGuard({ renew: ["lost"], renewIntervalMs: 20 });
    const { scheduler, events } = guardedScheduler(guard);
    let invocations = 0;
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.atTimes([T0 + 20, T0 + 30]),
      Task.fromAsync(async () => {
        invocations++;
        await delay(80);
      }),
    ).withOverlapPolicy(OverlapPolicy.QueueOne);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(report.stopReason, SchedulerStopReason.Shutdown);
    assert.equal(
      report.state.triggerCount,
      2,
      "the second occurrence was queued",
    );
    assert.equal(invocations, 1);
    assert.equal(guard.acquireCount, 1, "the queued trigger never acquires");
    assert.equal(report.history.length, 1);
    assert.equal(ofType(events, "execution-guard-lost").length, 1);
  });
});

Deno.test("guard: with allow-parallel a lost lease aborts only its own run; the other keeps renewing", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new ScriptedGuard({ renew: ["lost"], renewIntervalMs: 20 });
    const { scheduler, events } = guardedScheduler(guard);
    const observed = new Map<number, SignalObservation>();
    const job = Job.withoutDeps(
      JOB_ID,
      Schedule.atTimes([T0 + 20, T0 + 30]),
      Task.fromAsync(async ({ run, signal }) => {
        await delay(80);
        observed.set(run.triggerCount, {
          aborted: signal.aborted,
          reason: signal.reason,
        });
      }),
    ).withOverlapPolicy(OverlapPolicy.AllowParallel);
    const report = await settle(clock, scheduler.run(job));
    assert.equal(report.stopReason, SchedulerStopReason.Shutdown);
    assert.equal(report.history.length, 2, "both in-flight runs are recorded");
    assert.equal(observed.get(1)?.aborted, true);
    assert.equal(observed.get(2)?.aborted, false);
    const lost = ofType(events, "execution-guard-lost");
    assert.equal(lost.length, 1);
    assert.equal(lost[0].triggerCount, 1);
    const [first, second] = guard.leases;
    const secondRenewals = guard.renewed.filter((lease) =>
      lease.token === second.token
    );
    assert.ok(secondRenewals.length >= 3, "the surviving run is still renewed");
    assert.equal(
      guard.renewed.filter((lease) => lease.token === first.token).length,
      1,
    );
    assert.equal(guard.releaseCount, 2);
  });
});
