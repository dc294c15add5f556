/**
 * Fake time, printed (run with `deno run -A bench/fake_time_figures.ts`, with
 * JSR_URL pointing at a registry that serves `@std/testing@1.1.0-pr7310`):
 * std's next FakeTime spends one real turn of the event loop after every
 * timer, so what a long fake sleep costs is how many timers it takes.
 *
 * 1. `tickAsync(400 days)` of an at-times job due at the end. Aim: ≤ 1 s.
 * 2. `tickAsync(30 days)` of a daily cron job (30 runs). Aim: ≤ 0.3 s.
 *
 * Each is compared with a floor measured in the same run: the same advance
 * with the plain timers the least possible loop would arm (one at the end;
 * one per day), so the ratio says what the scheduler adds.
 */
import { DAY } from "@std/datetime/constants";
import { InMemoryStateStore, Job, Schedule, Scheduler, Task } from "../mod.ts";

const START = Date.UTC(2026, 0, 1);
const VERSION = "1.1.0-pr7310";
const verdict = (met: boolean) => (met ? "met" : "NOT MET");

interface FakeTimeLike {
  tickAsync(ms: number): Promise<void>;
  restore(): void;
}
type FakeTimeClass = new (start: number) => FakeTimeLike;

async function load(): Promise<FakeTimeClass | undefined> {
  const specifier = `jsr:@std/testing@${VERSION}/time`;
  try {
    return (await import(specifier)).FakeTime;
  } catch (error) {
    console.log(
      `skipped: ${specifier} is not served by ${
        Deno.env.get("JSR_URL") ?? "jsr.io"
      } (${(error as Error).message.split("\n")[0]})`,
    );
    return undefined;
  }
}

/** Real milliseconds `body` takes under a fresh FakeTime. */
async function timed(
  FakeTime: FakeTimeClass,
  body: (time: FakeTimeLike) => Promise<void>,
): Promise<number> {
  const time = new FakeTime(START);
  try {
    const began = performance.now();
    await body(time);
    return performance.now() - began;
  } finally {
    time.restore();
  }
}

/** `count` plain timers in a chain over `days`, advanced in one tick. */
function floor(
  FakeTime: FakeTimeClass,
  days: number,
  count: number,
): Promise<number> {
  return timed(FakeTime, async (time) => {
    let left = count;
    const again = () => {
      if (--left > 0) setTimeout(again, (days * DAY) / count);
    };
    setTimeout(again, (days * DAY) / count);
    await time.tickAsync(days * DAY);
  });
}

function atTimes400(FakeTime: FakeTimeClass): Promise<number> {
  return timed(FakeTime, async (time) => {
    let ran = 0;
    const running = new Scheduler({}, new InMemoryStateStore()).run(
      Job.withoutDeps(
        "far",
        Schedule.atTimes([START + 400 * DAY]),
        Task.fromSync(() => void ran++),
      ),
    );
    await time.tickAsync(400 * DAY);
    await running;
    if (ran !== 1) throw new Error(`the far run ran ${ran} times`);
  });
}

function dailyCron30(FakeTime: FakeTimeClass): Promise<number> {
  return timed(FakeTime, async (time) => {
    let ran = 0;
    const running = new Scheduler({}, new InMemoryStateStore()).run(
      Job.withoutDeps(
        "daily",
        Schedule.cron("0 3 * * *"),
        Task.fromSync(() => void ran++),
      ).withMaxRuns(30),
    );
    await time.tickAsync(30 * DAY);
    await running;
    if (ran !== 30) throw new Error(`the daily job ran ${ran} times, not 30`);
  });
}

const FakeTime = await load();
if (FakeTime !== undefined) {
  const rows: [string, number, number, number][] = [
    [
      "at-times job, tickAsync(400 days)",
      await atTimes400(FakeTime),
      await floor(FakeTime, 400, 1),
      1_000,
    ],
    [
      "daily cron, tickAsync(30 days)",
      await dailyCron30(FakeTime),
      await floor(FakeTime, 30, 30),
      300,
    ],
  ];
  console.log(
    `std FakeTime ${VERSION} (real ms; floor: the fewest plain timers)`,
  );
  for (const [what, ms, floorMs, aim] of rows) {
    console.log(
      `${what}: ${ms.toFixed(0)} ms, ${(ms / floorMs).toFixed(2)}x the floor (${
        floorMs.toFixed(0)
      } ms); aim ≤ ${aim} ms: ${verdict(ms <= aim)}`,
    );
  }
}
