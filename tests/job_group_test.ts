/**
 * Several jobs in one process sharing one store, one guard
 * and one AbortSignal that SIGINT and SIGTERM abort.
 */
import assert from "node:assert/strict";
import {
  InMemoryStateStore,
  InvalidJobError,
  JobGroup,
  type JobState,
  NoopExecutionGuard,
  ShutdownSignal,
  type ShutdownSignalName,
  type SignalRuntime,
  type StateStore,
  StoreError,
} from "../mod.ts";
import { readFirstLine } from "./_child_output.ts";
import { withFakeClock } from "./_fake_time.ts";
import { settle, T0 } from "./_engine_helpers.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** A runtime whose signals the test raises itself. */
class FakeSignals implements SignalRuntime {
  readonly listeners = new Map<ShutdownSignalName, Set<() => void>>();
  unsupported = new Set<ShutdownSignalName>();
  add(signal: ShutdownSignalName, listener: () => void): void {
    if (this.unsupported.has(signal)) throw new Error(`${signal} unsupported`);
    if (!this.listeners.has(signal)) this.listeners.set(signal, new Set());
    this.listeners.get(signal)!.add(listener);
  }
  remove(signal: ShutdownSignalName, listener: () => void): void {
    this.listeners.get(signal)?.delete(listener);
  }
  raise(signal: ShutdownSignalName): void {
    for (const listener of [...this.listeners.get(signal) ?? []]) listener();
  }
  count(): number {
    return [...this.listeners.values()].reduce((sum, set) => sum + set.size, 0);
  }
}

Deno.test("JobGroup: jobs share one store and guard; SIGTERM cancels them all", async () => {
  await withFakeClock(T0, async (clock) => {
    const signals = new FakeSignals();
    const shutdown = new ShutdownSignal({}, signals);
    assert.deepEqual(shutdown.listening, ["SIGINT", "SIGTERM"]);
    const store = new InMemoryStateStore();
    const guard = new NoopExecutionGuard();
    let acquired = 0;
    const countingGuard = {
      acquire: (slot: Any) => (acquired++, guard.acquire(slot)),
      renew: (lease: Any) => guard.renew(lease),
      release: (lease: Any) => guard.release(lease),
    };
    const jobs = new JobGroup({
      store,
      guard: countingGuard,
      signal: shutdown.signal,
    });
    const reasons: unknown[] = [];
    jobs.schedule({ everyMs: 1000 }, { jobId: "fast" }, () => {});
    jobs.schedule({ everyMs: 5000 }, { jobId: "slow" }, async ({ signal }) => {
      // A run in flight when the signal arrives sees its signal abort.
      await new Promise<void>((_, reject) =>
        signal.addEventListener("abort", () => {
          reasons.push(signal.reason);
          reject(signal.reason);
        })
      );
    });
    assert.deepEqual([...jobs.jobs.keys()], ["fast", "slow"]);
    await clock.tickAsync(5000);
    assert.equal((await store.load("fast"))?.triggerCount, 5);
    assert.equal((await store.load("slow"))?.triggerCount, 1);
    assert.equal(acquired, 6, "both jobs went through the one guard");
    signals.raise("SIGTERM");
    assert.equal(
      signals.count(),
      0,
      "listeners removed: a second signal ends the process",
    );
    const reports = await settle(clock, jobs.done());
    assert.deepEqual(reports.map((report) => report.stopReason), [
      "cancelled",
      "cancelled",
    ]);
    assert.equal(reports[1].history[0].status, "cancelled");
    assert.ok(reasons[0] instanceof DOMException);
    assert.match((reasons[0] as DOMException).message, /received SIGTERM/);
  });
});

