/**
 * What a fencing token orders (docs/recovery.md): the grants of one
 * occurrence. A replay of an older occurrence that overlaps a newer one
 * holds a higher token than the newer run, so a job-wide sink
 * (`token <= newest` → reject) refuses the newer run's legitimate write;
 * the per-occurrence sink of the README and docs/recovery.md accepts both
 * and still refuses the dead holder's late write.
 */
import assert from "node:assert/strict";
import {
  DenoKvExecutionGuard,
  InMemoryStateStore,
  Job,
  type RunRecord,
  Schedule,
  Scheduler,
  Task,
} from "../mod.ts";

interface Sink {
  write(scheduledAt: Date, fencingToken: bigint, row: string): void;
}

/** The README's old sink: one newest token for the whole job. */
class JobWideSink implements Sink {
  #newest = 0n;
  rows: string[] = [];
  write(_scheduledAt: Date, fencingToken: bigint, row: string): void {
    if (fencingToken <= this.#newest) {
      throw new Error(`stale write (token ${fencingToken} <= ${this.#newest})`);
    }
    this.#newest = fencingToken;
    this.rows.push(row);
  }
}

/** The README's sink: the newest token per occurrence. */
class PerOccurrenceSink implements Sink {
  readonly #newest = new Map<number, bigint>();
  rows: string[] = [];
  write(scheduledAt: Date, fencingToken: bigint, row: string): void {
    const at = scheduledAt.getTime();
    const newest = this.#newest.get(at) ?? -1n;
    if (fencingToken <= newest) {
      throw new Error(`stale write (token ${fencingToken} <= ${newest})`);
    }
    this.#newest.set(at, fencingToken);
    this.rows.push(row);
  }
}

/**
 * A dead holder's occurrence (`older`) is replayed by one instance while
 * the other runs a newer occurrence that writes only after the replay
 * wrote. Answers the runs' records and the dead holder's token.
 */
async function overlappingReplay(sink: Sink) {
  const kv = await Deno.openKv(":memory:");
  try {
    const guard = new DenoKvExecutionGuard(kv, {
      ttlMs: 300,
      renewIntervalMs: 100,
    });
    const now = Date.now();
    const older = now - 1_000;
    const dead = await guard.inFlight.acquire({
      jobId: "report",
      scheduledAt: new Date(older),
      triggerCount: 1,
      catchUp: false,
    });
    assert.ok(dead.kind === "acquired");
    let replayWrote!: () => void;
    const replayWritten = new Promise<void>((r) => replayWrote = r);
    const tokens: [string, bigint][] = [];
    const job = Job.withoutDeps(
      "report",
      Schedule.atTimes([now + 50]),
      Task.fromAsync(async ({ run }) => {
        tokens.push([run.replayed ? "replay" : "newer", run.fencingToken!]);
        try {
          if (!run.replayed) await replayWritten;
          sink.write(
            run.scheduledAt,
            run.fencingToken!,
            String(run.scheduledAt.getTime()),
          );
        } finally {
          if (run.replayed) replayWrote();
        }
      }),
    ).withDelivery("at-least-once");
    const reports = await Promise.all(
      [0, 1].map(() =>
        Scheduler.withExecutionGuard({}, new InMemoryStateStore(), guard).run(
          job,
        )
      ),
    );
    const history: RunRecord[] = reports.flatMap((report) => report.history);
    const byName = new Map(tokens);
    assert.ok(
      byName.get("replay")! > byName.get("newer")!,
      "the replay of the older occurrence holds the higher token",
    );
    return { history, deadToken: dead.lease.fencingToken!, older };
  } finally {
    kv.close();
  }
}

Deno.test("fencing, job-wide sink: an overlapping replay of an older occurrence makes the sink refuse the newer occurrence's run", async () => {
  const sink = new JobWideSink();
  const { history } = await overlappingReplay(sink);
  const failed = history.filter((run) => run.status === "failed");
  assert.equal(failed.length, 1, "the newer run failed on a legitimate write");
  assert.equal(failed[0].replayed, undefined);
  assert.equal(sink.rows.length, 1);
});

Deno.test("fencing, per-occurrence sink (README, docs/recovery.md): both runs write; the dead holder's late write is refused", async () => {
  const sink = new PerOccurrenceSink();
  const { history, deadToken, older } = await overlappingReplay(sink);
  assert.deepEqual(history.map((run) => run.status), [
    "success",
    "success",
  ]);
  assert.equal(sink.rows.length, 2);
  assert.throws(
    () => sink.write(new Date(older), deadToken, "late"),
    /stale write/,
    "the superseded holder of the older occurrence is refused",
  );
});
