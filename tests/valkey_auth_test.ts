/**
 * Refused credentials on Valkey are kind `auth` on every call (also when
 * iovalkey only reports a closed stream after a reconnection failed with
 * WRONGPASS), the resilient store never reports a success the server
 * refused, and a user who may not run `EVALSHA` is refused at connect, not
 * at the second occurrence.
 *
 * Real `valkey-server` and real time; ignored without the binary.
 */
import assert from "node:assert/strict";
import { Valkey } from "iovalkey";
import type { JobState } from "../mod.ts";
import { ValkeyExecutionGuard, ValkeyStateStore } from "../src/valkey/mod.ts";
import { assertGuardError, assertStoreError } from "./_assert_errors.ts";
import {
  hasValkeyServer,
  type ValkeyServer,
  withValkeyServer,
} from "./_valkey_server.ts";

const available = await hasValkeyServer();

function valkeyTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: `Valkey auth: ${name}`, ignore: !available, fn });
}

const LEASE = { ttlMs: 5_000, renewIntervalMs: 1_000 };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function state(triggerCount: number): JobState {
  return {
    jobId: "auth-job",
    triggerCount,
    lastRunAt: null,
    lastSuccessAt: null,
    nextRunAt: null,
    lastError: null,
  };
}

type Raw = InstanceType<typeof Valkey>;

/** A server whose password is `pw1`, and an admin client authenticated with it. */
async function withPasswordServer(
  body: (server: ValkeyServer, admin: Raw, url: string) => Promise<void>,
): Promise<void> {
  await withValkeyServer(async (server) => {
    const admin = new Valkey(server.url, {
      lazyConnect: true,
      retryStrategy: () => null,
    });
    admin.on("error", () => {});
    await admin.connect();
    try {
      await admin.config("SET", "requirepass", "pw1");
      await admin.auth("pw1");
      await body(
        server,
        admin,
        server.url.replace("redis://", "redis://:pw1@"),
      );
    } finally {
      const ended = new Promise((resolve) => admin.once("end", resolve));
      await admin.quit().catch(() => admin.disconnect());
      await ended;
    }
  });
}

/** Rotates the password and drops every other connection, so they reconnect. */
async function rotate(admin: Raw, password: string): Promise<void> {
  await admin.config("SET", "requirepass", password);
  // SKIPME (the default) spares the admin connection.
  await admin.call("CLIENT", "KILL", "TYPE", "normal");
  await sleep(300); // let the reconnection attempts fail
}

valkeyTest(
  "after a password rotation every store and guard call is kind auth, and the calls recover with the old password back",
  async () => {
    await withPasswordServer(async (_server, admin, url) => {
      const store = await ValkeyStateStore.connect(url);
      const guard = await ValkeyExecutionGuard.connect(url, LEASE);
      try {
        await store.save(state(1));
        await rotate(admin, "pw2");
        for (let call = 0; call < 3; call++) {
          const error = await assertStoreError(store.save(state(2)), {
            kind: "auth",
            operation: "save",
          });
          assert.match(error.message, /WRONGPASS/, "the refusal is named");
          await assertStoreError(store.load("auth-job"), {
            kind: "auth",
            operation: "load",
          });
          await assertGuardError(
            guard.acquire({ jobId: "auth-job", scheduledAt: new Date() }),
            "auth",
            "WRONGPASS",
          );
        }
        await admin.config("SET", "requirepass", "pw1");
        let loaded: JobState | undefined;
        for (let attempt = 0; attempt < 60 && loaded === undefined; attempt++) {
          await sleep(100);
          loaded = await store.load("auth-job").catch(() => undefined);
        }
        assert.equal(loaded?.triggerCount, 1, "the store works again");
        const answer = await guard.acquire({
          jobId: "auth-job",
          scheduledAt: new Date(),
        });
        assert.equal(answer.kind, "acquired");
      } finally {
        await store.close();
        await guard.close();
      }
    });
  },
);

valkeyTest(
  "the resilient store rejects every call while the server refuses its password, and never degrades for it",
  async () => {
    await withPasswordServer(async (_server, admin, url) => {
      const store = await ValkeyStateStore.resilient(url, {
        probeIntervalMs: 60_000,
      });
      const degraded: unknown[] = [];
      store.addEventListener("store-degraded", (event) => degraded.push(event));
      try {
        await store.save(state(1));
        await rotate(admin, "pw2");
        for (let call = 0; call < 3; call++) {
          await assertStoreError(store.save(state(2 + call)), {
            kind: "auth",
            operation: "save",
          });
        }
        assert.equal(store.degraded, false);
        assert.equal(degraded.length, 0, "an auth refusal is not an outage");
      } finally {
        await store.close();
      }
    });
  },
);

valkeyTest(
  "a user who may not run EVALSHA (or EVAL) is refused at connect with kind auth",
  async () => {
    await withValkeyServer(async (server) => {
      const admin = new Valkey(server.url, { lazyConnect: true });
      admin.on("error", () => {});
      await admin.connect();
      try {
        await admin.acl(
          "SETUSER",
          "no-evalsha",
          "on",
          ">secret",
          "~*",
          "&*",
          "+@all",
          "-evalsha",
        );
        await admin.acl(
          "SETUSER",
          "no-eval",
          "on",
          ">secret",
          "~*",
          "&*",
          "+@all",
          "-eval",
        );
        for (const user of ["no-evalsha", "no-eval"]) {
          const url = server.url.replace("redis://", `redis://${user}:secret@`);
          await assertGuardError(
            ValkeyExecutionGuard.connect(url, LEASE),
            "auth",
            "NOPERM",
          );
          await assertStoreError(ValkeyStateStore.connect(url), {
            kind: "auth",
            includes: "NOPERM",
          });
        }
      } finally {
        const ended = new Promise((resolve) => admin.once("end", resolve));
        await admin.quit();
        await ended;
      }
    });
  },
);
