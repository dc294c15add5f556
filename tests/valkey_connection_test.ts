/**
 * How the Valkey store, guard and resilient store are told where to
 * connect: a URL, a Sentinel or Cluster configuration, or a client the user
 * built (which the library never closes). Bad addresses, prefixes and
 * layouts are typed errors before any connection; a database index the
 * server lacks and keys claimed by another layout are typed errors at
 * connect; a refused password for any user (a named ACL user included) is
 * kind `auth`, never `connection`, and never degrades the resilient store.
 *
 * Real `valkey-server`; the pure checks also run without it.
 */
import assert from "node:assert/strict";
import { Valkey } from "iovalkey";
import { InvalidJobError } from "../mod.ts";
import { ValkeyExecutionGuard, ValkeyStateStore } from "../src/valkey/mod.ts";
import { assertGuardError, assertStoreError } from "./_assert_errors.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";

const available = await hasValkeyServer();
const LEASE = { ttlMs: 5_000, renewIntervalMs: 1_000 };

function valkeyTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: `Valkey connection: ${name}`, ignore: !available, fn });
}

/** Asserts `promise` rejects with InvalidJobError naming `fragment`. */
async function refused(promise: Promise<unknown>, fragment: string) {
  const error = await promise.then(
    () => assert.fail(`expected a refusal naming ${fragment}`),
    (error: unknown) => error,
  );
  assert.ok(error instanceof InvalidJobError, String(error));
  assert.ok(
    error.message.includes(fragment),
    `${JSON.stringify(error.message)} names ${JSON.stringify(fragment)}`,
  );
}

