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
import { commands, type StateWrite } from "./_commands.ts";

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
export function saveMerged(
  client: ValkeyClient,
  target: MergedSave,
): Promise<void> {
  return writeMerged({ ...target, read: () => client.get(target.key) }, {
    write: async (cas) => {
      const answer = await commands(client).compareAndSet(
        target.key,
        cas.sawPresent ? "1" : "0",
        cas.seen,
        cas.text,
      );
      return answer === 1 ? { written: true, value: undefined } : {
        written: false,
        current: typeof answer === "string" ? answer : null,
      };
    },
  });
}

/** What a compare-and-set write answers. */
export type CasOutcome<T> =
  | { readonly written: true; readonly value: T }
  | { readonly written: false; readonly current: string | null };

/**
 * The merge loop of every state write: `state` merged over the text last
 * seen under `key` (read when unknown), written by `write` as a
 * compare-and-set, merged again over what a concurrent writer left, at
 * most `MAX_MERGE_ROUNDS` times. Resolves with what the write answered.
 */
export async function writeMerged<T>(
  target: MergedSave & { readonly read: () => Promise<string | null> },
  how: { readonly write: (cas: StateWrite) => Promise<CasOutcome<T>> },
): Promise<T> {
  const { key, state, known } = target;
  let current = known.has(key) ? known.get(key)! : await target.read();
  for (let round = 0; round < MAX_MERGE_ROUNDS; round++) {
    const text = mergedText(current, state);
    // Always written, even when nothing changed: a save confirms the state
    // is stored (the server may have restarted empty since we last looked).
    const answer = await how.write({
      sawPresent: current !== null,
      seen: current ?? "",
      text,
    });
    if (answer.written) {
      known.set(key, text);
      return answer.value;
    }
    current = answer.current;
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
