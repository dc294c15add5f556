/**
 * The Valkey state store's writes that must never lose a race: the first
 * state created with `SET NX`, and saves merged over what is stored and
 * written with a compare-and-set script (`_lua_state.ts`). The value stays the Rust crate's
 * JSON: no version field is added, the compared value is the JSON text.
 *
 * @module
 */

import type { JobState } from "../store/job_state.ts";
import { decodeJobState, encodeJobState } from "../store/_json_codec.ts";
import {
  MAX_MERGE_ROUNDS,
  mergedText,
  writeStormError,
} from "../store/_merge_state.ts";
import type { ValkeyClient } from "./_open_client.ts";
import { commands } from "./_commands.ts";

/**
 * What the writes of one store remember: the text last seen under each key
 * (`null` = absent), so that a save usually needs one command.
 */
export type KnownTexts = Map<string, string | null>;

/** Where and what {@linkcode saveMerged} writes. */
export interface MergedSave {
  readonly key: string;
  readonly state: JobState;
  readonly known: KnownTexts;
}

/**
 * Saves `state` merged over what `key` holds (see `mergeJobStates`), with
 * a compare-and-set: a concurrent writer makes it merge again over the new
 * value, so a stale writer never moves the stored state back.
 */
export async function saveMerged(
  client: ValkeyClient,
  { key, state, known }: MergedSave,
): Promise<void> {
  let current = known.has(key) ? known.get(key)! : await client.get(key);
  for (let round = 0; round < MAX_MERGE_ROUNDS; round++) {
    const text = mergedText(current, state);
    // Always written, even when nothing changed: a save confirms the state
    // is stored (the server may have restarted empty since we last looked).
    const answer = await commands(client).compareAndSet(
      key,
      current === null ? "0" : "1",
      current ?? "",
      text,
    );
    if (answer === 1) {
      known.set(key, text);
      return;
    }
    current = typeof answer === "string" ? answer : null;
    known.set(key, current);
  }
  known.delete(key);
  throw writeStormError(state.jobId);
}

/**
 * Stores `state` under `key` only if the key is absent (`SET NX GET`, one
 * atomic command). Resolves `undefined` when stored, or the state already
 * there.
 */
export async function createIfAbsent(
  client: ValkeyClient,
  { key, state, known }: MergedSave,
): Promise<JobState | undefined> {
  const text = encodeJobState(state);
  const previous = await client.call("SET", key, text, "NX", "GET");
  if (previous === null) {
    known.set(key, text);
    return undefined;
  }
  const winner = String(previous);
  known.set(key, winner);
  return decodeJobState(winner, state.jobId);
}
