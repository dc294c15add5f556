/**
 * Fake time beside real Valkey I/O: the scheduler's and the clients' timers
 * are fake (`_fake_time.ts`), the servers' replies are real. Fake time may
 * move only while no command is in flight and no client is in the middle of
 * connecting; `drive` moves it timer by timer until a promise settles.
 * Importing this module counts every iovalkey client's commands in flight.
 */
import { Valkey } from "iovalkey";
import type { FakeClock } from "./_fake_time.ts";

const realSetTimeout = globalThis.setTimeout;
const realPause = (ms: number) =>
  new Promise((resolve) => realSetTimeout(resolve, ms));

/** Every iovalkey client of this process, and its commands in flight. */
const io = { pending: 0, clients: new Set<{ status: string }>() };
{
  const prototype = Valkey.prototype as unknown as {
    sendCommand(
      this: { status: string },
      command: { promise: Promise<unknown> },
      ...rest: unknown[]
    ): unknown;
  };
  const send = prototype.sendCommand;
  prototype.sendCommand = function (command, ...rest) {
    io.clients.add(this);
    io.pending++;
    command.promise.then(() => io.pending--, () => io.pending--);
    return send.call(this, command, ...rest);
  };
}

/**
 * A client between two fake timers: connecting (real I/O), not waiting for
 * its reconnection delay ("reconnecting", a fake timer like the others).
 */
const CONNECTING = new Set(["connecting", "connect", "close"]);

/**
 * Lets real I/O finish: until no command is in flight and no client is in
 * the middle of connecting, with promise callbacks run in between.
 */
export async function settleIo(clock: FakeClock): Promise<void> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    await clock.tickAsync(0);
    await realPause(2);
    await clock.tickAsync(0);
    const statuses = [...io.clients].map((client) => client.status);
    if (io.pending === 0 && !statuses.some((s) => CONNECTING.has(s))) return;
    if (performance.now() > deadline) {
      throw new Error(
        `${io.pending} commands in flight after 30 s, clients ${statuses}`,
      );
    }
  }
}

/**
 * Drives the fake clock timer by timer until `promise` settles; fails
 * with `describe()` after `limit` timers (a `run()` that would wait for
 * ever fails instead of hanging).
 */
export async function driveIo<T>(
  clock: FakeClock,
  promise: Promise<T>,
  describe: () => string,
  limit = 5_000,
): Promise<T> {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  for (let step = 0; !done; step++) {
    if (step > limit) {
      throw new Error(`not settled after ${limit} timers: ${describe()}`);
    }
    await settleIo(clock);
    if (done) break;
    if (clock.countTimers() > 0) await clock.nextAsync();
    else await realPause(5);
  }
  return await promise;
}
