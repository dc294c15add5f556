/**
 * Damaged guard data on Valkey set aside, so that the next grant finds the
 * keys usable and the job goes on (docs/recovery.md): a damaged fencing
 * counter or lease key is renamed to
 * `<prefix><jobId>:quarantine:<what>:<movedAtMs>`, a damaged or orphaned
 * in-flight record moves to the hash `<prefix><jobId>:quarantine:in-flight`
 * (field `<timestamp> <movedAtMs>`). The errors that report it name the
 * key and where its value went.
 *
 * @module
 */

import { ExecutionGuardErrorKind } from "../constants.ts";
import { describeValue, ExecutionGuardError } from "../errors.ts";
import type { ValkeyClient } from "./_client.ts";

type Scripts = Record<
  string,
  (...args: (string | number)[]) => Promise<unknown>
>;

function scripts(client: ValkeyClient): Scripts {
  return client as unknown as Scripts;
}

/** The quarantine key of the job's `what` (a key's last part) at `now`. */
export function quarantineKey(
  prefix: string,
  jobId: string,
  what: string,
): string {
  return `${prefix}${jobId}:quarantine:${what}:${Date.now()}`;
}

/** The hash that keeps the job's set-aside in-flight records. */
export function quarantineHash(prefix: string, jobId: string): string {
  return `${prefix}${jobId}:quarantine:in-flight`;
}

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
    prefix: string;
    jobId: string;
    leaseKey: string;
    /** The failed grant's holder token. */
    token: string;
  },
): Promise<ExecutionGuardError> {
  const { error, prefix, jobId, leaseKey, token } = options;
  if (error.kind !== ExecutionGuardErrorKind.Data) return error;
  const moved: string[] = [];
  const candidates = [
    { key: `${prefix}${jobId}:fencing-token`, kind: "counter" },
    { key: leaseKey, kind: "lease" },
  ];
  try {
    for (const { key, kind } of candidates) {
      const what = key.slice(`${prefix}${jobId}:`.length);
      const target = quarantineKey(prefix, jobId, what);
      const reply = await scripts(client).schedulerSetAsideKey(
        key,
        target,
        kind,
        token,
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
    prefix: string;
    jobId: string;
    hash: string;
    decode: (value: string) => unknown;
  },
): Promise<ExecutionGuardError> {
  const { hash, jobId } = options;
  const all = await client.hgetall(hash);
  let first: ExecutionGuardError | undefined;
  for (const [field, value] of Object.entries(all)) {
    try {
      options.decode(value);
      continue;
    } catch {
      // damaged: set aside below
    }
    first ??= await setAsideRecord(client, {
      ...options,
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
    prefix: string;
    jobId: string;
    hash: string;
    field: string;
    value: string;
    reason: string;
  },
): Promise<ExecutionGuardError> {
  const { prefix, jobId, hash, field, value, reason } = options;
  const target = quarantineHash(prefix, jobId);
  const at = `${field} ${Date.now()}`;
  const reply = await scripts(client).schedulerSetAsideField(
    hash,
    target,
    field,
    value,
    at,
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
 * Moves the record of `leaseKey`'s occurrence in `hash`, still held by `holder`, to the job's
 * quarantine hash if the occurrence's lease key is another holder's done
 * marker (an orphan). Answers the error to report, or `undefined` when the
 * record is no orphan.
 */
export async function setAsideOrphan(
  client: ValkeyClient,
  options: {
    prefix: string;
    jobId: string;
    hash: string;
    leaseKey: string;
    holder: string;
  },
): Promise<ExecutionGuardError | undefined> {
  const { prefix, jobId, hash, leaseKey, holder } = options;
  const field = leaseKey.slice(`${prefix}${jobId}:`.length);
  const target = quarantineHash(prefix, jobId);
  const at = `${field} ${Date.now()}`;
  const reply = await scripts(client).schedulerSetAsideOrphan(
    leaseKey,
    hash,
    target,
    field,
    holder,
    at,
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
