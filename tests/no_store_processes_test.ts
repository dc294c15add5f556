/**
 * Instances agree on interval occurrences without a store
 * (docs/recovery.md): three real processes start 40 ms apart with a
 * resilient Valkey state store whose server is down for the first 1.5 s
 * (so each creates its own first state) and a Valkey guard on another
 * server. Under a shared guard a new interval state starts on the epoch
 * grid, so their guard slots meet: every occurrence runs once, N runs for N
 * occurrences. The same on Deno KV: the state's KV file is on a volume that
 * appears only 1.5 s after the start (so the real `DenoKvStateStore` cannot
 * open it and the resilient store runs from its mirror), the guard a Deno
 * KV guard on a shared file. Prints the ledger.
 */
import assert from "node:assert/strict";
import { denoRun } from "./_processes.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";

const INSTANCE = new URL("./fixtures/no_store_instance.ts", import.meta.url);
const EVERY_MS = 100;
const RUNS = 30;

Deno.test({
  name:
    "three instances, store down at start: interval occurrences on one grid, every occurrence runs once (N runs for N occurrences)",
  ignore: !(await hasValkeyServer()),
  fn: () =>
    withValkeyServer((stateServer) =>
      withValkeyServer(async (guardServer) => {
        await stateServer.stop(); // down when the instances start
        const base = Date.now() + 3_000;
        const children = [0, 1, 2].map((i) =>
          denoRun(INSTANCE, [
            stateServer.url,
            guardServer.url,
            "no-store-job",
            String(EVERY_MS),
            String(RUNS),
            String(base + i * 40),
          ]).output()
        );
        await new Promise((r) => setTimeout(r, base + 1_500 - Date.now()));
        await stateServer.restart();
        const outputs = await Promise.all(children);
        checkLedger(outputs, base);
      })
    ),
});

/**
 * Each instance's `ran` lines: every occurrence on the grid ran exactly
 * once, and there are as many occurrences as one instance's runs (give or
 * take a late start). Prints the ledger.
 */
function checkLedger(outputs: Deno.CommandOutput[], base: number): void {
  const ran = new Map<number, number[]>();
  outputs.forEach((output, i) => {
    const stdout = new TextDecoder().decode(output.stdout);
    assert.equal(
      output.code,
      0,
      new TextDecoder().decode(output.stderr),
    );
    assert.match(stdout, /^done terminal \d+$/m);
    for (const line of stdout.split("\n")) {
      if (!line.startsWith("ran ")) continue;
      const at = Number(line.split(" ")[1]);
      ran.set(at, [...ran.get(at) ?? [], i]);
    }
  });
  const instants = [...ran.keys()].sort((a, b) => a - b);
  console.log(
    `ledger: ${instants.length} occurrences, ${
      [...ran.values()].flat().length
    } runs`,
  );
  for (const at of instants) {
    console.log(
      `  T+${at - base} ms: instance ${ran.get(at)!.join(", ")}`,
    );
  }
  for (const at of instants) {
    assert.equal(at % EVERY_MS, 0, `${at} is on the grid`);
    assert.equal(ran.get(at)!.length, 1, `${at} ran once`);
  }
  assert.ok(instants.length >= RUNS, "every occurrence ran");
  // Each instance runs RUNS occurrences from its own first one; a
  // process that starts late (a busy machine) starts a step or two
  // later on the same grid, never on a grid of its own.
  assert.ok(
    instants.length <= RUNS + 5,
    `${instants.length} occurrences`,
  );
}

const KV_INSTANCE = new URL(
  "./fixtures/no_store_kv_instance.ts",
  import.meta.url,
);

Deno.test(
  "Deno KV: three instances, the state's KV file unavailable at start: interval occurrences on one grid, every occurrence runs once (N runs for N occurrences)",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const volume = `${dir}/volume`; // not there yet
      const guardPath = `${dir}/guard.kv`;
      const base = Date.now() + 3_000;
      const children = [0, 1, 2].map((i) =>
        denoRun(KV_INSTANCE, [
          `${volume}/state.kv`,
          guardPath,
          "no-store-kv-job",
          String(EVERY_MS),
          String(RUNS),
          String(base + i * 40),
        ]).output()
      );
      await new Promise((r) => setTimeout(r, base + 1_500 - Date.now()));
      await Deno.mkdir(volume);
      const outputs = await Promise.all(children);
      checkLedger(outputs, base);
      for (const output of outputs) {
        const stdout = new TextDecoder().decode(output.stdout);
        // The store really was down at the start and came back.
        assert.match(stdout, /^degraded$/m);
        assert.match(stdout, /^recovered$/m);
      }
      // The recovered store holds the job's state, written back.
      const kv = await Deno.openKv(`${volume}/state.kv`);
      try {
        const entries = await Array.fromAsync(kv.list({ prefix: [] }));
        assert.ok(entries.length >= 1, "a state was written back");
      } finally {
        kv.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
