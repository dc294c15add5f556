/**
 * The Lua scripts of the Valkey guard's lease commands: acquire (with the
 * fencing token), renew and release, each one atomic command.
 *
 * @module
 */

import { LEASE_KEY_FREE, nextFenceLua } from "./_lua_fencing.ts";
import type { ValkeyClient } from "./_client.ts";

/**
 * Takes the occurrence if its key is free (see `LEASE_KEY_FREE`): allots
 * the next fencing token (see `nextFenceLua`; ARGV[3] is the floor) and sets
 * the key to the holder's token with a millisecond expiry. Answers
 * {token, "present" | "absent" | "behind"}.
 */
const ACQUIRE = `${LEASE_KEY_FREE}${nextFenceLua(3)}
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
return {fence, found}`;

/** Extends the lease only while it still holds the caller's token. */
const RENEW = `
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`;

/**
 * Turns the caller's lease into a done marker kept for the retention (the
 * key stays, so a Rust instance's SET NX also sees the occurrence taken), or
 * deletes it when the retention is 0. A lease that expired while its run
 * was finishing is marked done too; someone else's key is left alone.
 */
export const RELEASE = `
local current = redis.call("GET", KEYS[1])
if current ~= false and current ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) > 0 then
  redis.call("SET", KEYS[1], "done:" .. ARGV[1], "PX", ARGV[2])
else
  redis.call("DEL", KEYS[1])
end
return 1`;

/** Registers the lease commands on a client. */
export function defineLeaseCommands(client: ValkeyClient): void {
  client.defineCommand("schedulerAcquire", { numberOfKeys: 2, lua: ACQUIRE });
  client.defineCommand("schedulerRenew", { numberOfKeys: 1, lua: RENEW });
  client.defineCommand("schedulerRelease", { numberOfKeys: 1, lua: RELEASE });
}
