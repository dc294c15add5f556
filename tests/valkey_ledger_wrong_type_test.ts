/**
 * The plain in-flight ledger of the Valkey guard (no leased writes) meets an
 * in-flight hash of another type: the grant fails as a data error naming
 * the key, the hash is set aside under the job's quarantine keys, and the
 * next grant goes through, so damaged data never stops the job. Through the
 * public API on one real server; ignored without valkey-server.
 */
import assert from "node:assert/strict";
import { ValkeyExecutionGuard } from "../src/valkey/mod.ts";
import { assertGuardError } from "./_assert_errors.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";
import { cli } from "./_valkey_topology.ts";

const available = await hasValkeyServer();
const PREFIX = "scheduler:valkey:execution-lease:";

function slot(triggerCount: number) {
  return {
    jobId: "plain",
    scheduledAt: new Date(Date.UTC(2026, 0, 1) + triggerCount * 86_400_000),
    triggerCount,
    catchUp: false,
  };
}

Deno.test({
  name:
    "in-flight ledger, Valkey: a hash of another type fails the grant as kind data, is set aside, and the next grant goes through",
  ignore: !available,
  fn: async () => {
    await withValkeyServer(async (server) => {
      const guard = await ValkeyExecutionGuard.connect(server.url, {
        ttlMs: 30_000,
        renewIntervalMs: 10_000,
      });
      try {
        const hash = `${PREFIX}plain:in-flight`;
        await cli(server.port, "SET", hash, "garbage");
        await assertGuardError(guard.inFlight.acquire(slot(1)), "data", hash);
        assert.equal(await cli(server.port, "EXISTS", hash), "0", "moved");
        const aside = (await cli(
          server.port,
          "KEYS",
          `${PREFIX}plain:quarantine:*`,
        )).trim().split("\n").filter((key) => key !== "");
        const values = await Promise.all(
          aside.map((key) => cli(server.port, "TYPE", key)),
        );
        assert.ok(
          values.some((type) => type.trim() === "string"),
          `the damaged hash is kept aside (${aside.join(", ")})`,
        );
        const next = await guard.inFlight.acquire(slot(2));
        assert.equal(next.kind, "acquired");
        assert.equal(await cli(server.port, "HLEN", hash), "1");
      } finally {
        await guard.close();
      }
    });
  },
});
