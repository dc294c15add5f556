/**
 * At-least-once with real processes: three `deno run` instances share one
 * Valkey (or one Deno KV file) for the guard and the state; the instance that
 * runs a chosen occurrence is SIGKILLed while it holds it. Every occurrence
 * must then be in the ledger exactly once, or twice only as a replay after
 * the kill with a strictly higher fencing token; none is lost. Real
 * processes, so real time (a few seconds each).
 */
import assert from "node:assert/strict";
import {
  spawnInstance,
  testOnBothBackends,
} from "./_at_least_once_instances.ts";

async function crashScenario(backend: "valkey" | "kv", where: string) {
  const start = Date.now() + 3_000;
  const instants = Array.from({ length: 24 }, (_, i) => start + i * 80);
  const hold = instants[4];
  const args = [backend, where, "crash-job", instants.join(","), String(hold)];
  let killedAt: number | undefined;
  const onLine = (line: string, child: Deno.ChildProcess) => {
    if (line === `holding ${hold}` && killedAt === undefined) {
      killedAt = Date.now();
      child.kill("SIGKILL");
    }
  };
  const results = await Promise.all(
    [0, 1, 2].map(() => spawnInstance(args, onLine)),
  );
  const victims = results.filter((result) => result.killed);
  assert.equal(victims.length, 1, "exactly one instance was killed");
  assert.ok(
    victims[0].lines.includes(`holding ${hold}`),
    "the killed one held the occurrence",
  );
  for (const result of results.filter((result) => !result.killed)) {
    assert.equal(result.code, 0, `a survivor exited 0: ${result.stderr}`);
    assert.ok(
      result.lines.some((line) => line.startsWith("done terminal")),
      `a survivor ran the job to its end: ${result.lines.join("\n")}`,
    );
  }
  const runs = new Map<number, { token: bigint; replayed: boolean }[]>();
  for (const result of results) {
    for (const line of result.lines) {
      if (!line.startsWith("ran ")) continue;
      const [, at, token, replayed] = line.split(" ");
      const list = runs.get(Number(at)) ?? [];
      list.push({ token: BigInt(token), replayed: replayed === "true" });
      runs.set(Number(at), list);
    }
  }
  assert.deepEqual(
    [...runs.keys()].sort((a, b) => a - b),
    instants,
    "every occurrence ran, and nothing else did",
  );
  for (const instant of instants) {
    const list = runs.get(instant)!;
    const originals = list.filter((run) => !run.replayed);
    assert.equal(originals.length, 1, `${instant} ran once as itself`);
    const replays = list.filter((run) => run.replayed);
    if (instant === hold) {
      assert.equal(replays.length, 1, "the held occurrence was replayed");
    }
    assert.ok(replays.length <= 1, `${instant} replayed at most once`);
    for (const replay of replays) {
      assert.ok(
        replay.token > originals[0].token,
        `${instant}: the replay's fencing token ${replay.token} is above ${
          originals[0].token
        }`,
      );
    }
  }
  // Only the held occurrence can have been replayed: no holder of any
  // other occurrence died.
  for (const [instant, list] of runs) {
    if (instant !== hold) {
      assert.equal(list.length, 1, `${instant} ran exactly once`);
    }
  }
  const reclaims = results.flatMap((result) =>
    result.lines.filter((line) => line.startsWith("reclaimed "))
  );
  assert.equal(reclaims.length, 1, "one reclaimer, once");
  assert.match(reclaims[0], new RegExp(`^reclaimed ${hold} \\d+ \\d+$`));
}

await testOnBothBackends(
  (backend) =>
    `at-least-once, ${backend}: three processes, the holder of a run is SIGKILLed, the run is replayed once with a higher fencing token, nothing lost`,
  crashScenario,
);
