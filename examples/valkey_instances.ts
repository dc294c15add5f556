/**
 * Two instances of one service share a Valkey (or Redis) server: both run the
 * same job with a Valkey state store and execution guard, and each occurrence
 * runs on exactly one of them, with a fencing token that only grows.
 *
 *   deno run --allow-net --allow-env examples/valkey_instances.ts \
 *     [--url redis://127.0.0.1:6379] [--runs N] [--interval MS] [--job ID]
 *
 * Real services run one instance per process or host; two in one process keep
 * the example self-contained (each still has its own connections).
 */
import { ValkeyExecutionGuard, ValkeyStateStore } from "../src/valkey/mod.ts";
import { Job, Schedule, Scheduler, Task } from "../mod.ts";

function option(name: string, fallback: string): string {
  const index = Deno.args.indexOf(name);
  return index >= 0 && Deno.args[index + 1] !== undefined
    ? Deno.args[index + 1]
    : fallback;
}

function whole(name: string, fallback: number): number {
  const text = option(name, String(fallback));
  if (!/^[0-9]+$/.test(text) || Number(text) < 1) {
    console.error(`${name} must be a whole number >= 1, got ${text}`);
    Deno.exit(2);
  }
  return Number(text);
}

const url = option("--url", "redis://127.0.0.1:6379");
const runs = whole("--runs", 6);
const interval = whole("--interval", 200);
const jobId = option("--job", "valkey-example");

/** Occurrence (scheduled instant) → the instances that ran it. */
const ranBy = new Map<string, string[]>();
const stop = new AbortController();

async function instance(name: string) {
  const store = await ValkeyStateStore.connect(url);
  const guard = await ValkeyExecutionGuard.connect(url, {
    ttlMs: 10_000,
    renewIntervalMs: 3_000,
  });
  try {
    const job = Job.withoutDeps(
      jobId,
      Schedule.interval(interval),
      Task.fromSync(({ run }) => {
        const key = run.scheduledAt.toISOString();
        ranBy.set(key, [...(ranBy.get(key) ?? []), name]);
        console.log(
          `${key} ran on instance ${name}, fencing token ${run.fencingToken}`,
        );
        if (ranBy.size >= runs) stop.abort();
      }),
    );
    await new Scheduler({}, store, { guard }).run(job, {
      signal: stop.signal,
    });
  } finally {
    await Promise.all([store.close(), guard.close()]);
  }
}

await Promise.all([instance("a"), instance("b")]);
const twice = [...ranBy.values()].filter((names) => names.length > 1).length;
console.log(`${ranBy.size} occurrences, ${twice} ran twice`);
