/**
 * 10 000 jobs in one process: heap, pending timers, idle CPU over 10 s, and
 * the time to start and to stop them all. Each library runs in its own child
 * process (this file, run with the library's name, and optionally the number
 * of jobs and the idle window in ms) so heaps do not mix. `measureOne` is
 * also what bench/many_jobs_figures.ts runs (`deno task bench`).
 */
import process from "node:process";
import {
  InMemoryStateStore,
  Job,
  JobGroup,
  Schedule,
  Scheduler,
  Task,
} from "../../mod.ts";
import { peer, peerVersion } from "./_peers.ts";
import { describeError, pause, type Section, table, whole } from "./_report.ts";

/** The number of jobs and the idle window of a child (its arguments). */
let JOBS = 10_000;
let IDLE_MS = 10_000;
/** Daily at 03:00 UTC: nothing is due during the idle window (in practice). */
const EXPRESSION = "0 3 * * *";

type Stop = () => void | Promise<void>;

/** Starts `JOBS` jobs; resolves with the function that stops them all. */
export const LIBRARIES: Record<
  string,
  { label: () => string; start: () => Stop }
> = {
  "ours-group": {
    label: () => "ours: one `JobGroup`, shared in-memory store",
    start() {
      const jobs = new JobGroup();
      for (let i = 0; i < JOBS; i++) {
        jobs.schedule(EXPRESSION, { jobId: `job-${i}` }, () => {});
      }
      return async () => {
        jobs.cancel();
        await jobs.done();
      };
    },
  },
  ours: {
    label: () => "ours: one `Scheduler` + `run()` each, shared in-memory store",
    start() {
      const store = new InMemoryStateStore();
      const controller = new AbortController();
      const runs: Promise<unknown>[] = [];
      for (let i = 0; i < JOBS; i++) {
        runs.push(
          new Scheduler({}, store).run(
            Job.withoutDeps(
              `job-${i}`,
              Schedule.cron(EXPRESSION),
              Task.fromSync(() => {}),
            ),
            { signal: controller.signal },
          ),
        );
      }
      return async () => {
        controller.abort();
        await Promise.all(runs);
      };
    },
  },
  croner: {
    label: () =>
      `croner ${
        peerVersion("croner")
      }: one \`new Cron\` each (\`utcOffset: 0\`)`,
    start() {
      const { Cron } = peer("croner");
      const jobs = Array.from(
        { length: JOBS },
        () => new Cron(EXPRESSION, { utcOffset: 0 }, () => {}),
      );
      return () => jobs.forEach((job) => job.stop());
    },
  },
  cron: {
    label: () =>
      `cron (kelektiv) ${
        peerVersion("cron")
      }: one \`CronJob.from({ start: true })\` each`,
    start() {
      const { CronJob } = peer("cron");
      const jobs = Array.from({ length: JOBS }, () =>
        CronJob.from({
          cronTime: EXPRESSION,
          onTick: () => {},
          start: true,
          timeZone: "UTC",
        }));
      return () => jobs.forEach((job) => job.stop());
    },
  },
  "node-cron": {
    label: () =>
      `node-cron ${peerVersion("node-cron")}: one \`schedule()\` each`,
    start() {
      const nodeCron = peer("node-cron");
      const tasks = Array.from(
        { length: JOBS },
        () => nodeCron.schedule(EXPRESSION, () => {}, { timezone: "UTC" }),
      );
      return async () => {
        await Promise.all(tasks.map((task) => task.destroy()));
      };
    },
  },
  "toad-scheduler": {
    label: () =>
      `toad-scheduler ${
        peerVersion("toad-scheduler")
      }: one \`SimpleIntervalJob({ hours: 24 })\` each on one \`ToadScheduler\` (it has no cron of its own)`,
    start() {
      const { ToadScheduler, SimpleIntervalJob, Task: ToadTask } = peer(
        "toad-scheduler",
      );
      const scheduler = new ToadScheduler();
      for (let i = 0; i < JOBS; i++) {
        scheduler.addSimpleIntervalJob(
          new SimpleIntervalJob(
            { hours: 24 },
            new ToadTask(`job-${i}`, () => {}),
          ),
        );
      }
      return () => scheduler.stop();
    },
  },
};

