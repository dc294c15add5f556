/**
 * Many jobs in one `JobGroup`, beside the peers measured in the same run
 * (run with `deno run -A bench/many_jobs_figures.ts`; part of
 * `deno task bench`).
 *
 * Each library schedules the same jobs (`0 3 * * *` in UTC, a no-op task;
 * toad-scheduler, which has no cron, a 24 h interval) in its own child
 * process (`bench/compare/many_jobs.ts`): heap growth after a forced GC,
 * pending timers, idle CPU while nothing is due, the time to start all jobs
 * (until their asynchronous start settles) and to cancel them all.
 *
 * Aims at 10 000 jobs: heap ≤ 15 MB, start ≤ 100 ms, cancel ≤ 50 ms, ≤ 1
 * pending timer, idle CPU ≤ toad-scheduler's (the lightest peer, which keeps
 * no state); ours and toad-scheduler there are medians of three children. 100 000 jobs are measured and reported too. The peers are
 * installed into bench/compare/.peers/ with `npm ci` when missing (as
 * `deno task compare` does).
 */
import { type Figures, measureOne } from "./compare/many_jobs.ts";
import { installPeers, PEERS_DIR } from "./compare/_peers.ts";

/** The idle window: long enough for a timer-per-job design to show. */
const IDLE_MS = 4_000;
/**
 * Children per figure for ours and toad-scheduler at 10 000 jobs (medians):
 * idle CPU near the floor of an idle process differs by noise alone.
 */
const REPEATS = 3;
const PEERS = ["toad-scheduler", "cron", "node-cron"] as const;
const AIMS = { heapMb: 15, startMs: 100, stopMs: 50, timers: 1 };

const fmt = (value: number, digits = 1) => value.toFixed(digits);
const verdict = (met: boolean) => (met ? "met" : "NOT MET");
const ratio = (ours: number, theirs: number) =>
  theirs > 0 ? `${(ours / theirs).toFixed(2)}×` : "–";

async function peersInstalled(): Promise<boolean> {
  try {
    await Deno.stat(new URL("node_modules/toad-scheduler", PEERS_DIR));
    return true;
  } catch {
    try {
      await installPeers();
      return true;
    } catch (error) {
      console.log(
        `peers not installed (${
          (error as Error).message.split("\n")[0]
        }): ours only`,
      );
      return false;
    }
  }
}

function row(name: string, figures: Figures, floor?: Figures): string {
  const cells = [
    `${fmt(figures.heapMb)} MB`,
    `${figures.timers} timers`,
    `idle CPU ${fmt(figures.idleCpuMs)} ms`,
    `start ${fmt(figures.startMs, 0)} ms`,
    `cancel ${fmt(figures.stopMs, 0)} ms`,
  ];
  const ratios = floor === undefined
    ? ""
    : ` | ours/this: heap ${ratio(floor.heapMb, figures.heapMb)}, start ${
      ratio(floor.startMs, figures.startMs)
    }, cancel ${ratio(floor.stopMs, figures.stopMs)}`;
  return `  ${name.padEnd(16)} ${cells.join(", ")}${ratios}`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Each figure the median of `repeats` children. */
async function measure(
  name: string,
  jobs: number,
  repeats = 1,
): Promise<Figures | undefined> {
  try {
    const runs: Figures[] = [];
    for (let i = 0; i < repeats; i++) {
      runs.push(await measureOne(name, { jobs, idleMs: IDLE_MS }));
    }
    const of = (
      key: "heapMb" | "timers" | "idleCpuMs" | "startMs" | "stopMs",
    ) => median(runs.map((run) => run[key]));
    return {
      ...runs[0],
      heapMb: of("heapMb"),
      timers: of("timers"),
      idleCpuMs: of("idleCpuMs"),
      startMs: of("startMs"),
      stopMs: of("stopMs"),
    };
  } catch (error) {
    console.log(
      `  ${name}: not measured (${(error as Error).message.split("\n")[0]})`,
    );
    return undefined;
  }
}

const withPeers = await peersInstalled();
for (const jobs of [10_000, 100_000]) {
  const repeats = jobs === 10_000 ? REPEATS : 1;
  console.log(
    `\n${jobs.toLocaleString("en")} jobs (idle CPU over ${IDLE_MS / 1000} s${
      repeats > 1 ? `; ours and toad-scheduler: medians of ${repeats}` : ""
    })`,
  );
  const ours = await measure("ours-group", jobs, repeats);
  if (ours === undefined) continue;
  console.log(row("ours (JobGroup)", ours));
  const peers = new Map<string, Figures>();
  for (const name of withPeers ? PEERS : []) {
    const figures = await measure(
      name,
      jobs,
      name === "toad-scheduler" ? repeats : 1,
    );
    if (figures === undefined) continue;
    peers.set(name, figures);
    console.log(row(name, figures, ours));
  }
  if (jobs !== 10_000) continue;
  const toad = peers.get("toad-scheduler");
  console.log(
    `  aim heap ≤ ${AIMS.heapMb} MB: ${fmt(ours.heapMb)} MB, ${
      verdict(ours.heapMb <= AIMS.heapMb)
    }`,
  );
  console.log(
    `  aim start ≤ ${AIMS.startMs} ms: ${fmt(ours.startMs, 0)} ms, ${
      verdict(ours.startMs <= AIMS.startMs)
    }`,
  );
  console.log(
    `  aim cancel ≤ ${AIMS.stopMs} ms: ${fmt(ours.stopMs, 0)} ms, ${
      verdict(ours.stopMs <= AIMS.stopMs)
    }`,
  );
  console.log(
    `  aim ≤ ${AIMS.timers} pending timer: ${ours.timers}, ${
      verdict(ours.timers <= AIMS.timers)
    }`,
  );
  if (toad !== undefined) {
    console.log(
      `  aim idle CPU ≤ toad-scheduler's: ${fmt(ours.idleCpuMs)} ms vs ${
        fmt(toad.idleCpuMs)
      } ms (${ratio(ours.idleCpuMs, toad.idleCpuMs)}), ${
        verdict(ours.idleCpuMs <= toad.idleCpuMs)
      }`,
    );
  }
}
