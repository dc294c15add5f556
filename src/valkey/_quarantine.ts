/**
 * Damaged guard data on Valkey set aside, so that the next grant finds the
 * keys usable and the job goes on (docs/recovery.md): a damaged fencing
 * counter or lease key, or an in-flight hash of another type, is renamed to
 * `<prefix><jobId>:quarantine:<what>:<movedAtMs>`, a damaged or orphaned
 * in-flight record moves to the hash `<prefix><jobId>:quarantine:in-flight`
 * (field `<timestamp> <movedAtMs>`). The errors that report it name the
 * key and where its value went.
 *
 * @module
 */

import { ExecutionGuardErrorKind } from "../constants.ts";
import { describeValue, ExecutionGuardError } from "../errors.ts";
import type { ValkeyClient } from "./_open_client.ts";
import { commands } from "./_commands.ts";
import type { ValkeyKeys } from "./_key_layout.ts";

/** What a quarantine key holding a whole in-flight hash is named after. */
export const IN_FLIGHT_HASH_ASIDE = "in-flight-hash";

/**
 * After a grant failed with `error`: the job's fencing counter and the
 * occurrence's lease key renamed to quarantine keys if they are damaged.
 * Answers the error to report: `error` with where the damage went, or
 * `error` as it was when nothing was damaged (or it is not a data error).
 */
export async function setAsideGrantKeys(
  client: ValkeyClient,
  options: {
    error: ExecutionGuardError;
    keys: ValkeyKeys;
    jobId: string;
    /** The occurrence's timestamp, as in its lease key. */
    at: string;
    /** The failed grant's holder token. */
    token: string;
    /** Whether the grant wrote an in-flight record (its hash is looked at). */
    record?: boolean;
  },
): Promise<ExecutionGuardError> {
  const { error, keys, jobId, at, token } = options;
  if (error.kind !== ExecutionGuardErrorKind.Data) return error;
  const moved: string[] = [];
  const candidates: {
    key: string;
    what: string;
    use: "counter" | "lease" | "hash";
  }[] = [
    { key: keys.fence(jobId), what: "fencing-token", use: "counter" },
    { key: keys.lease(jobId, at), what: at, use: "lease" },
  ];
  if (options.record) {
    candidates.push({
      key: keys.inFlight(jobId),
      what: IN_FLIGHT_HASH_ASIDE,
      use: "hash",
    });
  }
  try {
    for (const { key, what, use } of candidates) {
      const target = keys.quarantine(jobId, what, Date.now());
      const reply = await commands(client).setAsideKey(
        { key, target },
        { use, holder: token },
      );
      if (reply === 1) moved.push(`${key} set aside at ${target}`);
    }
  } catch {
    return error; // the damage stays reported as it was found
  }
  if (moved.length === 0) return error;
  return new ExecutionGuardError(
    `${error.message}; damaged ${moved.join(", ")}`,
    { kind: ExecutionGuardErrorKind.Data, cause: error },
  );
}

/**
 * Sets aside every in-flight record of `hash` that `decode` throws on;
 * answers the error that reports the first (or, when another instance set
 * them aside first, an error saying so).
 */
export async function setAsideUndecodable(
  client: ValkeyClient,
  options: {
    keys: ValkeyKeys;
    jobId: string;
    /** Throws on a damaged record (`field`: its field in the hash). */
    decode: (value: string, field: string) => unknown;
  },
): Promise<ExecutionGuardError> {
  const { keys, jobId } = options;
  const hash = keys.inFlight(jobId);
  const all = await client.hgetall(hash);
  let first: ExecutionGuardError | undefined;
  for (const [field, value] of Object.entries(all)) {
    try {
      options.decode(value, field);
      continue;
    } catch {
      // damaged: set aside below
    }
    first ??= await setAsideRecord(client, {
      keys,
      jobId,
      field,
      value,
      reason: "does not decode",
    });
  }
  return first ?? new ExecutionGuardError(
    `an in-flight record of job ${
      JSON.stringify(jobId)
    } in ${hash} did not decode and was set aside by another instance`,
    { kind: ExecutionGuardErrorKind.Data },
  );
}

