/** Stops, pauses and re-entrance arriving at awkward moments. */
import assert from "node:assert/strict";
import {
  type ExecutionGuard,
  type ExecutionLease,
  InMemoryStateStore,
  Job,
  type JobState,
  Schedule,
  Scheduler,
  Task,
} from "../mod.ts";
import { withFakeClock } from "./_fake_time.ts";
import { delay, recordEvents, settle, T0 } from "./_engine_helpers.ts";

/** A store whose saves take 10 ms and can run a hook first. */
class SlowStore extends InMemoryStateStore {
  onSave: ((state: JobState) => void) | undefined;
  override async save(state: JobState): Promise<void> {
    this.onSave?.(state);
    await delay(10);
    await super.save(state);
  }
}

/** A guard whose acquire takes 10 ms and can run a hook first. */
class SlowGuard implements ExecutionGuard {
  onAcquire: (() => void) | undefined;
  released: ExecutionLease[] = [];
  async acquire(slot: { jobId: string; scheduledAt: Date }) {
    this.onAcquire?.();
    await delay(10);
    return {
      kind: "acquired" as const,
      lease: { ...slot, token: "t", leaseKey: "k", fencingToken: 1n },
    };
  }
  renew() {
    return Promise.resolve("renewed" as const);
  }
  release(lease: ExecutionLease) {
    this.released.push(lease);
    return Promise.resolve();
  }
}

Deno.test("a shutdown during the pre-run save: the trigger does not start", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new SlowStore();
    const scheduler = new Scheduler({}, store);
    let ran = 0;
    store.onSave = (state) => {
      if (state.triggerCount === 1) scheduler.handle().shutdown();
    };
    const report = await settle(
      clock,
      scheduler.run(
        Job.withoutDeps(
          "stop-in-save",
          Schedule.interval(20),
          Task.fromSync(() => void ran++),
        ),
      ),
    );
    assert.equal(ran, 0);
    assert.deepEqual(report.history, []);
    assert.equal(report.stopReason, "shutdown");
    assert.equal(report.state.triggerCount, 1, "the occurrence was consumed");
  });
});

Deno.test("a pause during the pre-run save: the trigger waits for resume()", async () => {
  await withFakeClock(T0, async (clock) => {
    const store = new SlowStore();
    const scheduler = new Scheduler({}, store);
    const handle = scheduler.handle();
    const started: number[] = [];
    store.onSave = (state) => {
      if (state.triggerCount === 1 && state.lastRunAt === null) handle.pause();
    };
    const running = scheduler.run(
      Job.withoutDeps(
        "pause-in-save",
        Schedule.interval(20),
        Task.fromSync(() => void started.push(Date.now() - T0)),
      ).withMaxRuns(1),
    );
    await clock.tickAsync(200);
    assert.deepEqual(started, [], "nothing started while paused");
    handle.resume();
    const report = await settle(clock, running);
    assert.deepEqual(started, [200]);
    assert.equal(report.history[0].scheduledAt.getTime(), T0 + 20);
  });
});

Deno.test("a cancel during the guard's acquire: the lease is given back and nothing runs", async () => {
  await withFakeClock(T0, async (clock) => {
    const guard = new SlowGuard();
    const scheduler = Scheduler.withExecutionGuard(
      {},
      new InMemoryStateStore(),
      guard,
    );
    const events = recordEvents(scheduler);
    let ran = 0;
    guard.onAcquire = () => scheduler.handle().cancel();
    const report = await settle(
      clock,
      scheduler.run(
        Job.withoutDeps(
          "stop-in-acquire",
          Schedule.interval(20),
          Task.fromSync(() => void ran++),
        ),
      ),
    );
    assert.equal(ran, 0);
    assert.equal(report.stopReason, "cancelled");
    assert.equal(guard.released.length, 1, "the unused lease was released");
    assert.equal(events.some((e) => e.type === "run-started"), false);
  });
});

Deno.test("a scheduler-stopped listener may start the next run() and pre-request its stop", async () => {
  await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    const job = Job.withoutDeps(
      "again",
      Schedule.interval(10),
      Task.fromSync(() => {}),
    );
    let next: Promise<unknown> | undefined;
    scheduler.addEventListener("scheduler-stopped", () => {
      if (next !== undefined) return;
      scheduler.handle().shutdown(); // meant for the next run
      next = scheduler.run(job.withMaxRuns(5));
    });
    const first = await settle(clock, scheduler.run(job.withMaxRuns(1)));
    assert.equal(first.stopReason, "terminal");
    assert.ok(next !== undefined);
    const second = (await settle(clock, next)) as { stopReason: string };
    assert.equal(
      second.stopReason,
      "shutdown",
      "the stop reached the next run",
    );
  });
});

Deno.test("an async observer that rejects is reported, and scheduling goes on", async () => {
  await withFakeClock(T0, async (clock) => {
    const errors: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) =>
      void errors.push(args.map(String).join(" "));
    try {
      const scheduler = Scheduler.withObserver({}, new InMemoryStateStore(), {
        // deno-lint-ignore require-await
        async onEvent(event) {
          if (event.type === "run-completed") {
            throw new Error("observer failed");
          }
        },
      });
      const report = await settle(
        clock,
        scheduler.run(
          Job.withoutDeps(
            "async-observer",
            Schedule.interval(10),
            Task.fromSync(() => {}),
          )
            .withMaxRuns(3),
        ),
      );
      await clock.tickAsync(0);
      assert.equal(report.history.length, 3);
      assert.equal(
        errors.filter((e) => e.includes("observer failed")).length,
        3,
      );
    } finally {
      console.error = original;
    }
  });
});

Deno.test("a task's context keeps its signal when spread", async () => {
  await withFakeClock(T0, async (clock) => {
    let copied: { signal?: AbortSignal; run?: unknown } | undefined;
    await settle(
      clock,
      new Scheduler({}, new InMemoryStateStore()).run(
        Job.withoutDeps(
          "spread",
          Schedule.interval(10),
          Task.fromSync((ctx) => void (copied = { ...ctx })),
        ).withMaxRuns(1),
      ),
    );
    assert.ok(copied?.signal instanceof AbortSignal);
    assert.ok(copied?.run);
  });
});
