/**
 * Import figures, printed (run with `deno task bench`): what
 * `import "@cloudiful/scheduler"` costs beside croner's ESM build (one
 * module), the floor, measured in the same run.
 *
 * 1. Modules loaded: every script V8 compiled in a fresh process that only
 *    imports the module (`tests/_loaded_modules.ts`); the count is asserted
 *    in `tests/import_cost_test.ts`. Aim: ≤ 30. Beside it, what the Deno KV
 *    backend adds at its first call.
 * 2. Import time: `performance.now()` around a dynamic `import()` of the
 *    module in a fresh `deno run` (resolving, reading, compiling and
 *    evaluating every module it loads; transpile and code caches warm, as
 *    for a user's second start), ours and croner's interleaved over the
 *    rounds; medians. Aim: ≤ 2× croner.
 *
 * croner comes from `bench/compare/.peers` (installed from
 * `bench/compare/peers.json` with npm when missing).
 */
import { installPeers, PEERS_DIR, peerVersion } from "./compare/_peers.ts";
import { loadedModules, ROOT_URL, runProbe } from "../tests/_loaded_modules.ts";

const ROUNDS = 21;
const OURS = new URL("mod.ts", ROOT_URL).href;
const CRONER = new URL("node_modules/croner/dist/croner.js", PEERS_DIR).href;

async function ensureCroner(): Promise<void> {
  try {
    await Deno.stat(new URL(CRONER));
  } catch {
    await installPeers();
  }
}

const PROBE_DIR = await Deno.makeTempDir({ prefix: "import_figures_" });

/** Milliseconds one fresh process takes to import `url`. */
async function importMs(url: string): Promise<number> {
  const printed = await runProbe(
    PROBE_DIR,
    `const start = performance.now();
await import(${JSON.stringify(url)});
console.log(performance.now() - start);
`,
  );
  return Number(printed.trim());
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

await ensureCroner();
const ours = await loadedModules(`import "@root/mod.ts";`);
// What Deno KV adds when it is used (a store and a guard, one grant).
const withKv = await loadedModules(`
  import { DenoKvExecutionGuard, DenoKvStateStore } from "@root/mod.ts";
  const kv = await Deno.openKv(":memory:");
  const guard = new DenoKvExecutionGuard(kv, { ttlMs: 1000, renewIntervalMs: 300 });
  const state = { jobId: "a", triggerCount: 1, lastRunAt: null, lastSuccessAt: null, nextRunAt: null, lastError: null };
  await new DenoKvStateStore(kv).saveAndAcquire({ guard, state, slot: { jobId: "a", scheduledAt: new Date(0) }, record: false });
  kv.close();
`);
const theirs = await loadedModules(`import ${JSON.stringify(CRONER)};`);
// Warm the transpile and code caches of both first.
await importMs(OURS);
await importMs(CRONER);
const oursMs: number[] = [];
const cronerMs: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  oursMs.push(await importMs(OURS));
  cronerMs.push(await importMs(CRONER));
}
await Deno.remove(PROBE_DIR, { recursive: true });
const ourMedian = median(oursMs);
const cronerMedian = median(cronerMs);
const croner = `croner ${peerVersion("croner")}`;
console.log(`Import of mod.ts (${ROUNDS} fresh processes each, interleaved):`);
console.log(
  `  modules loaded: ${ours.length} (aim ≤ 30); ${croner}: ${theirs.length}`,
);
console.log(
  `  Deno KV loads on its first call: +${
    withKv.length - ours.length
  } modules when a store and a guard are used`,
);
console.log(
  `  import time: ${ourMedian.toFixed(2)} ms; ${croner}: ${
    cronerMedian.toFixed(2)
  } ms → ${(ourMedian / cronerMedian).toFixed(1)}× croner (aim ≤ 2×)`,
);
