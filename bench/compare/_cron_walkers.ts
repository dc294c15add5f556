/**
 * "The next `count` occurrences of this expression in this zone after that
 * instant", through each library that computes cron occurrences: what both the
 * throughput and the daylight-saving measurements ask.
 */
import { CronSchedule, type DstPolicy } from "../../mod.ts";
import { peer, peerVersion } from "./_peers.ts";

/** One library's way to list occurrences. */
export interface CronWalker {
  name: string;
  /** The API called, for RESULTS.md. */
  api: string;
  /**
   * Whether it only counts from the current time (`after` is ignored): the
   * caller fakes `Date` when the start matters.
   */
  fromNow: boolean;
  /** Whether it takes a `DstPolicy` (only ours). */
  policies: boolean;
  /** Epoch milliseconds of the next `count` occurrences. */
  walk(
    query: {
      expression: string;
      zone: string;
      after: Date;
      count: number;
      dst?: DstPolicy;
    },
  ): number[];
}

/** Ours, cron-parser, croner, node-cron and cron (kelektiv), in that order. */
export function cronWalkers(): CronWalker[] {
  const { CronExpressionParser } = peer("cron-parser");
  const { Cron } = peer("croner");
  const nodeCron = peer("node-cron");
  const { CronTime } = peer("cron");
  return [
    {
      name: "ours",
      api: "`CronSchedule.parse(expr).nextAfter(prev, zone)`",
      fromNow: false,
      policies: true,
      walk({ expression, zone, after, count, dst }) {
        const cron = CronSchedule.parse(expression);
        const out: number[] = [];
        let cursor: Date | undefined = after;
        while (out.length < count && cursor) {
          cursor = cron.nextAfter(cursor, zone, dst);
          if (cursor) out.push(cursor.getTime());
        }
        return out;
      },
    },
    {
      name: `cron-parser ${peerVersion("cron-parser")}`,
      api: "`CronExpressionParser.parse(expr, { currentDate, tz }).next()`",
      fromNow: false,
      policies: false,
      walk({ expression, zone, after, count }) {
        const iterator = CronExpressionParser.parse(expression, {
          currentDate: after,
          tz: zone,
        });
        return Array.from(
          { length: count },
          () => iterator.next().toDate().getTime(),
        );
      },
    },
    {
      name: `croner ${peerVersion("croner")}`,
      api:
        "`new Cron(expr, { timezone, paused: true }).nextRuns(n, after)`; in UTC `{ utcOffset: 0 }`, croner's fast path, instead of `timezone`",
      fromNow: false,
      policies: false,
      walk({ expression, zone, after, count }) {
        // croner's documented way to UTC: a fixed offset skips its zone
        // conversion (several times faster than `timezone: "UTC"`).
        const job = new Cron(
          expression,
          zone === "UTC"
            ? { utcOffset: 0, paused: true }
            : { timezone: zone, paused: true },
        );
        return job.nextRuns(count, after).map((date: Date) => date.getTime());
      },
    },
    {
      name: `node-cron ${peerVersion("node-cron")}`,
      api:
        "`createTask(expr, fn, { timezone }).getNextRuns(n)`, which counts from now",
      fromNow: true,
      policies: false,
      walk({ expression, zone, count }) {
        const task = nodeCron.createTask(expression, () => {}, {
          timezone: zone,
        });
        try {
          return task.getNextRuns(count).map((date: Date) => date.getTime());
        } finally {
          task.destroy();
        }
      },
    },
    {
      name: `cron (kelektiv) ${peerVersion("cron")}`,
      api: "`new CronTime(expr, zone).getNextDateFrom(prev, zone)`",
      fromNow: false,
      policies: false,
      walk({ expression, zone, after, count }) {
        const time = new CronTime(expression, zone);
        const out: number[] = [];
        let cursor = after;
        while (out.length < count) {
          cursor = time.getNextDateFrom(cursor, zone).toJSDate();
          out.push(cursor.getTime());
        }
        return out;
      },
    },
  ];
}
