/**
 * Two `deno run` processes share one KV file through DenoKvExecutionGuard,
 * each with its own in-memory state: every occurrence runs exactly once.
 * Real processes, so real time (about two seconds).
 */
import assert from "node:assert/strict";

import { denoRun } from "./_processes.ts";

const INSTANCE = new URL("./fixtures/guarded_instance.ts", import.meta.url);

async function spawnInstance(args: string[]) {
  const output = await denoRun(INSTANCE, args).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

Deno.test("two processes on one KV file: each of 30 occurrences runs exactly once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/shared.kv`;
    const start = Date.now() + 1_500;
    const instants = Array.from({ length: 30 }, (_, i) => start + i * 40);
    const args = [path, "ledger-job", instants.join(",")];
    const [first, second] = await Promise.all([
      spawnInstance(args),
      spawnInstance(args),
    ]);
    for (
      const [name, result] of [["first", first], ["second", second]] as const
    ) {
      assert.equal(result.code, 0, `${name} exited 0: ${result.stderr}`);
      assert.match(
        result.stdout,
        /^done terminal 30$/m,
        `${name} consumed all 30`,
      );
    }
    const lines = (first.stdout + second.stdout).split("\n");
    const ran = lines.filter((line) => line.startsWith("ran "))
      .map((line) => line.split(" "));
    const ledger = new Map<number, number>();
    for (const [, at] of ran) {
      ledger.set(Number(at), (ledger.get(Number(at)) ?? 0) + 1);
    }
    for (const instant of instants) {
      assert.equal(
        ledger.get(instant),
        1,
        `occurrence ${instant} ran exactly once`,
      );
    }
    assert.equal(ran.length, 30, "no run outside the list");
    // Every occurrence a process did not run, it saw as contended.
    for (const result of [first, second]) {
      const ranHere = result.stdout.match(/^ran /gm)?.length ?? 0;
      const contendedHere = result.stdout.match(/^contended /gm)?.length ?? 0;
      assert.equal(ranHere + contendedHere, 30);
    }
    // Fencing tokens: one per grant, strictly increasing, never reused.
    const tokens = ran.map(([, , token]) => BigInt(token)).sort((a, b) =>
      a < b ? -1 : a > b ? 1 : 0
    );
    assert.deepEqual(
      tokens,
      Array.from({ length: 30 }, (_, i) => BigInt(i + 1)),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
