/**
 * Recovery on time and without holes, on real processes killed with SIGKILL
 * (docs/recovery.md): a dead holder's occurrence is replayed within the
 * lease ttl plus one renewal interval of its death whatever the schedule
 * (here a nightly-like gap of an hour), and a death at any step between the
 * decision and the completion of an at-least-once occurrence loses nothing.
 * Each test prints the ledger it checks. Real processes, so real time.
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

/** Kills every child still running after `ms` (a test must never hang). */
function watchdog(children: Deno.ChildProcess[], ms: number) {
  const timer = setTimeout(() => {
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }
  }, ms);
  return () => clearTimeout(timer);
}

async function nightlyScenario(backend: "valkey" | "kv", where: string) {
  const origin = Date.now() + 4_000;
  const first = origin;
  const nightly = origin + 3_600_000;
  const args = [
    backend,
    where,
    "nightly-job",
    `${first},${nightly}`,
    String(first),
    `lease=${TTL_MS},${RENEW_MS}`,
  ];
  const children: Deno.ChildProcess[] = [];
  let killedAt: number | undefined;
  let replayedAt: number | undefined;
  const onLine = (line: string, child: Deno.ChildProcess) => {
    if (line === `holding ${first}` && killedAt === undefined) {
      killedAt = Date.now();
      child.kill("SIGKILL");
    }
    if (line.startsWith(`ran ${first} `) && line.split(" ")[3] === "true") {
      replayedAt ??= Number(line.split(" ")[4]);
      // The replay happened; the survivors would now sleep for an hour.
      for (const other of children) {
        try {
          other.kill("SIGKILL");
        } catch { /* already gone */ }
      }
    }
  };
  const disarm = watchdog(children, 30_000);
  let results: Finished[];
  try {
    results = await Promise.all(
      [0, 1, 2].map(() =>
        spawnInstance(args, onLine, (child) => children.push(child))
      ),
    );
  } finally {
    disarm();
  }
  const runs = ledgerOf(results);
  printLedger(
    `${backend}, nightly job, holder killed at T+${killedAt! - origin} ms`,
    runs,
    origin,
  );
  assert.ok(killedAt !== undefined, "the holder of the first run was killed");
  assert.ok(
    replayedAt !== undefined,
    `the first occurrence was replayed: ${
      results.map((r) => r.stderr).join("\n")
    }`,
  );
  const delay = replayedAt - killedAt;
  console.log(
    `replayed ${delay} ms after the kill (ttl ${TTL_MS} + renew ${RENEW_MS})`,
  );
  assert.ok(
    delay <= TTL_MS + RENEW_MS + SLACK_MS,
    `replayed within ttl + renew of the death: ${delay} ms`,
  );
  const list = runs.get(first)!;
  assert.equal(
    list.length,
    2,
    "the first occurrence ran once, then once replayed",
  );
  assert.ok(list[1].token > list[0].token, "the replay's token is higher");
  assert.equal(
    runs.has(nightly),
    false,
    "the hour-later occurrence is not due",
  );
}

await testOnBothBackends(
  (backend) =>
    `recovery on time, ${backend}: the killed holder of an at-times job (T+2 s, T+1 h) is replayed within ttl + renew, not at T+1 h`,
  nightlyScenario,
);

/** The steps between a decision and its completion, in order. */
const STEPS = [
  "grant",
  "granted",
  "trigger-emitted",
  "run-started",
  "run-completed",
] as const;

async function everyStepScenario(backend: "valkey" | "kv", where: string) {
  const origin = Date.now() + 6_000;
  const instants = Array.from({ length: 12 }, (_, i) => origin + i * 400);
  // Victim i dies at STEPS[i] of its own instant; every other instance waits
  // a little before asking for that instant, so that the victim holds it.
  const victims = STEPS.map((_, i) => instants[1 + 2 * i]);
  const common = [backend, where, "every-step-job", instants.join(","), "-1"];
  const argsOf = (own: number | undefined) => [
    ...common,
    `delay=350,${victims.filter((at) => at !== own).join(",")}`,
    ...(own === undefined ? [] : [`die=${STEPS[victims.indexOf(own)]},${own}`]),
  ];
  const children: Deno.ChildProcess[] = [];
  const disarm = watchdog(children, 60_000);
  let results: Finished[];
  try {
    results = await Promise.all(
      [...victims, undefined, undefined].map((own) =>
        spawnInstance(argsOf(own), () => {}, (child) => children.push(child))
      ),
    );
  } finally {
    disarm();
  }
  const runs = ledgerOf(results);
  printLedger(
    `${backend}, SIGKILL at every step (${
      STEPS.map((step, i) => `${step} at T+${victims[i] - origin} ms`).join(
        ", ",
      )
    })`,
    runs,
    origin,
  );
  STEPS.forEach((step, i) => {
    assert.ok(
      results[i].lines.includes(`dying ${step} ${victims[i]}`) &&
        results[i].killed,
      `victim ${i} died at ${step}: ${results[i].lines.join("\n")}\n${
        results[i].stderr
      }`,
    );
  });
  for (const survivor of results.slice(STEPS.length)) {
    assert.equal(survivor.code, 0, survivor.stderr);
    assert.ok(
      survivor.lines.some((line) => line.startsWith("done terminal")),
      survivor.lines.join("\n"),
    );
  }
  for (const instant of instants) {
    const list = runs.get(instant) ?? [];
    assert.ok(list.length >= 1, `T+${instant - origin} ms was not lost`);
    const originals = list.filter((run) => !run.replayed);
    assert.ok(
      originals.length <= 1,
      `T+${instant - origin} ran once as itself`,
    );
    assert.ok(list.length - originals.length <= 1, "replayed at most once");
    for (const replay of list.filter((run) => run.replayed)) {
      for (const original of originals) {
        assert.ok(
          replay.token > original.token,
          "the replay's token is higher",
        );
      }
    }
    if (!victims.includes(instant)) {
      assert.equal(list.length, 1, `T+${instant - origin} ran exactly once`);
    }
  }
}