Deno.test("JobGroup: one failing job stops the others and done() rejects with its error", async () => {
  await withFakeClock(T0, async (clock) => {
    const inner = new InMemoryStateStore();
    const store: StateStore = {
      load: (id) => inner.load(id),
      save: (state: JobState) =>
        state.jobId === "broken" && state.triggerCount > 0
          ? Promise.reject(
            new StoreError("disk full", { kind: "unknown", operation: "save" }),
          )
          : inner.save(state),
      delete: (id) => inner.delete(id),
    };
    const jobs = new JobGroup({ store });
    const healthy = jobs.schedule(
      { everyMs: 1000 },
      { jobId: "healthy" },
      () => {},
    );
    jobs.schedule({ everyMs: 3000 }, { jobId: "broken" }, () => {});
    let caught: unknown;
    await settle(clock, jobs.done().catch((error) => (caught = error)));
    assert.ok(caught instanceof StoreError);
    assert.match(caught.message, /disk full/);
    const report = await healthy.done;
    assert.equal(report.stopReason, "cancelled");
    assert.equal(
      report.history.length,
      2,
      "healthy ran until the failure at 3 s",
    );
  });
});

Deno.test("JobGroup: job ids are required and unique; options are checked", () => {
  const jobs = new JobGroup();
  const noop = () => {};
  jobs.schedule({ everyMs: 1000 }, { jobId: "a" }, noop);
  assert.throws(
    () => jobs.schedule({ everyMs: 1000 }, { jobId: "a" }, noop),
    /already has a job "a"/,
  );
  assert.throws(
    () => jobs.schedule({ everyMs: 1000 }, {} as Any, noop),
    /needs a jobId/,
  );
  assert.throws(
    () =>
      jobs.schedule(
        { everyMs: 1000 },
        { jobId: "b", store: new InMemoryStateStore() } as Any,
        noop,
      ),
    (error: unknown) =>
      error instanceof InvalidJobError && /"store"/.test(error.message),
  );
  assert.throws(
    () => new JobGroup({ sigal: AbortSignal.abort() } as Any),
    /"sigal"/,
  );
  assert.throws(
    () => new ShutdownSignal({ signals: ["SIGKILL"] } as Any),
    InvalidJobError,
  );
  jobs.cancel();
  return jobs.done().then((reports) => assert.equal(reports.length, 1));
});

Deno.test("ShutdownSignal: an unsupported signal is skipped; SIGINT aborts; dispose removes listeners", () => {
  const signals = new FakeSignals();
  signals.unsupported.add("SIGTERM");
  const shutdown = new ShutdownSignal({}, signals);
  assert.deepEqual(shutdown.listening, ["SIGINT"]);
  signals.raise("SIGINT");
  assert.equal(shutdown.signal.aborted, true);
  assert.match((shutdown.signal.reason as Error).message, /SIGINT/);

  const other = new ShutdownSignal({ signals: ["SIGHUP"] }, signals);
  assert.equal(signals.count(), 1);
  other.dispose();
  assert.equal(signals.count(), 0);
  assert.equal(other.signal.aborted, false);
  // Without any signal API (a browser), it still works as a plain signal.
  const bare = new ShutdownSignal({}, null);
  assert.deepEqual(bare.listening, []);
  bare.abort();
  assert.equal(bare.signal.aborted, true);
});

Deno.test({
  name:
    "ShutdownSignal: a real SIGTERM stops a process's jobs cleanly (exit 0)",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        new URL("./fixtures/shutdown_instance.ts", import.meta.url).pathname,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let output = await readFirstLine(reader);
    assert.match(output, /^ready SIGINT,SIGTERM/);
    child.kill("SIGTERM");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      output += value;
    }
    const status = await child.status;
    await child.stderr.cancel();
    assert.equal(status.code, 0);
    assert.match(
      output,
      /stopped cancelled,cancelled \(received SIGTERM: shutting down\)/,
    );
  },
});

Deno.test("JobGroup.schedule() after shutdown() or cancel() is refused, naming the job, and starts nothing", async () => {
  for (const stop of ["shutdown", "cancel", "signal"] as const) {
    const controller = new AbortController();
    const group = new JobGroup({ signal: controller.signal });
    let ran = 0;
    group.schedule({ everyMs: 60_000 }, { jobId: "first" }, () => void ran++);
    if (stop === "shutdown") group.shutdown();
    else if (stop === "cancel") group.cancel();
    else controller.abort();
    assert.throws(
      () => group.schedule({ everyMs: 1 }, { jobId: "late" }, () => void ran++),
      (error: unknown) =>
        error instanceof InvalidJobError && /"late"/.test(error.message),
      stop,
    );
    assert.deepEqual([...group.jobs.keys()], ["first"]);
    await group.done();
    assert.equal(ran, 0);
  }
});
