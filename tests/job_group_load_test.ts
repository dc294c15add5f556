/**
 * A job of a `JobGroup` whose state fails to load behaves exactly as the
 * same job started alone (docs/jobs.md, "How a group sleeps"): the same
 * store calls (one load, not a second one by its engine), the same events,
 * the same rejection of `done`, no run; the group then stops its other jobs
 * and `done()` rejects with that error. On every fake clock users test with.
 */
import assert from "node:assert/strict";
import {
  InMemoryStateStore,
  JobGroup,
  type JobState,
  schedule,
  type SchedulerEvent,
  type StateStore,
  StoreError,
} from "../mod.ts";
import {
  TEST_CLOCKS,
  type TestClock,
  within,
  withTestClock,
} from "./_test_clocks.ts";
import { T0 } from "./_engine_helpers.ts";

const HOUR = 3_600_000;

/** How the store misbehaves: which of its first calls throw. */
interface Failures {
  /** The first `load()` throws a connection error. */
  load?: boolean;
  /** The first `save()` throws a connection error. */
  save?: boolean;
  /** Whether the store offers `createIfAbsent` (the first state's path). */
  createIfAbsent?: boolean;
  /** What is stored before the job starts, possibly damaged. */
  stored?: unknown;
}

/** A plain store over an in-memory one that records every call. */
function failingStore(failures: Failures): StateStore & { calls: string[] } {
  const inner = new InMemoryStateStore();
  const calls: string[] = [];
  let { load: failLoad = false, save: failSave = false } = failures;
  const unreachable = (operation: "load" | "save") =>
    new StoreError(`backend unreachable (${operation})`, {
      kind: "connection",
      operation,
    });
  const store = {
    calls,
    async load(jobId: string): Promise<JobState | undefined> {
      calls.push(`load ${jobId}`);
      if (jobId === "job" && failures.stored !== undefined) {
        return failures.stored as JobState;
      }
      if (jobId === "job" && failLoad) {
        failLoad = false;
        throw unreachable("load");
      }
      return await inner.load(jobId);
    },
    async save(state: JobState): Promise<void> {
      calls.push(`save ${state.jobId}`);
      if (state.jobId === "job" && failSave) {
        failSave = false;
        throw unreachable("save");
      }
      await inner.save(state);
    },
    async delete(jobId: string): Promise<void> {
      calls.push(`delete ${jobId}`);
      await inner.delete(jobId);
    },
  };
  if (failures.createIfAbsent === false) return store;
  return Object.assign(store, {
    async createIfAbsent(state: JobState): Promise<JobState | undefined> {
      calls.push(`createIfAbsent ${state.jobId}`);
      return await inner.createIfAbsent(state);
    },
  });
}

/** What can be seen of the job: its events, its end, its store calls. */
async function outcome(
  how: "alone" | "group",
  clock: TestClock,
  failures: Failures,
): Promise<unknown> {
  const store = failingStore(failures);
  const events: string[] = [];
  const observer = {
    onEvent: (event: SchedulerEvent) => {
      if (event.jobId === "job") {
        events.push(`${new Date().toISOString()} ${JSON.stringify(event)}`);
      }
    },
  };
  let runs = 0;
  const task = () => void runs++;
  const when = { everyMs: 10 * 60_000 };
  let job: ReturnType<typeof schedule>;
  let group: JobGroup | undefined;
  if (how === "alone") {
    job = schedule(when, { jobId: "job", store, observer }, task);
  } else {
    group = new JobGroup({ store, observer });
    // Asleep for a day: the group's other job, stopped by the failure.
    group.schedule({ everyMs: 24 * HOUR }, { jobId: "bystander" }, () => {});
    job = group.schedule(when, { jobId: "job" }, task);
  }
  const describe = (error: unknown) =>
    error instanceof StoreError
      ? `${error.name}[${error.kind}/${error.operation}] ${error.message}`
      : String(error);
  const ended = job.done.then(
    (report) => `resolved ${report.stopReason}`,
    describe,
  );
  // Awaited from the start, as an application does.
  const groupEnded = group?.done().then(() => "resolved", describe);
  await clock.tickAsync(HOUR);
  const end = await within(ended, "the job's done");
  if (group !== undefined) {
    const groupEnd = await within(groupEnded!, "the group's done()");
    assert.equal(groupEnd, end, "the group's done() rejects with the error");
    const bystander = await group.jobs.get("bystander")!.done;
    assert.equal(bystander.stopReason, "cancelled");
  }
  return {
    end,
    runs,
    events,
    calls: store.calls.filter((call) => call.endsWith(" job")),
  };
}

async function assertSameAsAlone(
  name: string,
  failures: Failures,
  expected: { calls: string[]; events: string[] },
): Promise<void> {
  for (const { name: clockName, install } of TEST_CLOCKS) {
    if (install === undefined) continue; // not served here (a warning says so)
    const alone = await withTestClock(
      install,
      T0,
      (clock) => outcome("alone", clock, failures),
    );
    const grouped = await withTestClock(
      install,
      T0,
      (clock) => outcome("group", clock, failures),
    );
    assert.deepEqual(grouped, alone, `${name} (${clockName})`);
    const seen = alone as {
      end: string;
      runs: number;
      calls: string[];
      events: string[];
    };
    assert.match(seen.end, /^StoreError\[/, `${name}: done rejects`);
    assert.equal(seen.runs, 0, `${name}: no run`);
    assert.deepEqual(seen.calls, expected.calls, `${name} (${clockName})`);
    assert.deepEqual(
      seen.events.map((line) =>
        JSON.parse(line.slice(line.indexOf(" ") + 1)).type
      ),
      expected.events,
      `${name} (${clockName})`,
    );
  }
}

Deno.test("JobGroup: a job whose first load fails stops as it would alone, after one load", async () => {
  await assertSameAsAlone("load throws", { load: true }, {
    calls: ["load job"],
    events: ["scheduler-stopped"],
  });
});

Deno.test("JobGroup: a job whose stored state is damaged stops as it would alone", async () => {
  await assertSameAsAlone(
    "damaged state",
    { stored: { jobId: "job", triggerCount: -1 } },
    { calls: ["load job"], events: ["scheduler-stopped"] },
  );
});

Deno.test("JobGroup: a job whose first state cannot be saved stops as it would alone, its state-loaded heard", async () => {
  await assertSameAsAlone(
    "first save throws",
    { save: true, createIfAbsent: false },
    {
      calls: ["load job", "save job"],
      events: ["state-loaded", "scheduler-stopped"],
    },
  );
});
