/**
 * Firing lateness on the real clock: each library fires a 50 ms schedule 200
 * times and the callback records (its start − the instant it was due), one
 * library after another in this process.
 */
import {
  InMemoryStateStore,
  Job,
  Schedule,
  Scheduler,
  Task,
} from "../../mod.ts";
import { peer, peerVersion } from "./_peers.ts";
import { percentile, type Section, table } from "./_report.ts";

const EVERY_MS = 50;
const FIRINGS = 200;
/** Per-second schedules (node-cron's finest): fewer firings keep it short. */
const SECOND_FIRINGS = 20;

/** Wall-clock milliseconds with sub-millisecond digits. */
function now(): number {
  return performance.timeOrigin + performance.now();
}

interface Outcome {
  name: string;
  schedule: string;
  lateness: number[];
}

async function ours(): Promise<Outcome> {
  const lateness: number[] = [];
  const job = Job.withoutDeps(
    "lateness",
    Schedule.interval(EVERY_MS),
    Task.fromSync(({ run }) =>
      void lateness.push(now() - run.scheduledAt.getTime())
    ),
  ).withMaxRuns(FIRINGS);
  await new Scheduler({}, new InMemoryStateStore()).run(job);
  return { name: "ours", schedule: "`Schedule.interval(50)`", lateness };
}

/** Fires at start + k·50 ms through `arm(target, fire)`, 200 times. */
function chain(
  arm: (target: number, fire: () => void) => void,
): Promise<number[]> {
  return new Promise((resolve) => {
    const lateness: number[] = [];
    const start = Date.now();
    const next = (k: number) => {
      const target = start + k * EVERY_MS;
      arm(target, () => {
        lateness.push(now() - target);
        if (k === FIRINGS) resolve(lateness);
        else next(k + 1);
      });
    };
    next(1);
  });
}

/** Every second through a pattern; `fire` answers whether to stop. */
function perSecond(
  { name, schedule, start }: {
    name: string;
    schedule: string;
    start: (fire: (due: number) => boolean) => void;
  },
): Promise<Outcome> {
  return new Promise((resolve) => {
    const lateness: number[] = [];
    start((due) => {
      lateness.push(now() - due);
      if (lateness.length < SECOND_FIRINGS) return false;
      resolve({ name, schedule, lateness });
      return true;
    });
  });
}

function cronerSeconds(): Promise<Outcome> {
  const { Cron } = peer("croner");
  return perSecond({
    name: `croner ${peerVersion("croner")}`,
    schedule:
      `\`* * * * * *\`: every second; ${SECOND_FIRINGS} firings, due = the nearest whole second`,
    start(fire) {
      new Cron("* * * * * *", { utcOffset: 0 }, (self: { stop(): void }) => {
        if (fire(Math.round(now() / 1000) * 1000)) self.stop();
      });
    },
  });
}

function rawTimeout(): Promise<Outcome> {
  return chain((target, fire) =>
    void setTimeout(fire, Math.max(0, target - Date.now()))
  ).then((lateness) => ({
    name: "raw `setTimeout`",
    schedule: "`setTimeout` to each start + k·50 ms",
    lateness,
  }));
}

function toad(): Promise<Outcome> {
  const { ToadScheduler, SimpleIntervalJob, Task: ToadTask } = peer(
    "toad-scheduler",
  );
  return new Promise((resolve) => {
    const scheduler = new ToadScheduler();
    const lateness: number[] = [];
    let start = 0;
    const task = new ToadTask("lateness", () => {
      lateness.push(now() - (start + (lateness.length + 1) * EVERY_MS));
      if (lateness.length === FIRINGS) {
        scheduler.stop();
        resolve({
          name: `toad-scheduler ${peerVersion("toad-scheduler")}`,
          schedule: "`SimpleIntervalJob({ milliseconds: 50 })` (setInterval)",
          lateness,
        });
      }
    });
    start = now();
    scheduler.addSimpleIntervalJob(
      new SimpleIntervalJob({ milliseconds: EVERY_MS }, task),
    );
  });
}

function nodeCron(): Promise<Outcome> {
  const cron = peer("node-cron");
  return perSecond({
    name: `node-cron ${peerVersion("node-cron")}`,
    schedule:
      `\`* * * * * *\`: every second, its finest; ${SECOND_FIRINGS} firings, due = the \`date\` it passes`,
    start(fire) {
      const task = cron.schedule("* * * * * *", ({ date }: { date: Date }) => {
        if (fire(date.getTime())) task.destroy();
      });
    },
  });
}

function ms(value: number): string {
  return value.toFixed(2);
}

/** Runs the measurement and returns its section of RESULTS.md. */
export async function measureLateness(): Promise<Section> {
  const outcomes: Outcome[] = [];
  for (
    const measure of [rawTimeout, ours, toad, cronerSeconds, nodeCron]
  ) {
    outcomes.push(await measure());
  }
  const rows = outcomes.map((outcome) => {
    const sorted = [...outcome.lateness].sort((a, b) => a - b);
    return [
      outcome.name,
      outcome.schedule,
      sorted.length,
      ms(percentile(sorted, 0.5)),
      ms(percentile(sorted, 0.99)),
      ms(sorted[0]),
      ms(sorted.at(-1)!),
    ];
  });
  return {
    title: "Firing lateness on the real clock",
    body: [
      `Each library fires a ${EVERY_MS} ms schedule ${FIRINGS} times (croner and node-cron resolve whole seconds by design, so a ${EVERY_MS} ms schedule is below their resolution: they fire an every-second pattern, ${SECOND_FIRINGS} times, instead); the callback records its start minus the instant it was due (for toad-scheduler: the job's start + k·${EVERY_MS} ms, as an interval has no other due instant). Milliseconds; negative means early. One library at a time in one process, on a machine that may be busy with other work: compare the rows with raw \`setTimeout\`, not with zero.`,
      "",
      table(
        ["library", "schedule", "firings", "p50", "p99", "min", "max"],
        rows,
      ),
    ].join("\n"),
  };
}
