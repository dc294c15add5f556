/**
 * Import figures, printed (run with `deno task bench`): what
 * `import "@cloudiful/scheduler"` costs beside croner, measured in the same
 * run. See ARCHITECTURE.md, "What loads when".
 *
 * 1. Modules loaded: every script V8 compiled in a fresh process that only
 *    imports the module (`tests/_loaded_modules.ts`, asserted in
 *    `tests/import_cost_test.ts`; `_scripts_loaded.ts` for the remote
 *    ones). Aim: ≤ 30. Beside it, what the Deno KV backend adds at its
 *    first call.
 * 2. Import time: `performance.now()` around a dynamic `import()` in a
 *    fresh `deno run` (resolving, reading, compiling and evaluating every
 *    module it loads; caches warm, as for a user's second start), every
 *    probe interleaved over the rounds; medians. Aim: ≤ 2× croner. Two
 *    croner figures: its one ESM file read as a local file (the floor) and
 *    `npm:croner@<version>` as a Deno user imports it; and ours two ways:
 *    from this checkout, and as `jsr:@cloudiful/scheduler@<version>` from a
 *    throwaway JSR registry on loopback (`_jsr_layout.ts`), both served
 *    packages in a throwaway `DENO_DIR`.
 * 3. Why the engine stays in the static graph: how many real macrotasks
 *    (`setTimeout(…, 0)`) pass before a string-literal `import()` of the
 *    engine, not yet loaded, resolves, from this checkout and from the
 *    JSR-served copy (warm cache, and a user's first run, which downloads);
 *    and, with std's real `FakeTime` (its `tickAsync()` waits one real
 *    macrotask before it fires timers), whether a timer armed right after
 *    that load fires in `tickAsync()`, as `run(); await time.tickAsync(ms)`
 *    needs.
 * 4. The alternative, measured, not shipped: a minified, code-split bundle
 *    of mod.ts (`deno bundle`, platform browser: platform deno adds an
 *    `import "node:module"`).
 *
 * croner's file comes from `bench/compare/.peers` (installed from
 * `bench/compare/peers.json` with npm when missing); `npm:croner` from the
 * npm registry into the throwaway `DENO_DIR`.
 */
import { installPeers, PEERS_DIR, peerVersion } from "./compare/_peers.ts";
import {
  loadedModules,
  type ProbeOptions,
  ROOT_URL,
  runProbe,
} from "../tests/_loaded_modules.ts";
import { serveJsrLayout } from "./_jsr_layout.ts";
import { scriptsLoaded } from "./_scripts_loaded.ts";

const ROUNDS = 21;
/** Processes per turn count: the count is a distribution, not one number. */
const TURN_RUNS = 7;
/** First runs, each in a fresh `DENO_DIR` that downloads the package. */
const COLD_RUNS = 3;
const OURS = new URL("mod.ts", ROOT_URL).href;
const CRONER = new URL("node_modules/croner/dist/croner.js", PEERS_DIR).href;
const CRONER_NPM = `npm:croner@${peerVersion("croner")}`;
const ENGINE = "src/scheduler/loop/_engine.ts";

/** Counts real macrotasks until `import()` of the engine resolves. */
const TURNS_PROBE = (engine: string) =>
  `let turns = 0;
let loaded = false;
function turn() {
  if (loaded) return;
  turns++;
  setTimeout(turn, 0);
}
setTimeout(turn, 0);
await import(${JSON.stringify(engine)});
loaded = true;
console.log(turns);
`;

/**
 * A `run()` that would load its engine on first use and arm its first
 * timer once it is there, under std's `FakeTime`: does `tickAsync` see it?
 */
const FAKE_TIME_PROBE = `import { FakeTime } from "@std/testing/time";
const time = new FakeTime(0);
let fired = false;
import("./${ENGINE}").then(() => setTimeout(() => fired = true, 1_000));
await time.tickAsync(1_000);
time.restore();
console.log(fired);
`;

async function ensureCroner(): Promise<void> {
  try {
    await Deno.stat(new URL(CRONER));
  } catch {
    await installPeers();
  }
}

