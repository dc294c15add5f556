/**
 * The shared bounded retry: capped exponential back-off, the budget,
 * abandoned attempts, and that a fake clock installed after the module was
 * loaded drives all of it.
 */
import assert from "node:assert/strict";
import {
  backoffDelay,
  DEFAULT_RETRY_BUDGET_MS,
  resolveRetryBudget,
  retryWithBackoff,
} from "../src/_retry.ts";
import { InvalidJobError } from "../mod.ts";
import { type FakeClock, withFakeClock } from "./_fake_time.ts";
import { drive } from "./_kv_helpers.ts";

const T0 = Date.UTC(2026, 3, 3, 1, 2, 3);

class Outage extends Error {}
class Corrupt extends Error {}

/** An operation that fails `failures` times with `Outage`, then answers. */
function flaky(
  failures: number,
  error: () => Error = () => new Outage("down"),
) {
  const attempts: number[] = [];
  const operation = () => {
    attempts.push(Date.now() - T0);
    return attempts.length <= failures
      ? Promise.reject(error())
      : Promise.resolve("answer");
  };
  return { attempts, operation };
}

const isOutage = (error: unknown) => error instanceof Outage;

function run<T>(clock: FakeClock, promise: Promise<T>): Promise<T> {
  return drive(clock, promise);
}

Deno.test("backoffDelay doubles from the first pause, is capped, and jitters into [½, 1]", () => {
  const full = [0, 1, 2, 3, 4, 5, 6, 40].map((attempt) =>
    backoffDelay(attempt, { firstMs: 50, maxMs: 1_000, random: 0.999_999 })
  );
  assert.deepEqual(
    full.map(Math.round),
    [50, 100, 200, 400, 800, 1_000, 1_000, 1_000],
  );
  const half = [0, 1, 5].map((attempt) =>
    backoffDelay(attempt, { firstMs: 50, maxMs: 1_000, random: 0 })
  );
  assert.deepEqual(half, [25, 50, 500]);
});

Deno.test("retryWithBackoff retries on the fake clock with growing pauses, then answers", async () => {
  await withFakeClock(T0, async (clock) => {
    const { attempts, operation } = flaky(4);
    const answer = await run(
      clock,
      retryWithBackoff(operation, {
        budgetMs: 10_000,
        retryable: isOutage,
        random: () => 0,
      }),
    );
    assert.equal(answer, "answer");
    // Pauses of 25, 50, 100, 200 ms (half of 50, 100, 200, 400).
    assert.deepEqual(attempts, [0, 25, 75, 175, 375]);
  });
});

Deno.test("retryWithBackoff never retries an error the caller calls permanent", async () => {
  await withFakeClock(T0, async (clock) => {
    const { attempts, operation } = flaky(3, () => new Corrupt("bad value"));
    await assert.rejects(
      run(
        clock,
        retryWithBackoff(operation, { budgetMs: 10_000, retryable: isOutage }),
      ),
      Corrupt,
    );
    assert.deepEqual(attempts, [0]);
  });
});

Deno.test("retryWithBackoff gives up within the budget with the last error", async () => {
  await withFakeClock(T0, async (clock) => {
    let count = 0;
    const attempts: number[] = [];
    const operation = () => {
      attempts.push(Date.now() - T0);
      return Promise.reject(new Outage(`down #${++count}`));
    };
    const error = await run(
      clock,
      retryWithBackoff(operation, {
        budgetMs: 3_000,
        retryable: isOutage,
        random: () => 0.999_999,
      }).then(() => undefined, (error) => error),
    );
    assert.ok(error instanceof Outage);
    assert.equal(error.message, `down #${attempts.length}`, "the last error");
    assert.ok(attempts.length >= 5, `${attempts.length} attempts`);
    assert.ok(attempts.at(-1)! < 3_000, `last attempt at ${attempts.at(-1)}`);
    assert.ok(Date.now() - T0 < 3_000, "settled within the budget");
    // Capped: no pause longer than a second.
    for (let i = 1; i < attempts.length; i++) {
      assert.ok(attempts[i] - attempts[i - 1] <= 1_000, attempts.join(", "));
    }
  });
});

Deno.test("retryWithBackoff abandons a hanging retry at the deadline, never the first attempt", async () => {
  await withFakeClock(T0, async (clock) => {
    let calls = 0;
    const hangsAfterFirst = () => {
      calls++;
      if (calls === 1) return Promise.reject(new Outage("reset"));
      return new Promise<string>(() => {}); // a paused server
    };
    const error = await run(
      clock,
      retryWithBackoff(hangsAfterFirst, {
        budgetMs: 2_000,
        retryable: isOutage,
      }).then(() => undefined, (error) => error),
    );
    assert.ok(error instanceof Outage && error.message === "reset");
    assert.equal(Date.now() - T0, 2_000, "gave up exactly at the budget");
    assert.equal(calls, 2);
    assert.equal(clock.countTimers(), 0, "no timer left behind");

    // A slow first attempt is the call itself: it is never cut short.
    const slow = () =>
      new Promise<string>((resolve) =>
        setTimeout(() => resolve("late"), 5_000)
      );
    const started = Date.now();
    const answer = await run(
      clock,
      retryWithBackoff(slow, { budgetMs: 1_000, retryable: isOutage }),
    );
    assert.equal(answer, "late");
    assert.equal(Date.now() - started, 5_000);
  });
});

Deno.test("retryWithBackoff with a zero budget makes exactly one attempt", async () => {
  await withFakeClock(T0, async (clock) => {
    const { attempts, operation } = flaky(1);
    await assert.rejects(
      run(
        clock,
        retryWithBackoff(operation, { budgetMs: 0, retryable: isOutage }),
      ),
      Outage,
    );
    assert.deepEqual(attempts, [0]);
  });
});

Deno.test("resolveRetryBudget: default, bounds, and a typed error naming the value", () => {
  assert.equal(resolveRetryBudget(undefined, "X"), DEFAULT_RETRY_BUDGET_MS);
  assert.equal(DEFAULT_RETRY_BUDGET_MS, 10_000);
  assert.equal(resolveRetryBudget(0, "X"), 0);
  assert.equal(resolveRetryBudget(3_600_000, "X"), 3_600_000);
  for (const bad of [-1, 1.5, NaN, Infinity, 3_600_001, "5", null]) {
    assert.throws(
      () => resolveRetryBudget(bad, "ValkeyStateStore.connect"),
      (error: unknown) =>
        error instanceof InvalidJobError && error.kind === "other" &&
        error.message.includes("ValkeyStateStore.connect retryBudgetMs") &&
        error.message.includes(String(bad)),
    );
  }
});
