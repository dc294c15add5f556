/**
 * A worker for tests/trigger_now_slot_test.ts: computes what it is asked
 * about manual slots, so that a computation that never ends (a synchronous
 * loop that freezes its thread) fails the test by a timeout instead of
 * freezing the test runner.
 */
import {
  InMemoryStateStore,
  InvalidJobError,
  Job,
  Schedule,
  Scheduler,
  Task,
} from "../mod.ts";
import { manualSlotInstant } from "../src/scheduler/run/manual.ts";
import { withFakeClock } from "./_fake_time.ts";
import { settle, stateLoaded, T0 } from "./_engine_helpers.ts";

/** A schedule, as a message can carry it. */
export type ScheduleSpec =
  | { kind: "interval"; everyMs: number }
  | { kind: "at-times"; first: number; count: number }
  | { kind: "cron"; expression: string };

/** What the worker is asked. */
export type SlotQuestion =
  | {
    kind: "slot";
    schedule: ScheduleSpec;
    requestedAt: number;
    nextRunAt: number | null;
    timezone?: string;
  }
  /** A `triggerNow()` on a running job with this schedule, under fake time. */
  | { kind: "engine"; schedule: ScheduleSpec };

/** The answer: a value, or the error thrown (name, kind, message). */
export type SlotAnswer =
  | { value: unknown }
  | { error: { name: string; kind?: string; message: string } };

function build(spec: ScheduleSpec): Schedule {
  switch (spec.kind) {
    case "interval":
      return Schedule.interval(spec.everyMs);
    case "at-times":
      return Schedule.atTimes(
        Array.from({ length: spec.count }, (_, i) => spec.first + i),
      );
    case "cron":
      return Schedule.cron(spec.expression);
  }
}

/**
 * Runs the job, presses `triggerNow()` between its scheduled runs, and
 * reports how the press ended and how many scheduled runs came before and
 * after it.
 */
async function engine(spec: ScheduleSpec): Promise<unknown> {
  return await withFakeClock(T0, async (clock) => {
    const scheduler = new Scheduler({}, new InMemoryStateStore());
    let runs = 0;
    const job = Job.withoutDeps(
      "dense",
      build(spec),
      Task.fromSync(() => void runs++),
    );
    const ready = stateLoaded(scheduler);
    const running = scheduler.run(job);
    await ready;
    await clock.tickAsync(20);
    const before = runs;
    const pressed = await settle(
      clock,
      scheduler.handle().triggerNow().then(
        (record) => ({ scheduledAt: record.scheduledAt.getTime() }),
        (error) => ({ name: error.name, kind: error.kind }),
      ),
    );
    await clock.tickAsync(20);
    const after = runs - before;
    scheduler.handle().shutdown();
    const report = await settle(clock, running);
    return { pressed, before, after, stopReason: report.stopReason };
  });
}

/** The worker's global scope, as far as this file uses it. */
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<SlotQuestion>) => void) | null;
  postMessage(message: SlotAnswer): void;
};

scope.onmessage = async (event: MessageEvent<SlotQuestion>) => {
  const question = event.data;
  let answer: SlotAnswer;
  try {
    const value = question.kind === "engine"
      ? await engine(question.schedule)
      : manualSlotInstant(question.requestedAt, build(question.schedule), {
        timezone: question.timezone ?? "UTC",
        nextRunAt: question.nextRunAt,
      });
    answer = { value };
  } catch (error) {
    answer = {
      error: {
        name: error instanceof Error ? error.name : String(error),
        kind: error instanceof InvalidJobError ? error.kind : undefined,
        message: error instanceof Error ? error.message : String(error),
      },
    };
  }
  scope.postMessage(answer);
};