/** What a child measures. */
export interface Figures {
  label: string;
  heapMb: number;
  timers: number;
  idleCpuMs: number;
  startMs: number;
  stopMs: number;
  timersAfterStop: number;
}

function timers(): number {
  // deno-lint-ignore no-explicit-any
  const info: string[] = (process as any).getActiveResourcesInfo();
  return info.filter((kind) => kind === "Timeout").length;
}

function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return Deno.memoryUsage().heapUsed;
}

/** The child's side: measures one library and prints JSON. */
async function child(name: string): Promise<void> {
  const library = LIBRARIES[name];
  const baseHeap = heapUsed();
  const baseTimers = timers();
  let started = performance.now();
  const stop = library.start();
  await pause(0); // asynchronous start-up (ours loads state first) settles
  const startMs = performance.now() - started;
  const heap = heapUsed() - baseHeap;
  const pending = timers() - baseTimers;
  const cpuBefore = process.cpuUsage();
  await pause(IDLE_MS);
  const cpu = process.cpuUsage(cpuBefore);
  started = performance.now();
  await stop();
  const stopMs = performance.now() - started;
  await pause(0);
  const figures: Figures = {
    label: library.label(),
    heapMb: heap / 1024 / 1024,
    timers: pending,
    idleCpuMs: (cpu.user + cpu.system) / 1000,
    startMs,
    stopMs,
    timersAfterStop: timers() - baseTimers,
  };
  console.log(JSON.stringify(figures));
}

/**
 * Measures one library in a child process: `jobs` jobs (default 10 000),
 * idle CPU over `idleMs` (default 10 s).
 */
export async function measureOne(
  name: string,
  options: { jobs?: number; idleMs?: number } = {},
): Promise<Figures> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--v8-flags=--expose-gc",
      new URL(import.meta.url).pathname,
      name,
      String(options.jobs ?? JOBS),
      String(options.idleMs ?? IDLE_MS),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) {
    throw new Error(
      new TextDecoder().decode(output.stderr).trim() || `exit ${output.code}`,
    );
  }
  return JSON.parse(text.split("\n").at(-1)!);
}

/** Runs the measurement and returns its section of RESULTS.md. */
export async function measureManyJobs(): Promise<Section> {
  const rows: (string | number)[][] = [];
  for (const name of Object.keys(LIBRARIES)) {
    try {
      const f = await measureOne(name);
      rows.push([
        f.label,
        f.heapMb.toFixed(1),
        whole(f.timers),
        f.idleCpuMs.toFixed(0),
        `${(f.idleCpuMs / IDLE_MS * 100).toFixed(2)} %`,
        f.startMs.toFixed(0),
        f.stopMs.toFixed(0),
        whole(f.timersAfterStop),
      ]);
    } catch (error) {
      rows.push([name, `not measured: ${describeError(error)}`]);
    }
  }
  return {
    title: `${whole(JOBS)} jobs in one process`,
    body: [
      `Each library in its own \`deno run --v8-flags=--expose-gc\` process schedules ${
        whole(JOBS)
      } jobs on \`${EXPRESSION}\` (UTC) with a no-op task. Heap: \`heapUsed\` growth after a forced GC. Timers: pending \`Timeout\`s from \`process.getActiveResourcesInfo()\`. Idle CPU: user + system time over ${
        IDLE_MS / 1000
      } s in which nothing is due, and as a share of one core. Start: creating all jobs until their asynchronous start-up settles (one macrotask); stop: until every stop call has resolved.`,
      "",
      table(
        [
          "library",
          "heap (MB)",
          "pending timers",
          `idle CPU over ${IDLE_MS / 1000} s (ms)`,
          "of one core",
          "start all (ms)",
          "stop all (ms)",
          "timers left after stop",
        ],
        rows,
      ),
    ].join("\n"),
  };
}

if (import.meta.main) {
  const name = Deno.args[0];
  if (!(name in LIBRARIES)) {
    throw new Error(
      `many_jobs.ts: unknown library ${JSON.stringify(name)}; known: ${
        Object.keys(LIBRARIES).join(", ")
      }`,
    );
  }
  JOBS = Number(Deno.args[1] ?? JOBS);
  IDLE_MS = Number(Deno.args[2] ?? IDLE_MS);
  await child(name);
}