const PROBE_DIR = await Deno.makeTempDir({ prefix: "import_figures_" });

/** Milliseconds one fresh process takes to import `url`. */
async function importMs(
  url: string,
  options: ProbeOptions = {},
): Promise<number> {
  const printed = await runProbe(
    PROBE_DIR,
    `const start = performance.now();
await import(${JSON.stringify(url)});
console.log(performance.now() - start);
`,
    options,
  );
  return Number(printed.trim());
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** What `source` prints in `runs` fresh processes. */
async function printed(
  runs: number,
  source: string,
  options: () => ProbeOptions,
): Promise<string[]> {
  const outputs: string[] = [];
  for (let run = 0; run < runs; run++) {
    outputs.push((await runProbe(PROBE_DIR, source, options())).trim());
  }
  return outputs;
}

/** `0 (7 of 7 runs)`, `0–1 (0 in 2 of 3 runs)`. */
function turnsText(outputs: string[]): string {
  const turns = outputs.map(Number);
  const low = Math.min(...turns);
  const high = Math.max(...turns);
  const lows = turns.filter((t) => t === low).length;
  return low === high
    ? `${low} (${turns.length} of ${turns.length} runs)`
    : `${low}–${high} (${low} in ${lows} of ${turns.length} runs)`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function firedText(outputs: string[]): string {
  return `${outputs.filter((out) => out === "true").length}/${outputs.length}`;
}

/** The bundle's entry: `deno bundle` of mod.ts into `outdir`. */
async function bundle(outdir: string): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--code-splitting",
      "--minify",
      "--platform",
      "browser",
      "--packages",
      "external",
      "--outdir",
      outdir,
      "mod.ts",
    ],
    cwd: new URL(ROOT_URL).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `deno bundle failed:\n${new TextDecoder().decode(output.stderr)}`,
    );
  }
  return new URL(`file://${outdir}/mod.js`).href;
}

