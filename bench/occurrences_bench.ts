/**
 * Consuming missed interval occurrences is closed-form: one million missed
 * occurrences should cost about as much as one.
 */
import { Schedule } from "../mod.ts";
import { consumeDue } from "../src/schedule/_occurrences.ts";

const NOW = Date.UTC(2026, 0, 1);
const interval = Schedule.interval(1000);
const zone = { timezone: "UTC" };

Deno.bench({
  name: "consume 1 missed interval occurrence",
  group: "interval catch-up",
  baseline: true,
  fn() {
    consumeDue(interval, { triggerCount: 0, nextRunAt: NOW }, {
      ...zone,
      now: NOW,
    });
  },
});

Deno.bench({
  name: "consume 1 000 000 missed interval occurrences",
  group: "interval catch-up",
  fn() {
    consumeDue(
      interval,
      { triggerCount: 0, nextRunAt: NOW - 999_999 * 1000 },
      { ...zone, now: NOW },
    );
  },
});

const atTimes = Schedule.atTimes(
  Array.from({ length: 1_000_000 }, (_, i) => NOW - (1_000_000 - i) * 1000),
);
Deno.bench({
  name: "consume 1 000 000 missed at-times (binary search)",
  group: "interval catch-up",
  fn() {
    consumeDue(
      atTimes,
      { triggerCount: 0, nextRunAt: NOW - 1_000_000 * 1000 },
      { ...zone, now: NOW },
    );
  },
});
