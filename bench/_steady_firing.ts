/**
 * What a steady firing costs under `@sinonjs/fake-timers`, beside the floor
 * of a bare `setTimeout` chain on the same fake clock, driven the same way,
 * as a user's test drives it: one `clock.tickAsync()` over all the firings
 * (sinon lets promise callbacks run between two timers, on the runtime's
 * `setImmediate`). Imported by bench/engine_figures.ts.
 *
 * @module
 */
// @ts-types="npm:@types/sinonjs__fake-timers@^15.0.0"
import FakeTimers from "@sinonjs/fake-timers";
import { InMemoryStateStore, Job, Schedule, Scheduler, Task } from "../mod.ts";

const EVERY_MS = 1_000;

type Clock = FakeTimers.InstalledClock;

function install(): Clock {
  return FakeTimers.install({
    now: Date.UTC(2026, 0, 1),
    toFake: ["setTimeout", "clearTimeout", "Date"],
  });
}

/** Real milliseconds for `firings` firings of an interval job. */
async function engine(firings: number): Promise<number> {
  const clock = install();
  try {
    let ran = 0;
    const job = Job.withoutDeps(
      "steady",
      Schedule.interval(EVERY_MS),
      Task.fromSync(() => void ran++),
    ).withMaxRuns(firings + 1);
    const done = new Scheduler({ historyLimit: 32 }, new InMemoryStateStore())
      .run(job);
    await clock.tickAsync(EVERY_MS); // loaded, the first firing
    const started = performance.now();
    await clock.tickAsync(firings * EVERY_MS);
    const elapsed = performance.now() - started;
    if (ran !== firings + 1) {
      throw new Error(`expected ${firings + 1} runs, got ${ran}`);
    }
    const report = await done;
    if (report.history.some((run) => +run.startedAt !== +run.scheduledAt)) {
      throw new Error("a run started late");
    }
    return elapsed;
  } finally {
    clock.uninstall();
  }
}

/** Real milliseconds for `firings` firings of a bare `setTimeout` chain. */
async function bare(firings: number): Promise<number> {
  const clock = install();
  try {
    let fired = 0;
    const tick = () => {
      fired++;
      setTimeout(tick, EVERY_MS);
    };
    setTimeout(tick, EVERY_MS);
    const started = performance.now();
    await clock.tickAsync(firings * EVERY_MS);
    const elapsed = performance.now() - started;
    if (fired !== firings) throw new Error(`expected ${firings} firings`);
    clock.reset();
    return elapsed;
  } finally {
    clock.uninstall();
  }
}

/** Prints the figure: best of `rounds` interleaved rounds. */
export async function printSteadyFiring(
  firings = 20_000,
  rounds = 7,
): Promise<void> {
  await engine(firings); // warm up the JIT on both paths
  await bare(firings);
  const engineTimes: number[] = [];
  const bareTimes: number[] = [];
  for (let i = 0; i < rounds; i++) {
    engineTimes.push(await engine(firings));
    bareTimes.push(await bare(firings));
  }
  const µs = (times: number[]) => Math.min(...times) * 1000 / firings;
  const engineUs = µs(engineTimes);
  const bareUs = µs(bareTimes);
  console.log(
    `6. steady firing under sinon fake timers, ${firings} firings of a 1 s interval, in-memory store (best of ${rounds}, interleaved)`,
  );
  console.log(
    `   engine: ${
      engineUs.toFixed(2)
    } µs per firing; bare setTimeout chain (the floor, same drive): ${
      bareUs.toFixed(2)
    } µs; ratio ${(engineUs / bareUs).toFixed(1)}× (aim: ≤ 3×)`,
  );
}

if (import.meta.main) await printSteadyFiring();
