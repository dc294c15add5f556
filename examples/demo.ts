/**
 * The demo: one job, persisted in a Deno KV file, guarded by a Deno KV
 * execution lease. Stop it with Ctrl-C and start it again: it resumes from
 * the stored state.
 *
 *   deno task demo [--interval MS | --cron EXPR] [--tz ZONE] [--runs N]
 *                  [--job ID] [--store kv|memory] [--data DIR]
 */
import {
  DenoKvExecutionGuard,
  DenoKvStateStore,
  type ExecutionGuard,
  InMemoryStateStore,
  Job,
  NoopExecutionGuard,
  Schedule,
  Scheduler,
  SchedulerError,
  type StateStore,
  Task,
} from "../mod.ts";

const USAGE = `usage: deno task demo [options]

  --interval MS     run every MS milliseconds (default 2000)
  --cron EXPR       run on a crontab(5) expression instead, e.g. "*/5 * * * *"
  --tz ZONE         IANA time zone for cron and for display (default: this machine's)
  --runs N          stop after N runs in this session (default 5)
  --job ID          job id, the key of the stored state (default "demo")
  --store kv|memory where to keep the state (default kv: survives restarts)
  --data DIR        directory of the Deno KV file (default ./.data)
  --help            this text

Ctrl-C stops cleanly; the next start resumes from the stored state.`;

interface Options {
  schedule: Schedule;
  describe: string;
  timezone: string;
  runs: number;
  jobId: string;
  store: "kv" | "memory";
  dataDir: string;
}

class UsageError extends Error {}

function parseArgs(args: string[]): Options | "help" {
  const values = new Map<string, string>();
  const known = [
    "--interval",
    "--cron",
    "--tz",
    "--runs",
    "--job",
    "--store",
    "--data",
  ];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") return "help";
    const [name, inline] = arg.split(/=(.*)/s, 2);
    if (!known.includes(name)) {
      throw new UsageError(`unknown option ${JSON.stringify(arg)}`);
    }
    const value = inline ?? args[++i];
    if (value === undefined) throw new UsageError(`${name} needs a value`);
    if (values.has(name)) throw new UsageError(`${name} is given twice`);
    values.set(name, value);
  }
  if (values.has("--interval") && values.has("--cron")) {
    throw new UsageError("give --interval or --cron, not both");
  }
  const whole = (name: string, fallback: number) => {
    const text = values.get(name);
    if (text === undefined) return fallback;
    if (!/^[0-9]+$/.test(text) || Number(text) < 1) {
      throw new UsageError(
        `${name} must be a whole number >= 1, got ${JSON.stringify(text)}`,
      );
    }
    return Number(text);
  };
  const store = values.get("--store") ?? "kv";
  if (store !== "kv" && store !== "memory") {
    throw new UsageError(
      `--store must be kv or memory, got ${JSON.stringify(store)}`,
    );
  }
  const timezone = values.get("--tz") ??
    Intl.DateTimeFormat().resolvedOptions().timeZone;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
  } catch {
    throw new UsageError(
      `--tz must be an IANA time zone such as Europe/Berlin, got ${
        JSON.stringify(timezone)
      }`,
    );
  }
  const cron = values.get("--cron");
  const interval = whole("--interval", 2000);
  const schedule = cron === undefined
    ? Schedule.interval(interval)
    : Schedule.cron(cron);
  const jobId = values.get("--job") ?? "demo";
  // The library's own id rules (empty, control characters, length): a job
  // built now fails here, as a usage error, instead of later with a trace.
  Job.withoutDeps(jobId, schedule, Task.fromSync(() => {}));
  const dataDir = values.get("--data") ?? "./.data";
  if (existsAsNonDirectory(dataDir)) {
    throw new UsageError(
      `--data must be a directory, got the file ${JSON.stringify(dataDir)}`,
    );
  }
  return {
    schedule,
    describe: cron === undefined ? `every ${interval} ms` : `on \`${cron}\``,
    timezone,
    runs: whole("--runs", 5),
    jobId,
    store,
    dataDir,
  };
}

function existsAsNonDirectory(path: string): boolean {
  try {
    return !Deno.statSync(path).isDirectory;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw new UsageError(
      `--data ${JSON.stringify(path)} cannot be used: ${
        (error as Error).message
      }`,
    );
  }
}

