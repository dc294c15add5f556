/**
 * Damaged guard data on real processes (docs/recovery.md): three
 * at-least-once instances share Valkey (or one Deno KV file); before they
 * start, an undecodable and an orphaned in-flight record and a lease key of
 * the wrong type are planted, and the fencing counter is damaged while they
 * run. Every instance goes on to the job's end, every occurrence runs, and
 * the damage is visible as events naming the keys. Prints the ledger.
 */
import assert from "node:assert/strict";
import {
  type Finished,
  ledgerOf,
  printLedger,
  spawnInstance,
} from "./_at_least_once_instances.ts";
import { closeClient, connectClient } from "../src/valkey/_client.ts";
import { openClient } from "../src/valkey/_open_client.ts";
import { formatRfc3339 } from "../src/schedule/_rfc3339.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";

const JOB = "damaged-job";

/** Ways to damage one backend's guard data from outside the instances. */
interface Damage {
  plantRecords(past: number, lease: number): Promise<void>;
  corruptCounter(): Promise<void>;
}

async function scenario(
  backend: "valkey" | "kv",
  where: string,
  damage: Damage,
) {
  const origin = Date.now() + 4_000;
  const instants = Array.from({ length: 10 }, (_, i) => origin + i * 250);
  // An occurrence long gone (its records damaged) and one whose lease key
  // is of the wrong type.
  await damage.plantRecords(origin - 60_000, instants[6]);
  let corrupted = false;
  const onLine = (line: string) => {
    if (!corrupted && line.startsWith(`ran ${instants[2]} `)) {
      corrupted = true;
      damage.corruptCounter().catch((error) => console.error(error));
    }
  };
  const args = [backend, where, JOB, instants.join(","), "-1"];
  const results: Finished[] = await Promise.all(
    [0, 1, 2].map(() => spawnInstance(args, onLine)),
  );
  const runs = ledgerOf(results);
  printLedger(`${backend}, damaged guard data`, runs, origin);
  const damages = results.flatMap((result, i) =>
    result.lines.filter((line) => line.startsWith("damage ")).map((line) =>
      `instance ${i}: ${line}`
    )
  );
  console.log(damages.join("\n"));
  results.forEach((result, i) => {
    assert.equal(result.code, 0, `instance ${i}: ${result.stderr}`);
    assert.ok(
      result.lines.some((line) => line.startsWith("done terminal")),
      `instance ${i} ran to the end: ${result.lines.join("\n")}`,
    );
  });
  for (const instant of instants) {
    assert.ok(runs.has(instant), `T+${instant - origin} ms ran`);
  }
  const text = damages.join("\n");
  assert.match(text, /fencing/, "the counter damage is visible");
  assert.match(text, /orphaned|does not decode|corrupt/);
  assert.match(text, /quarantine/, "and where it went");
  assert.ok(corrupted);
}

Deno.test({
  name:
    "damaged guard data, Valkey: three processes meet damaged records, a wrong-type lease key and a damaged counter; every instance runs to the end, every occurrence runs, the damage is reported",
  ignore: !(await hasValkeyServer()),
  fn: () =>
    withValkeyServer(async (server) => {
      const raw = openClient(server.url, "test").client;
      await connectClient(raw);
      const prefix = `scheduler:valkey:execution-lease:${JOB}:`;
      try {
        await scenario("valkey", server.url, {
          plantRecords: async (past, lease) => {
            const field = formatRfc3339(past, 9);
            await raw.hset(`${prefix}in-flight`, field, "{not json");
            const orphan = formatRfc3339(past + 1, 9);
            await raw.hset(
              `${prefix}in-flight`,
              orphan,
              JSON.stringify({
                job_id: JOB,
                scheduled_at: orphan,
                trigger_count: 1,
                catch_up: false,
                fencing_token: "1",
                holder: "dead",
                lease_deadline_ms: past,
              }),
            );
            await raw.set(`${prefix}${orphan}`, "done:other", "PX", 60_000);
            await raw.hset(`${prefix}${formatRfc3339(lease, 9)}`, "a", "b");
          },
          corruptCounter: async () => {
            await raw.del(`${prefix}fencing-token`);
            await raw.hset(`${prefix}fencing-token`, "x", "1");
          },
        });
      } finally {
        await closeClient(raw);
      }
    }),
});

Deno.test("damaged guard data, Deno KV: three processes meet damaged records, an unreadable lease and a damaged counter; every instance runs to the end, every occurrence runs, the damage is reported", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/shared.kv`;
  const kv = await Deno.openKv(path);
  const prefix = ["scheduler", "execution-lease"];
  try {
    await scenario("kv", path, {
      plantRecords: async (past, lease) => {
        await kv.set([...prefix, "in-flight", JOB, past], { holder: 42 });
        await kv.set([...prefix, "in-flight", JOB, past + 1], {
          jobId: JOB,
          scheduledAt: past + 1,
          triggerCount: 1,
          catchUp: false,
          fencingToken: 1n,
          holder: "dead",
          leaseDeadline: past,
        });
        await kv.set([...prefix, "lease", JOB, past + 1], {
          token: "other",
          fencingToken: 2n,
          status: "done",
          deadline: Date.now() + 60_000,
        });
        await kv.set([...prefix, "lease", JOB, lease], "garbage");
      },
      corruptCounter: async () =>
        void await kv.set([...prefix, "fence", JOB], "seven"),
    });
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});
