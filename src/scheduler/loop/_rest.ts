/**
 * Whether a resumed run may go back to sleep on its group's clock
 * (`_resume.ts`): only when nothing of it is left in flight.
 *
 * @module
 */

import type { EngineCore } from "./_engine_core.ts";

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
