/**
 * The in-flight ledger of the Valkey guard (at-least-once delivery). Each
 * operation is one Lua script, sent as one command.
 *
 * Keys (beside the Rust-compatible lease keys `<prefix><jobId>:<ts>` and the
 * fencing counter `<prefix><jobId>:fencing-token`): one hash per job,
 * `<prefix><jobId>:in-flight`, whose fields are the occurrences' timestamps
 * (RFC 3339 UTC, nine fractional digits, as in the lease keys) and whose
 * values are JSON records `{"job_id","scheduled_at","trigger_count",
 * "catch_up","fencing_token","holder","lease_deadline_ms"}`. A Rust instance
 * never reads that hash; it sees held and done occurrences through the lease
 * keys as before.
 *
 * @module
 */

import { formatRfc3339, parseRfc3339 } from "../schedule/_rfc3339.ts";
import { ExecutionGuardErrorKind } from "../constants.ts";
import { describeValue, ExecutionGuardError, isInstance } from "../errors.ts";
import {
  setAsideGrantKeys,
  setAsideOrphan,
  setAsideUndecodable,
} from "./_quarantine.ts";
import type { ExecutionGuardAcquire, ExecutionLease } from "../guard/lease.ts";
import type { GuardCall } from "./_guard_errors.ts";
import { LEASE_KEY_FREE, nextFenceLua } from "./_lua_fencing.ts";
import type {
  InFlightLedger,
  InFlightRecord,
  InFlightSlot,
} from "../guard/in_flight.ts";
import type { ResolvedLeaseConfig } from "../guard/lease_config.ts";
import { requireSlot } from "../guard/lease_config.ts";
import type { ValkeyClient } from "./_client.ts";

/** The server's clock in ms (the lease expiries run on it). */
const SERVER_NOW = `
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * The in-flight record's tail, written with the new lease: the token (text,
 * exact beyond 2^53), the holder (ARGV[1]) and its lease deadline (ttl
 * ARGV[2] from the server's clock). `head` names the ARGV with the record's
 * JSON head.
 */
function recordWrite(head: number): string {
  return `
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])${SERVER_NOW}
redis.call("HSET", KEYS[3], ARGV[3], ARGV[${head}] .. ',"fencing_token":"' ..
  fence .. '","holder":"' .. ARGV[1] ..
  '","lease_deadline_ms":' .. string.format("%d", now + tonumber(ARGV[2])) .. '}')