/** Shows an instant as local time in the zone: 2026-11-29 11:20:07.862 CET. */
function formatter(timezone: string) {
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: timezone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    fractionalSecondDigits: 3,
    timeZoneName: "short",
    hourCycle: "h23",
  });
  return (date: Date | null) => {
    if (date === null) return "never";
    const part = Object.fromEntries(
      format.formatToParts(date).map(({ type, value }) => [type, value]),
    );
    return `${part.year}-${part.month}-${part.day} ${part.hour}:${part.minute}:${part.second}.${part.fractionalSecond} ${part.timeZoneName}`;
  };
}

async function main(): Promise<number> {
  let options: Options | "help";
  try {
    options = parseArgs(Deno.args);
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof SchedulerError)) {
      throw error;
    }
    console.error(`demo: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (options === "help") {
    console.log(USAGE);
    return 0;
  }
  const { jobId, runs, timezone } = options;
  const show = formatter(timezone);

  let kv: Deno.Kv | undefined;
  let store: StateStore;
  let guard: ExecutionGuard;
  let where: string;
  if (options.store === "kv") {
    await Deno.mkdir(options.dataDir, { recursive: true });
    const path = `${options.dataDir}/demo.kv`;
    kv = await Deno.openKv(path);
    store = new DenoKvStateStore(kv);
    guard = new DenoKvExecutionGuard(kv, {
      ttlMs: 30_000,
      renewIntervalMs: 10_000,
    });
    where = `Deno KV ${path}`;
  } else {
    store = new InMemoryStateStore();
    guard = new NoopExecutionGuard();
    where = "memory (lost on exit)";
  }

  let scheduler: Scheduler;
  try {
    scheduler = new Scheduler({ timezone }, store, { guard });
  } catch (error) {
    kv?.close();
    if (!(error instanceof SchedulerError)) throw error;
    console.error(`demo: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  const handle = scheduler.handle();
  console.log(
    `demo: job "${jobId}" ${options.describe} (${timezone}), state in ${where}`,
  );

  scheduler.addEventListener("state-loaded", ({ detail }) => {
    if (detail.source === "new") {
      console.log(`new state: first run at ${show(detail.nextRunAt)}`);
    } else {
      console.log(
        `resumed at triggerCount ${detail.triggerCount}, next run at ${
          show(detail.nextRunAt)
        }`,
      );
    }
  });
  scheduler.addEventListener("run-skipped", ({ detail }) => {
    console.log(
      `skipped ${detail.count} occurrence(s) (${detail.reason}), the latest ${
        show(detail.scheduledAt)
      }`,
    );
  });
  scheduler.addEventListener("execution-guard-contended", ({ detail }) => {
    console.log(
      `run #${detail.triggerCount} is held by another instance: not run here`,
    );
  });
  let completed = 0;
  scheduler.addEventListener("run-completed", ({ detail }) => {
    if (detail.status !== "success") {
      console.log(
        `run #${detail.triggerCount} ${detail.status}: ${detail.error}`,
      );
    }
    if (++completed >= runs) handle.shutdown();
  });

  const job = Job.withoutDeps(
    jobId,
    options.schedule,
    Task.fromAsync(async ({ run }) => {
      const lateness = Date.now() - run.scheduledAt.getTime();
      console.log(
        `run #${run.triggerCount}  scheduled ${
          show(run.scheduledAt)
        }  lateness ${lateness} ms  fencing token ${run.fencingToken ?? "-"}${
          run.catchUp ? "  (catch-up)" : ""
        }`,
      );
      await Promise.resolve(); // the job's work would go here
    }),
  );

  const controller = new AbortController();
  const onInterrupt = () => controller.abort("Ctrl-C");
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    const report = await scheduler.run(job, { signal: controller.signal });
    const why = report.stopReason === "cancelled"
      ? "cancelled by Ctrl-C"
      : report.stopReason === "terminal"
      ? "the schedule is exhausted"
      : `${completed} run(s) done in this session`;
    console.log(
      `stopped (${why}) at triggerCount ${report.state.triggerCount}, next run at ${
        show(report.state.nextRunAt)
      }` + (options.store === "kv" ? "\nrun the demo again to resume" : ""),
    );
    return 0;
  } catch (error) {
    console.error(
      `demo: ${error instanceof Error ? error.message : String(error)}`,
    );
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    kv?.close();
  }
}

Deno.exit(await main());