/**
 * Moves the in-flight record `field` of `hash` (holding `value`, which
 * does not decode) to the job's quarantine hash; answers the error to
 * report, naming both.
 */
async function setAsideRecord(
  client: ValkeyClient,
  options: {
    keys: ValkeyKeys;
    jobId: string;
    field: string;
    value: string;
    reason: string;
  },
): Promise<ExecutionGuardError> {
  const { keys, jobId, field, value, reason } = options;
  const hash = keys.inFlight(jobId);
  const target = keys.quarantineInFlight(jobId);
  const at = `${field} ${Date.now()}`;
  const reply = await commands(client).setAsideField(
    { inFlight: hash, target },
    { field, value, aside: at },
  );
  const where = reply === 1
    ? `set aside in ${target} field ${JSON.stringify(at)}`
    : "changed meanwhile, left in place";
  return new ExecutionGuardError(
    `the in-flight record ${hash} field ${JSON.stringify(field)} of job ${
      JSON.stringify(jobId)
    } ${reason}: ${describeValue(value)} (${where})`,
    { kind: ExecutionGuardErrorKind.Data },
  );
}

/**
 * Moves the record of the occurrence at `field` (its timestamp), still held
 * by `holder`, to the job's quarantine hash if the occurrence's lease key
 * is another holder's done marker (an orphan). Answers the error to
 * report, or `undefined` when the record is no orphan.
 */
export async function setAsideOrphan(
  client: ValkeyClient,
  options: {
    keys: ValkeyKeys;
    jobId: string;
    field: string;
    holder: string;
  },
): Promise<ExecutionGuardError | undefined> {
  const { keys, jobId, field, holder } = options;
  const hash = keys.inFlight(jobId);
  const target = keys.quarantineInFlight(jobId);
  const at = `${field} ${Date.now()}`;
  const reply = await commands(client).setAsideOrphan(
    { lease: keys.lease(jobId, field), inFlight: hash, target },
    { field, holder, aside: at },
  );
  if (reply !== 1) return undefined;
  return new ExecutionGuardError(
    `the in-flight record ${hash} field ${JSON.stringify(field)} of job ${
      JSON.stringify(jobId)
    } is orphaned: its occurrence was completed by another holder (set aside in ${target} field ${
      JSON.stringify(at)
    })`,
    { kind: ExecutionGuardErrorKind.Data },
  );
}

/**
 * The error that reports the damaged ledger data a leased end
 * (`LEASED_END`, `_lua_leased.ts`) set aside: `damage` is what the script
 * answered after "saved" and the lease's flag.
 */
export function endDamage(options: {
  keys: ValkeyKeys;
  jobId: string;
  /** The record field (the occurrence's timestamp). */
  field: string;
  /** When the end ran (ms), as in the quarantine names it was given. */
  now: number;
  damage: unknown[];
}): ExecutionGuardError {
  const { keys, jobId, field, now, damage } = options;
  const [what, value, moved] = damage;
  const hash = keys.inFlight(jobId);
  const job = JSON.stringify(jobId);
  const message = what === "record"
    ? `the in-flight record ${hash} field ${
      JSON.stringify(field)
    } of job ${job} does not decode: ${describeValue(value)} (${
      moved === 1
        ? `set aside in ${keys.quarantineInFlight(jobId)} field ${
          JSON.stringify(`${field} ${now}`)
        }`
        : "left in place: the quarantine hash could not take it"
    })`
    : `WRONGTYPE the in-flight hash ${hash} of job ${job} holds a ${
      String(value)
    }, not a hash (${
      moved === 1
        ? `set aside at ${keys.quarantine(jobId, IN_FLIGHT_HASH_ASIDE, now)}`
        : "left in place"
    })`;
  return new ExecutionGuardError(`the run's state was saved; ${message}`, {
    kind: ExecutionGuardErrorKind.Data,
  });
}
