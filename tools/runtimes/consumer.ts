/**
 * A plain TypeScript project's use of the package built for Node and Bun:
 * `tsc --noEmit` checks it against the emitted declaration files (strict, no
 * implicit any: a package without types fails with TS7016), then it is
 * compiled and run under Node. The `@ts-expect-error` lines prove the types
 * are real: each would compile against an untyped (any) package and so fail.
 */
import {
  CronSchedule,
  InMemoryStateStore,
  InvalidJobError,
  Job,
  Schedule,
  schedule,
  type SchedulerReport,
  Task,
} from "@cloudiful/scheduler";

const next: Date | undefined = CronSchedule.parse("30 2 * * *").nextAfter(
  new Date("2026-03-07T12:00:00Z"),
  "America/New_York",
);
if (next?.toISOString() !== "2026-03-08T07:00:00.000Z") {
  throw new Error(`unexpected next run ${next?.toISOString()}`);
}

const job = schedule({ everyMs: 10 }, { maxRuns: 2 }, ({ run }) => {
  const count: number = run.triggerCount;
  console.log(`consumer: run #${count}`);
});
const upcoming: Date[] = await job.nextRuns(5);
const report: SchedulerReport = await job.done;
if (report.stopReason !== "terminal" || upcoming.length !== 2) {
  throw new Error(`unexpected report ${report.stopReason} ${upcoming.length}`);
}

/** Never called: type errors only. */
function misuses(): void {
  const typed = Job.withoutDeps(
    "typed",
    Schedule.interval(1_000),
    Task.fromSync(() => {}),
  );
  // @ts-expect-error an interval is a number of milliseconds
  Schedule.interval("1000");
  // @ts-expect-error withRetry needs attempts
  typed.withRetry({ backoffMs: [1] });
  // @ts-expect-error a job id is a string
  void new InMemoryStateStore().load(42);
}
void misuses;

try {
  schedule({ everyMs: 0 }, () => {});
  throw new Error("an interval of 0 ms was accepted");
} catch (error) {
  if (!(error instanceof InvalidJobError)) throw error;
  const kind: string = error.kind;
  console.log(`consumer: refused (${kind})`);
}
console.log("consumer: ok");