return {fence, found}`;
}

/**
 * The guard's acquire (contended on a held or done key; else the next
 * fencing token, never below this client's floor, and the lease), plus the
 * in-flight record in the same step. ARGV: token, ttl, field, the record's
 * JSON head (`{"job_id":...` up to the fields the script adds), the floor.
 * Answers like the guard's acquire. Repeated after a lost reply, it finds
 * its own lease and answers contended: the occurrence is never run twice.
 */
const ACQUIRE = `${LEASE_KEY_FREE}${nextFenceLua(5)}${recordWrite(4)}`;

/**
 * The guard's release script (done marker for the retention, or delete:
 * KEYS[1], ARGV[1] token, ARGV[2] retention), preceded by the record cleared
 * if this holder still owns it (KEYS[2], ARGV[3] field).
 */
function completeScript(release: string): string {
  return `
local record = redis.call("HGET", KEYS[2], ARGV[3])
if record and cjson.decode(record).holder == ARGV[1] then
  redis.call("HDEL", KEYS[2], ARGV[3])
end${release}`;
}

/** Ends the caller's lease without a done marker; the record stays. */
const ABANDON = `
if redis.call("GET", KEYS[1]) == ARGV[1] then redis.call("DEL", KEYS[1]) end
return 1`;

/**
 * Every record with the remaining time of its holder's lease (PTTL while the
 * lease key still holds the holder's token, else 0). ARGV: the job's lease
 * key prefix `<prefix><jobId>:`. A record that does not decode is handed
 * back as it is, for the client to report as a data error.
 */
const LIST = `
local all = redis.call("HGETALL", KEYS[1])
local out = {}
for i = 1, #all, 2 do
  local key = ARGV[1] .. all[i]
  local remaining = 0
  local ok, record = pcall(cjson.decode, all[i + 1])
  if ok and type(record) == "table" and redis.call("GET", key) == record.holder then
    remaining = redis.call("PTTL", key)
    if remaining < 0 then remaining = 0 end
  end
  out[#out + 1] = all[i + 1]
  out[#out + 1] = remaining
end
return out`;

/**
 * Takes over a record still held by ARGV[4] whose lease key no longer holds
 * that token (expired): next fencing token, new lease, record rewritten.
 * ARGV: new token, ttl, field, expected holder, the record's JSON head, the
 * floor. Repeated after a lost reply, it finds the record rewritten for the
 * new holder and answers contended.
 */
const RECLAIM = `
local record = redis.call("HGET", KEYS[3], ARGV[3])
if not record or cjson.decode(record).holder ~= ARGV[4] then return false end
local current = redis.call("GET", KEYS[1])
if current == ARGV[4] then return false end
if current ~= false then
  if current == "done:" .. ARGV[4] then redis.call("HDEL", KEYS[3], ARGV[3]) end
  return false
end${nextFenceLua(6)}${recordWrite(5)}`;

type Scripted = Record<
  string,
  (...args: (string | number)[]) => Promise<unknown>
>;

/**
 * Registers the ledger's scripts on a client; `release` is the guard's
 * release script, which completing a run also carries out.
 */
export function defineInFlightCommands(
  client: ValkeyClient,
  release: string,
): void {
  client.defineCommand("schedulerInFlightAcquire", {
    numberOfKeys: 3,
    lua: ACQUIRE,
  });
  client.defineCommand("schedulerInFlightComplete", {
    numberOfKeys: 2,
    lua: completeScript(release),
  });
  client.defineCommand("schedulerInFlightAbandon", {
    numberOfKeys: 1,
    lua: ABANDON,
  });
  client.defineCommand("schedulerInFlightList", {
    numberOfKeys: 1,
    lua: LIST,
  });
  client.defineCommand("schedulerInFlightReclaim", {
    numberOfKeys: 3,
    lua: RECLAIM,
  });
}

/** What the ledger needs from its guard. */
export interface ValkeyLedgerOptions {
  readonly lease: ResolvedLeaseConfig;
  readonly prefix: string;
  /** Runs a script on the guard's client, retried, failures typed. */
  readonly call: <T>(
    call: Omit<GuardCall, "client">,
    body: (client: ValkeyClient) => Promise<T>,
  ) => Promise<T>;
  /** The highest fencing token the guard has seen for `jobId`. */
  readonly floor: (jobId: string) => bigint;
  /** The guard's answer to a granting script's reply. */
  readonly granted: (
    reply: unknown,
    lease: Omit<ExecutionLease, "fencingToken">,
  ) => ExecutionGuardAcquire;
}

function head(slot: InFlightSlot, at: string): string {
  return `{"job_id":${JSON.stringify(slot.jobId)},"scheduled_at":"${at}",` +
    `"trigger_count":${slot.triggerCount},"catch_up":${slot.catchUp}`;
}

/** The Valkey guard's in-flight ledger. */
export class ValkeyInFlightLedger implements InFlightLedger {
  readonly #options: ValkeyLedgerOptions;

  constructor(options: ValkeyLedgerOptions) {
    this.#options = options;
  }

  /** Acquire plus the record, in one script. */
  async acquire(slot: InFlightSlot): Promise<ExecutionGuardAcquire> {
    const scheduledAt = requireSlot(slot);
    const at = formatRfc3339(scheduledAt.getTime(), 9);
    const token = crypto.randomUUID();
    const leaseKey = this.#leaseKey(slot.jobId, at);
    const lease = { jobId: slot.jobId, scheduledAt, token, leaseKey };
    return await this.#granting("acquire", lease, [
      leaseKey,
      this.#fenceKey(slot.jobId),
      this.#hashKey(slot.jobId),
      token,
      this.#options.lease.ttlMs,
      at,
      head(slot, at),
      String(this.#options.floor(slot.jobId)),
    ]);
  }

  /** Release plus the record cleared, in one script. */
  async complete(lease: ExecutionLease): Promise<void> {
    const at = formatRfc3339(lease.scheduledAt.getTime(), 9);
    await this.#call("complete", lease.jobId, "Complete", [
      lease.leaseKey,
      this.#hashKey(lease.jobId),
      lease.token,
      this.#options.lease.completedRetentionMs,
      at,
    ]);
  }

  /** Ends the lease (no done marker) and keeps the record, in one script. */
  async abandon(lease: ExecutionLease): Promise<void> {
    await this.#call("release", lease.jobId, "Abandon", [
      lease.leaseKey,
      lease.token,
    ]);
  }

  /** The job's records with their leases' remaining time, oldest first. */
  async list(jobId: string): Promise<InFlightRecord[]> {
    const reply = await this.#call("list", jobId, "List", [
      this.#hashKey(jobId),
      `${this.#options.prefix}${jobId}:`,
    ]);
    if (!Array.isArray(reply) || reply.length % 2 !== 0) {
      throw this.#corrupt(jobId, reply);
    }
    const records: InFlightRecord[] = [];
    try {
      for (let i = 0; i < reply.length; i += 2) {
        records.push(this.#decode(jobId, reply[i], Number(reply[i + 1])));
      }
    } catch {
      throw await this.#setAsideUndecodable(jobId);
    }
    return records.sort((a, b) =>
      a.scheduledAt.getTime() - b.scheduledAt.getTime()
    );
  }

  /** Takes over an expired record, in one script. */
  async reclaim(record: InFlightRecord): Promise<ExecutionGuardAcquire> {
    const at = formatRfc3339(record.scheduledAt.getTime(), 9);
    const token = crypto.randomUUID();
    const leaseKey = this.#leaseKey(record.jobId, at);
    const { jobId, scheduledAt } = record;
    const lease = { jobId, scheduledAt, token, leaseKey };
    return await this.#granting("reclaim", lease, [
      leaseKey,
      this.#fenceKey(record.jobId),
      this.#hashKey(record.jobId),
      token,
      this.#options.lease.ttlMs,
      at,
      record.holder,
      head(record, at),
      String(this.#options.floor(record.jobId)),
    ], record.holder);
  }

  /**
   * A granting script (acquire, reclaim); on a data error, the damaged
   * counter or lease key is set aside, and a reclaim that finds the record
   * orphaned sets it aside (see _quarantine.ts).
   */
  async #granting(
    operation: "acquire" | "reclaim",
    lease: Omit<ExecutionLease, "fencingToken">,
    args: (string | number)[],
    holder?: string,
  ): Promise<ExecutionGuardAcquire> {
    const { prefix } = this.#options;
    const { jobId, leaseKey, token } = lease;
    const aside = <T>(body: (client: ValkeyClient) => Promise<T>) =>
      this.#options.call({ operation, jobId }, body);
    let answer: ExecutionGuardAcquire;
    try {
      const command = operation === "acquire" ? "Acquire" : "Reclaim";
      const reply = await this.#call(operation, jobId, command, args);
      answer = this.#options.granted(reply, lease);
    } catch (error) {
      if (!isInstance(error, ExecutionGuardError)) throw error;
      throw await aside((client) =>
        setAsideGrantKeys(client, { error, prefix, jobId, leaseKey, token })
      );
    }
    if (answer.kind !== "contended" || holder === undefined) return answer;
    // A contended reclaim, or an orphan that would stay contended for ever.
    const hash = this.#hashKey(jobId);
    const orphan = await aside((client) =>
      setAsideOrphan(client, { prefix, jobId, hash, leaseKey, holder })
    );
    if (orphan !== undefined) throw orphan;
    return answer;
  }

  /** Sets aside the job's records that do not decode (see _quarantine.ts). */
  #setAsideUndecodable(jobId: string): Promise<ExecutionGuardError> {
    return this.#options.call(
      { operation: "list", jobId },
      (client) =>
        setAsideUndecodable(client, {
          prefix: this.#options.prefix,
          jobId,
          hash: this.#hashKey(jobId),
          decode: (value) => this.#decode(jobId, value, 0),
        }),
    );
  }

  #call(
    operation: string,
    jobId: string,
    command: string,
    args: (string | number)[],
  ): Promise<unknown> {
    return this.#options.call(
      { operation, jobId },
      (client) =>
        (client as unknown as Scripted)[`schedulerInFlight${command}`](
          ...args,
        ),
    );
  }

  #decode(jobId: string, text: unknown, remaining: number): InFlightRecord {
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(String(text));
    } catch {
      throw this.#corrupt(jobId, text);
    }
    const scheduledAt = typeof value?.scheduled_at === "string"
      ? parseRfc3339(value.scheduled_at)
      : undefined;
    if (
      value?.job_id !== jobId || scheduledAt === undefined ||
      !Number.isSafeInteger(value.trigger_count) ||
      typeof value.catch_up !== "boolean" ||
      typeof value.holder !== "string" ||
      typeof value.fencing_token !== "string" ||
      !/^\d+$/.test(value.fencing_token) ||
      typeof value.lease_deadline_ms !== "number" ||
      !Number.isFinite(remaining)
    ) {
      throw this.#corrupt(jobId, text);
    }
    return {
      jobId,
      scheduledAt: new Date(scheduledAt),
      triggerCount: value.trigger_count as number,
      catchUp: value.catch_up,
      holder: value.holder,
      fencingToken: BigInt(value.fencing_token),
      leaseDeadline: new Date(value.lease_deadline_ms),
      remainingMs: Math.max(0, remaining),
    };
  }

  #corrupt(jobId: string, value: unknown): ExecutionGuardError {
    return new ExecutionGuardError(
      `an in-flight record of job ${JSON.stringify(jobId)} is corrupt: ${
        describeValue(value)
      }`,
      { kind: ExecutionGuardErrorKind.Data },
    );
  }

  #leaseKey(jobId: string, at: string): string {
    return `${this.#options.prefix}${jobId}:${at}`;
  }

  #fenceKey(jobId: string): string {
    return `${this.#options.prefix}${jobId}:fencing-token`;
  }

  #hashKey(jobId: string): string {
    return `${this.#options.prefix}${jobId}:in-flight`;
  }
}
