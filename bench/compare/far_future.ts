/**
 * An occurrence 400 days away under fake time. Timers longer than 2^31 − 1 ms
 * (~24.8 days) overflow and fire after 1 ms in Node, Deno and browsers, and
 * `@sinonjs/fake-timers` reproduces that: a library that hands the whole delay
 * to one `setTimeout` fires at once instead of in 400 days.
 */
import {
  InMemoryStateStore,
  Job,
  Schedule,
  Scheduler,
  Task,
} from "../../mod.ts";
import { installFakeClock } from "../../tests/_fake_time.ts";
import { peer, peerVersion } from "./_peers.ts";
import { describeError, type Section, table } from "./_report.ts";

/** 2028-02-29 is a leap day: a five-field cron can say "400 days from now". */
const START = Date.UTC(2027, 0, 25, 12);
const EXPRESSION = "0 12 29 2 *";
const DUE = Date.UTC(2028, 1, 29, 12);
const DAY_MS = 86_400_000;
const MAX_FIRINGS = 5;

interface Candidate {
  name: string;
  how: string;
  /** Starts the job, calling `fire` on each firing; returns its stopper. */
  start(fire: () => void): () => void | Promise<void>;
}

function candidates(): Candidate[] {
  const { Cron } = peer("croner");
  const nodeCron = peer("node-cron");
  const { CronJob } = peer("cron");
  const { ToadScheduler, SimpleIntervalJob, LongIntervalJob, Task: ToadTask } =
    peer("toad-scheduler");
  return [
    {
      name: "ours",
      how: `\`Schedule.cron("${EXPRESSION}")\`, UTC`,
      start(fire) {
        const controller = new AbortController();
        const job = Job.withoutDeps(
          "far",
          Schedule.cron(EXPRESSION),
          Task.fromSync(fire),
        ).withMaxRuns(1);
        const running = new Scheduler({}, new InMemoryStateStore()).run(job, {
          signal: controller.signal,
        });
        return async () => {
          controller.abort();
          await running;
        };
      },
    },
    {
      name: `croner ${peerVersion("croner")}`,
      how: `\`new Cron("${EXPRESSION}", { utcOffset: 0 }, fn)\``,
      start(fire) {
        const job = new Cron(EXPRESSION, { utcOffset: 0 }, fire);
        return () => job.stop();
      },
    },
    {
      name: `node-cron ${peerVersion("node-cron")}`,
      how: `\`schedule("${EXPRESSION}", fn, { timezone: "UTC" })\``,
      start(fire) {
        const task = nodeCron.schedule(EXPRESSION, fire, { timezone: "UTC" });
        return () => task.destroy();
      },
    },
    {
      name: `cron (kelektiv) ${peerVersion("cron")}`,
      how:
        `\`CronJob.from({ cronTime: "${EXPRESSION}", timeZone: "UTC", start: true })\``,
      start(fire) {
        const job = CronJob.from({
          cronTime: EXPRESSION,
          onTick: fire,
          start: true,
          timeZone: "UTC",
        });
        return () => job.stop();
      },
    },
    {
      name: `toad-scheduler ${peerVersion("toad-scheduler")}`,
      how: "`SimpleIntervalJob({ days: 400 })`",
      start(fire) {
        const scheduler = new ToadScheduler();
        scheduler.addSimpleIntervalJob(
          new SimpleIntervalJob({ days: 400 }, new ToadTask("far", fire)),
        );
        return () => scheduler.stop();
      },
    },
    {
      name: `toad-scheduler ${peerVersion("toad-scheduler")}`,
      how: "`LongIntervalJob({ days: 400 })`",
      start(fire) {
        const scheduler = new ToadScheduler();
        scheduler.addLongIntervalJob(
          new LongIntervalJob({ days: 400 }, new ToadTask("far", fire)),
        );
        return () => scheduler.stop();
      },
    },
    {
      name: "raw `setTimeout`",
      how: "`setTimeout(fn, 400 days)`",
      start(fire) {
        const id = setTimeout(fire, DUE - START);
        return () => clearTimeout(id);
      },
    },
  ];
}

function when(instant: number): string {
  const offset = instant - DUE;
  if (offset === 0) return "on time";
  const days = Math.abs(offset) / DAY_MS;
  const size = days >= 1
    ? `${days.toFixed(1)} days`
    : `${(Math.abs(offset) / 1000).toFixed(3)} s`;
  return `${size} ${offset < 0 ? "early" : "late"}`;
}

async function probe(candidate: Candidate): Promise<string[]> {
  const clock = installFakeClock(START);
  const fired: number[] = [];
  let stopped: Promise<void> | undefined;
  try {
    // A library may fire while still starting, before its stopper exists.
    const started: { stop?: () => void | Promise<void> } = {};
    const halt = () => (stopped ??= Promise.resolve(started.stop?.()));
    started.stop = candidate.start(() => {
      fired.push(Date.now());
      // An overflowed interval re-fires every millisecond: enough is known.
      if (fired.length === MAX_FIRINGS) void halt();
    });
    await clock.tickAsync(0);
    const timers = clock.countTimers();
    await clock.tickAsync(1_000);
    // Past the due instant by a minute, in steps so re-armed timers settle.
    while (stopped === undefined && Date.now() < DUE + 60_000) {
      await clock.tickAsync(Math.min(DAY_MS, DUE + 60_000 - Date.now()));
    }
    await halt();
    const verdict = fired.length === 0
      ? "never fired"
      : fired.some((t) => t < DUE)
      ? "**fires early**"
      : "correct";
    return [
      candidate.name,
      candidate.how,
      timers > 0 ? "yes" : "no (result not meaningful)",
      fired.length >= MAX_FIRINGS
        ? `${fired.length}, stopped`
        : String(fired.length),
      fired.slice(0, 3).map(when).join(", ") +
      (fired.length > 3 ? ", …" : ""),
      verdict,
    ];
  } catch (error) {
    return [
      candidate.name,
      candidate.how,
      "—",
      "—",
      `throws: ${describeError(error)}`,
      "refuses the schedule",
    ];
  } finally {
    clock.uninstall();
  }
}

/** Runs the measurement and returns its section of RESULTS.md. */
export async function measureFarFuture(): Promise<Section> {
  const rows: string[][] = [];
  for (const candidate of candidates()) rows.push(await probe(candidate));
  return {
    title: "An occurrence 400 days away, under fake time",
    body: [
      `A fake clock (\`@sinonjs/fake-timers\`, faking \`setTimeout\`, \`setInterval\` and \`Date\`) starts at ${
        new Date(START).toISOString()
      }; each library schedules \`${EXPRESSION}\` in UTC (next: ${
        new Date(DUE).toISOString()
      }, exactly 400 days later) or a 400-day interval, and the clock runs to a minute past that instant. "Timer on fake clock" checks that the library's timers were faked at all. Early firings show a delay past 2^31 − 1 ms handed to one timer.`,
      "",
      table(
        [
          "library",
          "how",
          "timer on fake clock",
          "firings",
          "first firings vs due",
          "verdict",
        ],
        rows,
      ),
    ].join("\n"),
  };
}
