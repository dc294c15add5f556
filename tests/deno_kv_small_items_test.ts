/**
 * A Deno KV lease record whose deadline is Infinity or NaN is corrupt (kind
 * `data`, never "held forever" or "expired"), and a database that cannot be
 * written (read-only file) is kind `connection`, not `unknown`.
 */
import assert from "node:assert/strict";
import { DenoKvExecutionGuard, DenoKvStateStore } from "../mod.ts";
import { isConnectionKvError } from "../src/deno_kv/_kv_errors.ts";
import { assertGuardError, assertStoreError } from "./_assert_errors.ts";

const LEASE = { ttlMs: 1_000, renewIntervalMs: 300 };
const AT = new Date("2026-04-03T01:02:03Z");

for (const deadline of [Infinity, -Infinity, NaN]) {
  Deno.test(`DenoKvExecutionGuard: a lease deadline of ${deadline} is a corrupt record (kind data)`, async () => {
    const kv = await Deno.openKv(":memory:");
    try {
      await kv.set(
        ["scheduler", "execution-lease", "lease", "job", AT.getTime()],
        { token: "t", fencingToken: 1n, status: "held", deadline },
      );
      const guard = new DenoKvExecutionGuard(kv, LEASE);
      await assertGuardError(
        guard.acquire({ jobId: "job", scheduledAt: AT }),
        "data",
        "corrupt",
      );
    } finally {
      kv.close();
    }
  });
}

/** `kv` whose writes fail the way Deno reports a read-only database file. */
function readOnly(kv: Deno.Kv): Deno.Kv {
  const refuse = () =>
    Promise.reject(new TypeError("Can not write to a read-only database."));
  return new Proxy(kv, {
    get(target, property) {
      if (property === "set" || property === "delete") return refuse;
      if (property === "atomic") {
        return () => {
          const operation = target.atomic();
          const proxy: Deno.AtomicOperation = new Proxy(operation, {
            get(op, name) {
              if (name === "commit") return refuse;
              const value = Reflect.get(op, name, op);
              if (typeof value !== "function") return value;
              return (...args: unknown[]) => {
                const result = value.apply(op, args);
                return result === op ? proxy : result;
              };
            },
          });
          return proxy;
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

Deno.test("DenoKvStateStore: a read-only database is kind connection", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new DenoKvStateStore(readOnly(kv));
    await assertStoreError(
      store.save({
        jobId: "ro",
        triggerCount: 1,
        lastRunAt: null,
        lastSuccessAt: null,
        nextRunAt: null,
        lastError: null,
      }),
      { kind: "connection", operation: "save", includes: "read-only" },
    );
    await assertStoreError(store.delete("ro"), {
      kind: "connection",
      operation: "delete",
    });
  } finally {
    kv.close();
  }
});

Deno.test("Deno KV errors: read-only and permission failures are connection-class, our own errors never", () => {
  assert.equal(
    isConnectionKvError(
      new TypeError("Can not write to a read-only database."),
    ),
    true,
  );
  assert.equal(
    isConnectionKvError(new Error("attempt to write a readonly database")),
    true,
  );
  assert.equal(
    isConnectionKvError(new Deno.errors.PermissionDenied("denied")),
    true,
  );
  assert.equal(isConnectionKvError(new TypeError("something else")), false);
});
