/**
 * What the README says is what happens — the permissions
 * each backend needs (run with exactly the documented flags), the worker
 * cancel limit, and a stored state winning over a changed schedule.
 */
import assert from "node:assert/strict";
import { InMemoryStateStore, Job, Schedule, Scheduler, Task } from "../mod.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";
import { withFakeClock } from "./_fake_time.ts";
import { recordEvents, settle, T0 } from "./_engine_helpers.ts";

const ROOT = new URL("../", import.meta.url);
const README = await Deno.readTextFile(new URL("README.md", ROOT));
const JOBS_GUIDE = await Deno.readTextFile(new URL("docs/jobs.md", ROOT));

function permissionRows(): Map<string, string> {
  const start = README.indexOf("<!-- permissions:start -->");
  const end = README.indexOf("<!-- permissions:end -->");
  assert.ok(start >= 0 && end > start, "README.md has the permissions markers");
  const rows = new Map<string, string>();
  for (const line of README.slice(start, end).split("\n")) {
    const cells = line.split("|").slice(1, -1).map((cell) => cell.trim());
    if (cells.length !== 2 || cells[0] === "backend" || /^-+$/.test(cells[0])) {
      continue;
    }
    rows.set(cells[0], cells[1].replaceAll("`", ""));
  }
  return rows;
}

/** A config with the import map but without `"unstable": ["kv"]`, so that the flags alone count. */
async function bareConfig(): Promise<string> {
  const { imports } = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  );
  const path = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(path, JSON.stringify({ imports }));
  return path;
}

async function probe(
  flags: string,
  args: string[],
  placeholders: Record<string, string>,
): Promise<string> {
  const config = await bareConfig();
  try {
    let expanded = flags === "none" ? "" : flags;
    for (const [name, value] of Object.entries(placeholders)) {
      expanded = expanded.replaceAll(name, value);
    }
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--config",
        config,
        ...expanded.split(" ").filter((flag) => flag !== ""),
        new URL("tests/fixtures/permission_probe.ts", ROOT).pathname,
        ...args,
      ],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout).trim();
    assert.equal(
      output.code,
      0,
      `${flags}: ${new TextDecoder().decode(output.stderr).slice(0, 400)}`,
    );
    return stdout;
  } finally {
    await Deno.remove(config);
  }
}

function row(rows: Map<string, string>, prefix: string): string {
  const key = [...rows.keys()].find((name) => name.startsWith(prefix));
  assert.ok(key !== undefined, `the permissions table has a row for ${prefix}`);
  return rows.get(key)!;
}

Deno.test("README permissions: memory and Deno KV jobs run with exactly the documented flags", async () => {
  const rows = permissionRows();
  assert.equal(
    await probe(row(rows, "in memory"), ["memory"], {}),
    "terminal success",
  );
  assert.equal(
    await probe(row(rows, "Deno KV in memory"), ["kv-memory"], {}),
    "terminal success",
  );
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(
      await probe(row(rows, "Deno KV in a file"), ["kv-file", dir], {
        DIR: dir,
      }),
      "terminal success",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("README permissions: worker tasks run with exactly the documented flags", async () => {
  assert.equal(
    await probe(row(permissionRows(), "worker tasks"), ["worker"], {
      FILE: new URL("tests/fixtures/worker_tasks.ts", ROOT).pathname,
      LIBDIR: new URL("src", ROOT).pathname,
    }),
    "terminal success",
  );
});

Deno.test({
  name:
    "README permissions: Valkey runs with --allow-net=HOST:PORT and a scoped --allow-env=DEBUG",
  ignore: !(await hasValkeyServer()),
  fn: () =>
    withValkeyServer(async (server) => {
      const flags = row(permissionRows(), "Valkey");
      assert.match(
        flags,
        /--allow-env=DEBUG/,
        "scoped, not a bare --allow-env",
      );
      assert.equal(
        await probe(flags, ["valkey", server.url], {
          "HOST:PORT": `127.0.0.1:${server.port}`,
        }),
        "terminal success",
      );
    }),
});

Deno.test("the worker-cancel limit is as documented: run() resolves cancelled while a non-yielding worker goes on", async () => {
  assert.match(
    JOBS_GUIDE.replaceAll("\n", " "),
    /`run\(\)` still resolves with the run `cancelled` and the execution lease released, while the worker goes on/,
  );
  const marker = await Deno.makeTempFile();
  await Deno.remove(marker);
  const scheduler = new Scheduler({}, new InMemoryStateStore());
  scheduler.addEventListener("run-started", async () => {
    // Cancel once the worker is inside its loop (short real polling).
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline) {
      try {
        await Deno.stat(`${marker}.started`);
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    scheduler.handle().cancel();
  });
  const job = new Job(
    "busy-worker",
    Schedule.atTimes([Date.now() + 10]),
    { busyMs: 300, marker },
    Task.fromWorker(new URL("./fixtures/busy_worker.ts", import.meta.url), {
      exportName: "spin",
    }),
  );
  const report = await scheduler.run(job);
  const exists = async () => {
    try {
      await Deno.stat(marker);
      return true;
    } catch {
      return false;
    }
  };
  try {
    assert.equal(report.history[0].status, "cancelled");
    assert.equal(
      await exists(),
      false,
      "run() resolved before the side effect",
    );
    // The side effect lands afterwards (short real wait, tolerant bound).
    const deadline = Date.now() + 3_000;
    while (!(await exists()) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(await exists(), true, "the worker went on and wrote late");
  } finally {
    await Deno.remove(marker).catch(() => {});
    await Deno.remove(`${marker}.started`).catch(() => {});
  }
});

Deno.test("a changed schedule is honoured (reconciled), as the README says near the demo's --cron example", async () => {
  const text = README.replaceAll("\n", " ");
  const cronExample = text.indexOf('deno task demo --cron "*/1 * * * *"');
  const note = text.indexOf("A changed schedule is honoured");
  assert.ok(
    cronExample >= 0 && note > cronExample && note - cronExample < 1500,
  );
  await withFakeClock(T0, async (clock) => {
    const store = new InMemoryStateStore();
    const noop = Task.fromSync(() => {});
    // First an interval job: its stored nextRunAt is T0 + 2 s + 2 s.
    await settle(
      clock,
      new Scheduler({}, store).run(
        Job.withoutDeps("demo", Schedule.interval(2000), noop).withMaxRuns(1),
      ),
    );
    const stored = (await store.load("demo"))!;
    // maxRuns 1 ended it: write back a state with runs left.
    await store.save({ ...stored, nextRunAt: new Date(T0 + 4000) });
    const scheduled: number[] = [];
    const cronJob = Job.withoutDeps(
      "demo",
      Schedule.cron("0 3 * * *"),
      Task.fromSync(({ run }) =>
        void scheduled.push(run.scheduledAt.getTime())
      ),
    ).withMaxRuns(3);
    const scheduler = new Scheduler({}, store);
    const events = recordEvents(scheduler);
    const report = await settle(clock, scheduler.run(cronJob));
    assert.ok(
      events.some((event) => event.type === "state-reconciled"),
      "state-reconciled is emitted",
    );
    assert.deepEqual(
      scheduled.map((at) => new Date(at).toISOString()),
      ["2026-04-03T03:00:00.000Z", "2026-04-04T03:00:00.000Z"],
      "the cron expression from the first run on, the run count kept",
    );
    assert.equal(report.state.triggerCount, 3);
  });
});
