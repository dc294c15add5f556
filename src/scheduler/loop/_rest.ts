/**
 * A resumed run (`_resume.ts`) on its way in and out: its preloaded state
 * taken, and whether it may go back to sleep on its group's clock (only
 * when nothing of it is left in flight).
 *
 * @module
 */

import type { EngineCore } from "./_engine_core.ts";
import type { Resume } from "./_resume.ts";

/**
 * Whether the loop, about to sleep until the next occurrence (woken at the
 * jittered instant), ends the run instead: the resume's `rest` is asked only
 * with no run active or queued, no completion or burst instant (`lagging`)
 * waiting, no pause or stop, no at-least-once bookkeeping.
 */
export function mayRest<D>(
  core: EngineCore<D>,
  lagging: boolean,
  jitter: { wakeInstant(nominalMs: number): number },
): boolean {
  const rest = core.options.resume?.rest;
  const next = core.state.nextRunAt;
  const { control } = core.options;
  return rest !== undefined && next !== null && !lagging &&
    core.active.size === 0 && core.queued === undefined &&
    core.completions.length === 0 && core.fatal === undefined &&
    !control.paused && control.stop === undefined &&
    core.delivery.reclaimer === undefined &&
    rest(jitter.wakeInstant(next.getTime()));
}

/**
 * Takes a resumed run's state and dispatches its load's events. Started
 * from a group's clock, perhaps inside a fake clock's synchronous pass: the
 * loop then runs (and arms its timer) right away, with no wake-up pending
 * that would decide after the pass at its end instant rather than at the
 * instants the timer fires at.
 *
 * @throws the error of a failed load (`Resume.failed`), as the run's own
 * load would have.
 */
export function adoptResumed<D>(core: EngineCore<D>, resume: Resume): void {
  if (resume.state !== undefined) core.state = resume.state;
  core.markLoaded();
  for (const event of resume.events) {
    if (core.options.listens(event.type)) core.options.dispatch(event);
  }
  if (resume.failed !== undefined) throw resume.failed.error;
}