Deno.test("Valkey connection: bad connections, prefixes and layouts are refused before any connection", async () => {
  // A listener that counts connection attempts: none may arrive.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const url = `redis://127.0.0.1:${port}`;
  let accepted = 0;
  const counting = (async () => {
    for await (const conn of listener) {
      accepted++;
      conn.close();
    }
  })();
  const entries = [
    (c: unknown, o?: object) =>
      ValkeyStateStore.connect(c as string, o as never),
    (c: unknown, o?: object) =>
      ValkeyStateStore.resilient(c as string, o as never),
    (c: unknown, o?: object) =>
      ValkeyExecutionGuard.connect(c as string, LEASE, o as never),
  ];
  try {
    for (const open of entries) {
      await refused(open(`${url}?family=6&tls=1`), "family, tls");
      await refused(open(`${url}/abc`), "/abc");
      await refused(open("http://127.0.0.1"), "needs a URL");
      await refused(open(42), "needs a URL");
      await refused(open(url, { keyPrefix: "" }), "non-empty");
      await refused(open(url, { keyPrefix: "a\nb" }), "control characters");
      await refused(
        open(url, { keyPrefix: "{app}:", keyLayout: "cluster" }),
        "brace",
      );
      await refused(open(url, { keyLayout: "flat" }), '"rust" or "cluster"');
      await refused(
        open({ cluster: [{ host: "127.0.0.1", port }] }, { keyLayout: "rust" }),
        "cannot run on a Cluster",
      );
      await refused(open({ cluster: [] }), "at least one");
      await refused(
        open({ cluster: [{ host: "127.0.0.1", port: 70_000 }] }),
        "port must be an integer",
      );
      await refused(
        open({ cluster: [{ host: "127.0.0.1", port }], pasword: "x" }),
        '"pasword"',
      );
      await refused(
        open({ sentinels: [{ host: "127.0.0.1", port }] }),
        "primary's name",
      );
      await refused(
        open({ sentinels: [{ host: "127.0.0.1", port }], name: "m", db: -1 }),
        "db must be",
      );
      await refused(open({ client: {} }), "iovalkey Valkey or Cluster");
      await refused(open({ nodes: [] }), '"sentinels", "cluster" or "client"');
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(accepted, 0, "no connection was attempted");
  } finally {
    listener.close();
    await counting.catch(() => {});
  }
});

valkeyTest(
  "a database index the server lacks is refused at connect, also by the resilient store",
  async () => {
    await withValkeyServer(async (server) => {
      const url = `${server.url}/99`;
      await refused(ValkeyStateStore.connect(url), "no such database");
      await refused(ValkeyStateStore.resilient(url), "no such database");
      await refused(
        ValkeyExecutionGuard.connect(url, LEASE),
        "no such database",
      );
      // An index the server has is used, not database 0.
      const store = await ValkeyStateStore.connect(`${server.url}/3`);
      try {
        await store.createIfAbsent({
          jobId: "db-job",
          triggerCount: 0,
          lastRunAt: null,
          lastSuccessAt: null,
          nextRunAt: null,
          lastError: null,
        });
      } finally {
        await store.close();
      }
      const raw = new Valkey(`${server.url}/3`);
      try {
        assert.ok(await raw.exists("scheduler:valkey:job-state:db-job"));
      } finally {
        raw.disconnect();
      }
    });
  },
);

valkeyTest(
  "a refused password of a named ACL user is kind auth, and the resilient store does not degrade",
  async () => {
    await withValkeyServer(async (server) => {
      const admin = new Valkey(server.url);
      try {
        await admin.call(
          "ACL",
          "SETUSER",
          "alice",
          "on",
          ">right",
          "~*",
          "+@all",
        );
      } finally {
        admin.disconnect();
      }
      const url = server.url.replace("//", "//alice:wrong@");
      await assertStoreError(ValkeyStateStore.connect(url), {
        kind: "auth",
        includes: "WRONGPASS",
      });
      await assertStoreError(ValkeyStateStore.resilient(url), {
        kind: "auth",
        includes: "WRONGPASS",
      });
      await assertGuardError(
        ValkeyExecutionGuard.connect(url, LEASE),
        "auth",
        "WRONGPASS",
      );
      const good = await ValkeyStateStore.connect(
        server.url.replace("//", "//alice:right@"),
      );
      await good.close();
    });
  },
);

valkeyTest(
  "a client the user built is used and never closed; the layout marker refuses a mix",
  async () => {
    await withValkeyServer(async (server) => {
      const client = new Valkey(server.url, { lazyConnect: true });
      try {
        const store = await ValkeyStateStore.connect({ client });
        const guard = await ValkeyExecutionGuard.connect({ client }, LEASE, {
          keyLayout: "cluster",
        });
        assert.equal(store.keyLayout, "rust");
        assert.equal(guard.keyLayout, "cluster");
        assert.equal(
          guard.leaseKey("job", new Date(Date.UTC(2026, 0, 1))),
          "scheduler:valkey:execution-lease:{job}:2026-01-01T00:00:00.000000000Z",
        );
        const lease = await guard.acquire({
          jobId: "job",
          scheduledAt: new Date(),
        });
        assert.equal(lease.kind, "acquired");
        await store.close();
        await guard.close();
        assert.equal(client.status, "ready", "the user's client stays open");
        assert.equal(await client.ping(), "PONG");
        // The state keys were claimed by the "rust" layout, the lease keys
        // by "cluster": the other layout is refused on either.
        await refused(
          ValkeyStateStore.connect({ client }, { keyLayout: "cluster" }),
          'keyLayout "rust"',
        );
        await refused(
          ValkeyExecutionGuard.connect(server.url, LEASE),
          'keyLayout "cluster"',
        );
        assert.equal(await client.ping(), "PONG");
      } finally {
        client.disconnect();
      }
    });
  },
);

Deno.test({
  name:
    "a resilient store that started while the server was down claims its layout when the server answers, and refuses a mix then",
  ignore: !(await hasValkeyServer()),
  fn: () =>
    withValkeyServer(async (server) => {
      await server.stop();
      const resilient = await ValkeyStateStore.resilient(server.url, {
        probeIntervalMs: 10,
      });
      try {
        assert.equal(resilient.degraded, true, "started degraded");
        await server.restart();
        // Another deployment claims the same keys for the other layout
        // while this store still serves from its mirror.
        const other = await ValkeyStateStore.connect(server.url, {
          keyLayout: "cluster",
        });
        await other.close();
        const client = new Valkey(server.url);
        try {
          // Served from the mirror until this store's own client has
          // reconnected (in the background, with a back-off): then refused.
          const deadline = Date.now() + 15_000;
          let refusal: unknown;
          while (refusal === undefined && Date.now() < deadline) {
            await resilient.load("mixed").then(
              () => new Promise((resolve) => setTimeout(resolve, 100)),
              (error: unknown) => (refusal = error),
            );
          }
          await refused(Promise.reject(refusal), 'keyLayout "cluster"');
          assert.equal(
            await client.get("scheduler:valkey:job-state:mixed"),
            null,
            "nothing written under the other layout's keys",
          );
        } finally {
          client.disconnect();
        }
      } finally {
        await resilient.close();
      }
    }),
});
