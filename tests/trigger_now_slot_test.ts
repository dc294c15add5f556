/**
 * The slot of a manual run (`triggerNow()`) is found in bounded time for
 * every schedule kind, never on a scheduled occurrence, and refused with an
 * `InvalidJobError` where none is free. Each question runs in a worker with a
 * deadline, so that a synchronous loop that never ends fails the test instead
 * of freezing the runner.
 */
import assert from "node:assert/strict";
import type {
  ScheduleSpec,
  SlotAnswer,
  SlotQuestion,
} from "./_manual_slot_worker.ts";
import { T0 } from "./_engine_helpers.ts";
import { MAX_STORABLE_MS, MIN_STORABLE_MS } from "../src/schedule/_civil.ts";

/** Generous under load: a bounded answer takes milliseconds. */
const DEADLINE_MS = 15_000;

async function ask(question: SlotQuestion): Promise<SlotAnswer> {
  const worker = new Worker(
    new URL("./_manual_slot_worker.ts", import.meta.url),
    { type: "module" },
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await new Promise<SlotAnswer>((resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `no answer in ${DEADLINE_MS} ms (hung): ${
                JSON.stringify(question)
              }`,
            ),
          ),
        DEADLINE_MS,
      );
      worker.onmessage = (event: MessageEvent<SlotAnswer>) =>
        resolve(event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        reject(new Error(event.message));
      };
      worker.postMessage(question);
    });
  } finally {
    clearTimeout(timer);
    worker.terminate();
  }
}

async function slot(
  schedule: ScheduleSpec,
  requestedAt: number,
  options: { nextRunAt?: number | null; timezone?: string } = {},
): Promise<SlotAnswer> {
  return await ask({
    kind: "slot",
    schedule,
    requestedAt,
    nextRunAt: options.nextRunAt ?? null,
    timezone: options.timezone,
  });
}

function refused(answer: SlotAnswer, kind: string, words: RegExp): void {
  assert.ok(
    "error" in answer,
    `expected a refusal, got ${JSON.stringify(answer)}`,
  );
  assert.equal(answer.error.name, "InvalidJobError");
  assert.equal(answer.error.kind, kind);
  assert.match(answer.error.message, words);
}

Deno.test("an interval of 1 ms leaves no free millisecond: the slot is refused at once, whatever the instant", async () => {
  for (const nextRunAt of [T0, T0 + 7, null]) {
    refused(
      await slot({ kind: "interval", everyMs: 1 }, T0, { nextRunAt }),
      "interval-out-of-range",
      /interval of 1 ms leaves none/,
    );
  }
  // From 2 ms on, the millisecond after an occurrence is free.
  const every2 = { kind: "interval", everyMs: 2 } as const;
  assert.deepEqual(await slot(every2, T0, { nextRunAt: T0 + 4 }), {
    value: T0 + 1,
  });
  assert.deepEqual(await slot(every2, T0 + 1, { nextRunAt: T0 + 4 }), {
    value: T0 + 1,
  });
});

Deno.test("a run of back-to-back at-times instants is stepped over in one search, not instant by instant", async () => {
  // 200 000 instants one millisecond apart: stepping a millisecond at a time
  // through a scan of the list is 10^10 comparisons.
  const dense = { kind: "at-times", first: T0, count: 200_000 } as const;
  assert.deepEqual(await slot(dense, T0), { value: T0 + 200_000 });
  assert.deepEqual(await slot(dense, T0 + 150_000), { value: T0 + 200_000 });
  assert.deepEqual(await slot(dense, T0 - 1), { value: T0 - 1 });
  assert.deepEqual(await slot(dense, T0 + 200_001), { value: T0 + 200_001 });
});

Deno.test("a cron occurrence moves the slot by one millisecond, also in a zone with an offset of odd seconds", async () => {
  const everyMinute = { kind: "cron", expression: "* * * * *" } as const;
  const minute = Date.UTC(2026, 3, 3, 1, 2, 0);
  assert.deepEqual(await slot(everyMinute, minute), { value: minute + 1 });
  assert.deepEqual(await slot(everyMinute, minute + 1_000), {
    value: minute + 1_000,
  });
  // Liberia kept -0:44:30 until 1972: its minutes begin at :30 seconds UTC.
  const monrovia = { timezone: "Africa/Monrovia" };
  const localMinute = Date.UTC(1971, 0, 1, 0, 0, 30);
  assert.deepEqual(await slot(everyMinute, localMinute, monrovia), {
    value: localMinute + 1,
  });
  assert.deepEqual(await slot(everyMinute, localMinute - 30_000, monrovia), {
    value: localMinute - 30_000,
  });
});

Deno.test("a slot that would lie past 9999 is refused, naming the instant", async () => {
  refused(
    await slot(
      { kind: "at-times", first: MAX_STORABLE_MS - 2, count: 3 },
      MAX_STORABLE_MS - 2,
    ),
    "other",
    /9999-12-31T23:59:59\.997Z is an occurrence.*\+010000-01-01T00:00:00\.000Z/,
  );
  refused(
    await slot({ kind: "interval", everyMs: 1_000 }, MAX_STORABLE_MS, {
      nextRunAt: MAX_STORABLE_MS - 2_000,
    }),
    "other",
    /past the years 0000-9999/,
  );
  // The first instant a job state can hold is a slot like any other.
  assert.deepEqual(
    await slot({ kind: "cron", expression: "0 0 1 1 *" }, MIN_STORABLE_MS),
    { value: MIN_STORABLE_MS + 1 },
  );
});

Deno.test("triggerNow on a running job of 1 ms rejects with InvalidJobError, and the job keeps running", async () => {
  const answer = await ask({
    kind: "engine",
    schedule: { kind: "interval", everyMs: 1 },
  });
  assert.ok("value" in answer, JSON.stringify(answer));
  const { pressed, before, after, stopReason } = answer.value as {
    pressed: unknown;
    before: number;
    after: number;
    stopReason: string;
  };
  assert.deepEqual(pressed, {
    name: "InvalidJobError",
    kind: "interval-out-of-range",
  });
  assert.ok(before > 0 && after > 0, `runs before ${before}, after ${after}`);
  assert.equal(stopReason, "shutdown");
});

Deno.test("triggerNow inside a run of back-to-back at-times instants takes the first free millisecond after them", async () => {
  // The default requestedAt (now floored to the second) is T0, inside them.
  const answer = await ask({
    kind: "engine",
    schedule: { kind: "at-times", first: T0 - 10, count: 5_000 },
  });
  assert.ok("value" in answer, JSON.stringify(answer));
  const { pressed, after, stopReason } = answer.value as {
    pressed: unknown;
    after: number;
    stopReason: string;
  };
  assert.deepEqual(pressed, { scheduledAt: T0 - 10 + 5_000 });
  assert.ok(after > 0, "the scheduled runs go on");
  assert.equal(stopReason, "shutdown");
});
