/**
 * At-least-once triggers queued with their lease: an occurrence queued
 * (under `queue-one`, or by a pause) is granted, with its in-flight record,
 * before its consumption is saved (see `saveAndCarryOutLeased`), so a crash
 * while it waits leaves a record to replay. This file starts it on that
 * lease, or, when the lease ran out meanwhile, leaves it to the ledger (a
 * replay, by this instance or another); at a stop it gives the lease back.
 *
 * @module
 */

import type { Trigger } from "../rules/_decide.ts";
import type { EngineCore } from "./_engine_core.ts";
import { giveBack, launch, startRun } from "./_launch.ts";

/**
 * Starts the queued trigger (the caller checked there is one); returns a
 * promise when starting waits for the guard.
 */
export function startQueued<D>(core: EngineCore<D>): Promise<void> | undefined {
  const trigger = core.queued!;
  const lease = core.queuedLease;
  core.queued = undefined;
  core.queuedLease = undefined;
  if (lease === undefined) return startRun(core, trigger);
  return resumeLeased(core, trigger, lease);
}

async function resumeLeased<D>(
  core: EngineCore<D>,
  trigger: Trigger,
  lease: NonNullable<EngineCore<D>["queuedLease"]>,
): Promise<void> {
  let renewed = false;
  try {
    renewed = await core.host.guard.renew(lease) === "renewed";
  } catch {
    // Unknown: treated as lost. The record stays in the ledger, and the
    // look at it that follows reports an outage if there is one.
  }
  if (renewed && !core.stopping()) {
    launch(core, trigger, lease);
    return;
  }
  if (renewed) {
    await giveBack(core, trigger, lease);
    return;
  }
  // The lease ran out while the trigger waited: its record is replayed,
  // by another instance that already took it or by this one at once.
  core.delivery.reclaimer?.forget(lease);
}

/** At the end of `run()`: a queued trigger's lease goes back to the ledger. */
export async function giveBackQueued<D>(core: EngineCore<D>): Promise<void> {
  const { queued, queuedLease } = core;
  core.queuedLease = undefined;
  if (queued === undefined || queuedLease === undefined) return;
  await giveBack(core, queued, queuedLease);
}
