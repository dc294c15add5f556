/**
 * The scheduler meets a lost grant reply: at-times occurrences hours apart
 * under fake time, a real server behind a proxy that lets the first
 * occurrence's granting script run, drops its reply and cuts the
 * connection (`_valkey_cut_proxy.ts`). The retry gets the grant back, so
 * the occurrence runs once, at once, with the token of the script's one
 * allotment: never replayed after the lease's ttl (at-least-once), never
 * reported lost (at-most-once). On both paths: the store and the guard on
 * one deployment (one script per grant) and a guard beside an in-memory
 * store (the in-flight acquire). Ignored without valkey-server.
 *
 * Fake time moves only while no command is in flight and no client is in
 * the middle of connecting (real I/O, `_valkey_fake_drive.ts`); every timer
 * is fake, the clients' (command timeout, reconnection delay) as well as the
 * scheduler's and the retry's.
 */
import assert from "node:assert/strict";
import {
  type Delivery,
  InMemoryStateStore,
  Job,
  Schedule,
  Scheduler,
  type SchedulerEvent,
  type StateStore,
  Task,
} from "../mod.ts";
import { ValkeyExecutionGuard, ValkeyStateStore } from "../src/valkey/mod.ts";
import { LEASED_ACQUIRE } from "../src/valkey/_lua_leased.ts";
import { IN_FLIGHT_ACQUIRE } from "../src/valkey/_lua_in_flight.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";
import { cli } from "./_valkey_topology.ts";
import { commandStats } from "./_valkey_counting.ts";
import { startCutProxy } from "./_valkey_cut_proxy.ts";
import { withFakeClock } from "./_fake_time.ts";
import { driveIo } from "./_valkey_fake_drive.ts";
import { recordEvents } from "./_engine_helpers.ts";

const available = await hasValkeyServer();
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 2, 1);
const TIMES = [T0 + HOUR, T0 + 5 * HOUR, T0 + 9 * HOUR];
const PREFIX = "scheduler:valkey:execution-lease:";
const FIRST_LEASE = `${PREFIX}j:2026-03-01T01:00:00.000000000Z`;
const LEASE = { ttlMs: 60_000, renewIntervalMs: 20_000 };

const jsonSafe = (_: string, v: unknown) =>
  typeof v === "bigint" ? String(v) : v;

interface Ran {
  readonly at: number;
  readonly startedAt: number;
  readonly token: bigint | undefined;
  readonly replayed: boolean;
}

for (const leased of [true, false]) {
  for (const delivery of ["at-least-once", "at-most-once"] as Delivery[]) {
    const path = leased
      ? "store and guard on one deployment"
      : "guard beside an in-memory store";
    Deno.test({
      name:
        `lost reply, scheduler on Valkey (${path}, ${delivery}): an occurrence whose grant reply was lost runs once, at once, with the token of the one allotment`,
      ignore: !available,
      fn: async () => {
        await withValkeyServer(async (server) => {
          const proxy = await startCutProxy({
            target: server.port,
            script: leased ? LEASED_ACQUIRE : IN_FLIGHT_ACQUIRE,
            ran: async () =>
              await cli(server.port, "EXISTS", FIRST_LEASE) === "1",
          });
          const other = await ValkeyExecutionGuard.connect(server.url, LEASE);
          const ran: Ran[] = [];
          try {
            await withFakeClock(T0, async (clock) => {
              const store: StateStore & { close?: () => Promise<void> } = leased
                ? await ValkeyStateStore.connect(proxy.url)
                : new InMemoryStateStore();
              const guard = await ValkeyExecutionGuard.connect(
                proxy.url,
                LEASE,
              );
              try {
                const scheduler = Scheduler.withExecutionGuard(
                  {},
                  store,
                  guard,
                );
                const events = recordEvents(scheduler);
                const job = Job.withoutDeps(
                  "j",
                  Schedule.atTimes(TIMES.map((at) => new Date(at))),
                  Task.fromSync(({ run }) => {
                    ran.push({
                      at: run.scheduledAt.getTime(),
                      startedAt: Date.now(),
                      token: run.fencingToken,
                      replayed: run.replayed === true,
                    });
                  }),
                ).withDelivery(delivery);
                const report = await driveIo(
                  clock,
                  scheduler.run(job),
                  () =>
                    `ran ${JSON.stringify(ran, jsonSafe)}, events ${
                      JSON.stringify(events.map((e) => e.type))
                    }`,
                );
                assert.equal(report.stopReason, "terminal");
                assertRuns(ran, events);
              } finally {
                await guard.close();
                await store.close?.();
              }
            });
            assert.equal(proxy.cuts, 1, "the first grant's reply was lost");
            // One allotment per occurrence: the retry allotted nothing.
            const stats = await commandStats(server.port);
            assert.equal(stats.get(leased ? "time" : "incr"), 3);
            assert.equal(
              await cli(server.port, "GET", `${PREFIX}j:fencing-token`),
              String(ran[2].token),
            );
            assert.deepEqual(await other.inFlight!.list("j"), [], "no replay");
            assert.deepEqual(
              await other.acquire({
                jobId: "j",
                scheduledAt: new Date(TIMES[0]),
              }),
              { kind: "contended" },
            );
          } finally {
            await other.close();
            await proxy.close();
          }
        });
      },
    });
  }
}

/** Each occurrence ran once, at once, fenced above the last; none lost. */
function assertRuns(ran: Ran[], events: SchedulerEvent[]): void {
  assert.deepEqual(
    ran.map((r) => [new Date(r.at).toISOString(), r.replayed]),
    TIMES.map((at) => [new Date(at).toISOString(), false]),
  );
  for (const r of ran) {
    // Within the retry budget of its instant, far below the lease's ttl.
    assert.ok(r.startedAt - r.at < 10_000, `late by ${r.startedAt - r.at} ms`);
  }
  assert.ok(ran[0].token! < ran[1].token! && ran[1].token! < ran[2].token!);
  const unwanted = events.filter((e) =>
    e.type === "execution-guard-contended" || e.type === "run-skipped" ||
    e.type === "execution-guard-acquire-failed"
  );
  assert.deepEqual(unwanted, []);
}
