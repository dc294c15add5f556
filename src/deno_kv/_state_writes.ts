/**
 * The Deno KV state store's writes that must never lose a race: the first
 * state created by a commit checked on an absent key, and saves merged over
 * what is stored and committed only if the key's versionstamp is unchanged.
 * The value stays the Rust crate's JSON text.
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

/** What a key held when last seen: its value and versionstamp. */
export interface KnownEntry {
  readonly value: unknown;
  readonly versionstamp: string | null;
}

/** Where and what the writes below act on. */
export interface KvWrite {
  readonly key: Deno.KvKey;
  readonly state: JobState;
  /** The entry last seen per job id, so that a save is usually one commit. */
  readonly known: Map<string, KnownEntry>;
}

function written(value: string, commit: Deno.KvCommitResult): KnownEntry {
  return { value, versionstamp: commit.versionstamp };
}

/**
 * Saves `state` merged over what `key` holds (see `mergeJobStates`); the
 * commit checks the versionstamp it merged over, so a concurrent writer
 * makes it merge again and a stale writer never moves the state back.
 */
export async function saveMerged(
  kv: Deno.Kv,
  { key, state, known }: KvWrite,
): Promise<void> {
  let current: KnownEntry = known.get(state.jobId) ??
    await kv.get<unknown>(key);
  for (let round = 0; round < MAX_MERGE_ROUNDS; round++) {
    const text = mergedText(current.value, state);
    const committed = await kv.atomic()
      .check({ key, versionstamp: current.versionstamp })
      .set(key, text)
      .commit();
    if (committed.ok) {
      known.set(state.jobId, written(text, committed));
      return undefined;
    }
    current = await kv.get<unknown>(key);
    known.set(state.jobId, current);
  }
  known.delete(state.jobId);
  throw writeStormError(state.jobId);
}

/**
 * Stores `state` under `key` only if the key is absent (a commit checked on
 * a null versionstamp). Resolves `undefined` when stored, or the state
 * already there.
 */
export async function createIfAbsent(
  kv: Deno.Kv,
  { key, state, known }: KvWrite,
): Promise<JobState | undefined> {
  const text = encodeJobState(state);
  for (let round = 0; round < MAX_MERGE_ROUNDS; round++) {
    const committed = await kv.atomic()
      .check({ key, versionstamp: null })
      .set(key, text)
      .commit();
    if (committed.ok) {
      known.set(state.jobId, written(text, committed));
      return undefined;
    }
    const winner = await kv.get<unknown>(key);
    known.set(state.jobId, winner);
    // Deleted between our commit and our read: try to create again.
    if (winner.value !== null) return decodeJobState(winner.value, state.jobId);
  }
  throw writeStormError(state.jobId);
}
