/**
 * Fake time with real Deno KV I/O: a KV wrapper that counts operations in
 * flight, and a clock driver that never moves fake time while one is
 * pending (the shared `settle()` cannot know about I/O it does not see).
 */
import { type FakeClock, withFakeClock } from "./_fake_time.ts";
import { T0 } from "./_engine_helpers.ts";

/** The real setTimeout, captured before any fake clock is installed. */
const realSetTimeout = globalThis.setTimeout;

function realPause(ms: number): Promise<void> {
  return new Promise((resolve) => realSetTimeout(resolve, ms));
}

/** Counts KV operations in flight, so the fake clock waits for real I/O. */
export class KvIo {
  pending = 0;
  track<T>(promise: Promise<T>): Promise<T> {
    this.pending++;
    return promise.finally(() => this.pending--);
  }
}

const TRACKED = new Set(["get", "getMany", "set", "delete"]);

/** `kv`, with every read, write and commit counted by `io`. */
export function trackKv(kv: Deno.Kv, io: KvIo): Deno.Kv {
  const trackAtomic = (operation: Deno.AtomicOperation) => {
    const proxy: Deno.AtomicOperation = new Proxy(operation, {
      get(target, property) {
        const value = Reflect.get(target, property, target);
        if (typeof value !== "function") return value;
        if (property === "commit") return () => io.track(target.commit());
        return (...args: unknown[]) => {
          const result = value.apply(target, args);
          return result === target ? proxy : result;
        };
      },
    });
    return proxy;
  };
  return new Proxy(kv, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (property === "atomic") return () => trackAtomic(target.atomic());
      if (TRACKED.has(property as string)) {
        return (...args: unknown[]) => io.track(value.apply(target, args));
      }
      return value.bind(target);
    },
  });
}

/**
 * Flushes microtasks and waits (in real time) until no tracked KV operation
 * is in flight, so that fake time never moves while real I/O is pending.
 */
export async function quiesce(clock: FakeClock, io?: KvIo): Promise<void> {
  const deadline = performance.now() + 5_000;
  for (;;) {
    await clock.tickAsync(0);
    await realPause(1);
    await clock.tickAsync(0);
    if (io === undefined || io.pending === 0) return;
    if (performance.now() > deadline) {
      throw new Error(`${io.pending} KV operations still pending after 5 s`);
    }
  }
}

/**
 * Drives the fake clock timer by timer until `promise` settles. Before each
 * step it lets real KV I/O finish (all of it when `io` tracks the KV); with
 * no timer pending it waits up to `ioGraceMs` of real time, then fails
 * instead of hanging.
 */
export async function drive<T>(
  clock: FakeClock,
  promise: Promise<T>,
  io?: KvIo,
  maxSteps = 10_000,
  ioGraceMs = 3_000,
): Promise<T> {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  let idleMs = 0;
  for (let step = 0; !done; step++) {
    if (step >= maxSteps) throw new Error(`not settled after ${step} steps`);
    await quiesce(clock, io);
    if (done) break;
    if (clock.countTimers() > 0) {
      idleMs = 0;
      await clock.nextAsync();
      continue;
    }
    await realPause(2);
    idleMs += 3;
    if (idleMs > ioGraceMs) {
      throw new Error("hang: no timer pending and the promise is still open");
    }
  }
  return await promise;
}

/** Runs `body` on a fake clock at T0 with a tracked in-memory KV, always closed. */
export async function withClockAndKv<T>(
  body: (kv: Deno.Kv, clock: FakeClock, io: KvIo) => Promise<T>,
): Promise<T> {
  return await withFakeClock(T0, async (clock) => {
    const kv = await Deno.openKv(":memory:");
    try {
      const io = new KvIo();
      return await body(trackKv(kv, io), clock, io);
    } finally {
      kv.close();
    }
  });
}
