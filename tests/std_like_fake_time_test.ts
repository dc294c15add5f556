/**
 * The FakeTime model used by the fake-time scenarios behaves as
 * `@std/testing/time`'s FakeTime does in the ways that matter to a scheduler;
 * if it did not, the scenarios would prove nothing about FakeTime users.
 */
import assert from "node:assert/strict";
import { StdLikeFakeTime } from "./_std_like_fake_time.ts";

Deno.test("FakeTime model: one advance fires due timers synchronously, in order, at their due time, with no promise callback between", async () => {
  using time = new StdLikeFakeTime(1_000);
  const log: string[] = [];
  setTimeout(() => {
    log.push(`b@${Date.now()}`);
    Promise.resolve().then(() => log.push("promise from b"));
  }, 20);
  setTimeout(() => {
    log.push(`a@${Date.now()}`);
    setTimeout(() => log.push(`c@${Date.now()}`), 15); // due 1025: same pass
  }, 10);
  await time.tickAsync(30);
  assert.deepEqual(log, ["a@1010", "b@1020", "c@1025", "promise from b"]);
  assert.equal(Date.now(), 1_030);
});

Deno.test("FakeTime model: tickAsync lets pending promise callbacks run before the advance", async () => {
  using time = new StdLikeFakeTime(0);
  const log: string[] = [];
  Promise.resolve().then(() => setTimeout(() => log.push("armed late"), 5));
  await time.tickAsync(5);
  assert.deepEqual(log, ["armed late"]);
});

Deno.test("FakeTime model: time never goes backwards", () => {
  using time = new StdLikeFakeTime(100);
  assert.throws(() => (time.now = 99), RangeError);
  assert.equal(time.now, 100);
});

Deno.test("FakeTime model: every tickAsync re-installs the faked globals, removing a spy", async () => {
  using time = new StdLikeFakeTime(0);
  let spied = 0;
  const faked = globalThis.setTimeout;
  globalThis.setTimeout = ((handler: () => void, delay?: number) => {
    spied++;
    return faked(handler, delay);
  }) as typeof setTimeout;
  setTimeout(() => {}, 1);
  await time.tickAsync(1);
  setTimeout(() => {}, 1);
  assert.equal(spied, 1);
});

Deno.test("FakeTime model: runAllAsync stops as soon as no timer is pending", async () => {
  using time = new StdLikeFakeTime(0);
  let fired = 0;
  setTimeout(() => {
    fired++;
    // Armed a few promise hops later, after runAllAsync saw an empty queue.
    (async () => {
      for (let hop = 0; hop < 50; hop++) await null;
      setTimeout(() => fired++, 1);
    })();
  }, 1);
  await time.runAllAsync();
  assert.equal(fired, 1);
  await time.tickAsync(0); // the late timer is armed, and still pending
  assert.equal(time.countTimers(), 1);
  assert.equal(fired, 1);
});