await testOnBothBackends(
  (backend) =>
    `no silent hole, ${backend}: SIGKILL at every step between an at-least-once decision and its completion loses no occurrence`,
  everyStepScenario,
);

/**
 * One instance alone, restarted after each death: the state it saved is all
 * the next one knows, so an occurrence consumed without an in-flight record
 * would be lost for good.
 */
async function restartScenario(backend: "valkey" | "kv", where: string) {
  const origin = Date.now() + 2_500;
  const instants = Array.from({ length: 8 }, (_, i) => origin + i * 200);
  const common = [backend, where, "restart-job", instants.join(","), "-1"];
  const victims = STEPS.map((_, i) => instants[1 + i]);
  const results: Finished[] = [];
  for (const [i, step] of [...STEPS, undefined].entries()) {
    const args = step === undefined
      ? common
      : [...common, `die=${step},${victims[i]}`];
    const children: Deno.ChildProcess[] = [];
    const disarm = watchdog(children, 30_000);
    try {
      results.push(
        await spawnInstance(args, () => {}, (child) => children.push(child)),
      );
    } finally {
      disarm();
    }
    const last = results.at(-1)!;
    if (step !== undefined) {
      assert.ok(
        last.killed && last.lines.includes(`dying ${step} ${victims[i]}`),
        `died at ${step}: ${last.lines.join("\n")}\n${last.stderr}`,
      );
    } else {
      assert.equal(last.code, 0, last.stderr);
    }
  }
  const runs = ledgerOf(results);
  printLedger(
    `${backend}, one instance restarted after SIGKILL at ${STEPS.join(", ")}`,
    runs,
    origin,
  );
  for (const instant of instants) {
    const list = runs.get(instant) ?? [];
    assert.ok(list.length >= 1, `T+${instant - origin} ms was not lost`);
    assert.ok(list.length <= 2, `T+${instant - origin} ms ran at most twice`);
  }
}

await testOnBothBackends(
  (backend) =>
    `no silent hole, ${backend}: one instance restarted after SIGKILL at each step loses no at-least-once occurrence`,
  restartScenario,
);

/**
 * Under `queue-one`, the occurrence due while a run lasts is queued: one
 * instance killed right after that queued occurrence's consumption was
 * saved (at its `trigger-emitted`), then restarted, still runs it.
 */
async function queuedScenario(backend: "valkey" | "kv", where: string) {
  const origin = Date.now() + 2_500;
  const queued = origin + 200;
  const common = [
    backend,
    where,
    "queued-job",
    `${origin},${queued}`,
    "-1",
    "overlap=queue-one",
    // replay-all would hold the next decision until the run ends.
    "missed=catch-up-once",
  ];
  const results: Finished[] = [];
  for (
    const args of [
      [...common, `slow=1500,${origin}`, `die=trigger-emitted,${queued}`],
      common,
    ]
  ) {
    const children: Deno.ChildProcess[] = [];
    const disarm = watchdog(children, 30_000);
    try {
      results.push(
        await spawnInstance(args, () => {}, (child) => children.push(child)),
      );
    } finally {
      disarm();
    }
  }
  const runs = ledgerOf(results);
  printLedger(
    `${backend}, queue-one, killed when the queued occurrence was saved`,
    runs,
    origin,
  );
  const [killed, restarted] = results;
  assert.ok(
    killed.killed && killed.lines.includes(`dying trigger-emitted ${queued}`),
    `died with the occurrence queued: ${
      killed.lines.join("\n")
    }\n${killed.stderr}`,
  );
  assert.equal(restarted.code, 0, restarted.stderr);
  assert.ok(
    restarted.lines.some((line) => line.startsWith("done terminal")),
    restarted.lines.join("\n"),
  );
  assert.ok(
    (runs.get(queued) ?? []).length >= 1,
    "the queued one was not lost",
  );
  assert.equal(
    (runs.get(queued) ?? []).filter((run) => !run.replayed).length,
    0,
    "the queued one had not started when the instance died",
  );
  assert.ok((runs.get(origin) ?? []).length >= 1, "the first was not lost");
}

await testOnBothBackends(
  (backend) =>
    `no silent hole, ${backend}, queue-one: an instance killed with an occurrence queued, restarted, still runs it`,
  queuedScenario,
);