await ensureCroner();
const layout = await serveJsrLayout({
  extraFiles: {
    "_turns_probe.ts": TURNS_PROBE(`./${ENGINE}`),
    "_fake_time_probe.ts": FAKE_TIME_PROBE,
  },
  extraExports: {
    "./turns-probe": "./_turns_probe.ts",
    "./fake-time-probe": "./_fake_time_probe.ts",
  },
});
const coldDirs: string[] = [];
try {
  const OURS_JSR = layout.specifier;
  /** As a user's program without a deno.json, in the throwaway DENO_DIR. */
  const asUser: ProbeOptions = { config: false, env: layout.env };
  const fresh = (): ProbeOptions => {
    const dir = `${PROBE_DIR}/cold_${coldDirs.length}`;
    coldDirs.push(dir);
    return { config: false, env: { ...layout.env, DENO_DIR: dir } };
  };
  const BUNDLE = await bundle(`${PROBE_DIR}/bundle`);

  // First runs of the JSR copy, before anything is cached.
  const coldTurns = await printed(
    COLD_RUNS,
    `import "${OURS_JSR}/turns-probe";`,
    fresh,
  );
  const coldFired = layout.hasStd
    ? await printed(COLD_RUNS, `import "${OURS_JSR}/fake-time-probe";`, fresh)
    : [];

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
  // These also warm the throwaway DENO_DIR (downloads, transpile, code cache).
  const oursJsr = await scriptsLoaded(`import "${OURS_JSR}";`, asUser);
  const theirsNpm = await scriptsLoaded(`import "${CRONER_NPM}";`, asUser);
  const bundled = await scriptsLoaded(`import "${BUNDLE}";`);

  const probes: [string, ProbeOptions][] = [
    [OURS, {}],
    [CRONER, {}],
    [OURS_JSR, asUser],
    [CRONER_NPM, asUser],
    [BUNDLE, {}],
  ];
  // Warm the transpile and code caches of every probe first.
  for (const [url, options] of probes) await importMs(url, options);
  const times: number[][] = probes.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, [url, options]] of probes.entries()) {
      times[i].push(await importMs(url, options));
    }
  }
  const [oursMs, cronerMs, oursJsrMs, cronerNpmMs, bundleMs] = times.map(
    median,
  );

  // Warm: the copy is cached (above); the probes are downloaded by a first run.
  await runProbe(PROBE_DIR, `import "${OURS_JSR}/turns-probe";`, asUser);
  const localTurns = await printed(
    TURN_RUNS,
    TURNS_PROBE(`@root/${ENGINE}`),
    () => ({}),
  );
  const warmTurns = await printed(
    TURN_RUNS,
    `import "${OURS_JSR}/turns-probe";`,
    () => asUser,
  );
  let warmFired: string[] = [];
  if (layout.hasStd) {
    await runProbe(PROBE_DIR, `import "${OURS_JSR}/fake-time-probe";`, asUser);
    warmFired = await printed(
      TURN_RUNS,
      `import "${OURS_JSR}/fake-time-probe";`,
      () => asUser,
    );
  }

  const version = peerVersion("croner");
  const times2 = (ms: number, floor: number) => `${(ms / floor).toFixed(1)}×`;
  console.log(
    `Import of mod.ts (${ROUNDS} fresh processes each, interleaved; medians):`,
  );
  console.log(
    `  modules loaded: ${ours.length} (aim ≤ 30); croner ${version}: ${theirs.length}`,
  );
  console.log(
    `  Deno KV loads on its first call: +${
      withKv.length - ours.length
    } modules when a store and a guard are used`,
  );
  console.log(
    `  import time from this checkout: ${
      oursMs.toFixed(2)
    } ms; croner's file (dist/croner.js read locally, the floor): ${
      cronerMs.toFixed(2)
    } ms → ${
      times2(oursMs, cronerMs)
    }; ${CRONER_NPM} as a Deno user imports it: ${
      cronerNpmMs.toFixed(2)
    } ms → ${times2(oursMs, cronerNpmMs)} (aim ≤ 2×)`,
  );
  console.log(
    `  as a JSR user gets it, ${OURS_JSR} from a local JSR registry: ${oursJsr.length} modules, ${
      oursJsrMs.toFixed(2)
    } ms → ${times2(oursJsrMs, cronerNpmMs)} ${CRONER_NPM} (${
      plural(theirsNpm.length, "module")
    }), ${times2(oursJsrMs, cronerMs)} croner's file (aim ≤ 2×)`,
  );
  const missed = (outputs: string[]) =>
    outputs.filter((out) => out !== "true").length;
  const consequence = layout.hasStd
    ? `; std FakeTime.tickAsync waits 1, and a timer armed right after the load fired in tickAsync in ${
      firedText(warmFired)
    } warm and ${
      firedText(coldFired)
    } first runs: a run() that loaded its engine on first use would miss \`run(); await time.tickAsync(ms)\` in ${
      missed(warmFired)
    } of ${warmFired.length} warm and ${
      missed(coldFired)
    } of ${coldFired.length} first runs`
    : "; std FakeTime.tickAsync waits 1 (no @std mirror beside the clone: whether a timer armed after the load fires in it is not measured)";
  console.log(
    `  engine loaded on first use (string-literal import() of ${ENGINE}, not yet loaded), real macrotasks before it resolves: checkout ${
      turnsText(localTurns)
    }; JSR-served, warm cache ${
      turnsText(warmTurns)
    }; a first run that downloads the package (fresh DENO_DIR, as a CI job with an empty cache) ${
      turnsText(coldTurns)
    }${consequence}`,
  );
  console.log(
    `  not shipped: a minified, code-split bundle of mod.ts (deno bundle, platform browser): ${bundled.length} modules, ${
      bundleMs.toFixed(2)
    } ms → ${times2(bundleMs, cronerNpmMs)} npm:croner, ${
      times2(bundleMs, cronerMs)
    } croner's file; shipping it means publishing a built bundle or relaxing the 400-line and one-concept-per-file rules: the product owner's choice`,
  );
} finally {
  await layout.close();
  await Deno.remove(PROBE_DIR, { recursive: true });
}
