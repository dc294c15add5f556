/**
 * At-most-once losses to a crash are reported, on real processes killed
 * with SIGKILL (docs/recovery.md): three instances of an at-times job
 * (T+4 s, T+1 h) share a Valkey server or a Deno KV file for state and
 * guard; the holder of the first occurrence is killed during its run. A
 * survivor reports it once, as `run-skipped` reason `lost`, within the
 * lease ttl plus one renewal interval of the death, and nobody runs it
 * again. Prints the ledger it checks. Real processes, so real time.
 */
import assert from "node:assert/strict";
import {
  type Finished,
  ledgerOf,
  printLedger,
  spawnInstance,
  testOnBothBackends,
} from "./_at_least_once_instances.ts";

const TTL_MS = 1_000;
const RENEW_MS = 250;
/** A busy 2-core machine may be late to notice; the bound itself is ttl + renew. */
const SLACK_MS = 1_000;

async function lostScenario(backend: "valkey" | "kv", where: string) {
  const origin = Date.now() + 4_000;
  const first = origin;
  const later = origin + 3_600_000;
  const args = [
    backend,
    where,
    "lost-job",
    `${first},${later}`,
    String(first),
    `lease=${TTL_MS},${RENEW_MS}`,
    "delivery=at-most-once",
  ];
  const children: Deno.ChildProcess[] = [];
  let killedAt: number | undefined;
  const killAll = () => {
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }
  };
  const onLine = (line: string, child: Deno.ChildProcess) => {
    if (line === `holding ${first}` && killedAt === undefined) {
      killedAt = Date.now();
      child.kill("SIGKILL");
    }
    // Reported; give the others a moment to (wrongly) report it too, then
    // stop them: they would wait an hour for the next occurrence.
    if (line.startsWith(`lost ${first} `)) setTimeout(killAll, 1_500);
  };
  const watchdog = setTimeout(killAll, 30_000); // a test must never hang
  let results: Finished[];
  try {
    results = await Promise.all(
      [0, 1, 2].map(() =>
        spawnInstance(args, onLine, (child) => children.push(child))
      ),
    );
  } finally {
    clearTimeout(watchdog);
  }
  const runs = ledgerOf(results);
  printLedger(
    `${backend}, at-most-once, holder killed at T+${killedAt! - origin} ms`,
    runs,
    origin,
  );
  assert.ok(killedAt !== undefined, "the holder of the first run was killed");
  const lost = results.flatMap((result) =>
    result.lines.filter((line) => line.startsWith("lost "))
  ).map((line) => line.split(" ").map(Number));
  console.log(
    `lost: ${
      lost.map(([, at, now]) =>
        `T+${at - origin} reported ${now - killedAt!} ms after the kill`
      ).join("; ")
    }`,
  );
  assert.equal(
    lost.length,
    1,
    `reported exactly once: ${results.map((r) => r.stderr).join("\n")}`,
  );
  assert.equal(lost[0][1], first);
  assert.ok(
    lost[0][2] - killedAt <= TTL_MS + RENEW_MS + SLACK_MS,
    `reported within ttl + renew of the death: ${lost[0][2] - killedAt} ms`,
  );
  assert.equal(runs.get(first)!.length, 1, "at most once: never run again");
  assert.equal(runs.has(later), false, "the hour-later occurrence is not due");
}

await testOnBothBackends(
  (backend) =>
    `at-most-once loss reported, ${backend}: the killed holder's occurrence is reported lost once by a survivor within ttl + renew, and not run again`,
  lostScenario,
);
