/**
 * The Lua scripts of the Valkey guard's lease commands: acquire (with the
 * fencing token), renew and release, each one atomic command. Registered
 * with their key counts in `_commands.ts`.
 *
 * @module
 */

import { LEASE_FREE, NEXT_FENCE, OWN_GRANT } from "./_lua_lib.ts";

/**
 * Takes the occurrence if its lease key is free: allots the next fencing
 * token and sets the key to `lease-<acquire id>-<token>` with a
 * millisecond expiry. A retry of the same acquire (same id) that finds
 * that value gets the same grant back (see `OWN_GRANT`).
 */
export const ACQUIRE: string = `
-- KEYS[1] lease key, KEYS[2] fencing counter
-- ARGV[1] acquire id (20 digits), ARGV[2] ttl (ms), ARGV[3] floor (digits)
-- returns nil when contended, {"unrecognised", value} when an unrecognised
-- value takes the key, else {token digits, "present" | "absent" | "behind"}
local leaseKey, fenceKey = KEYS[1], KEYS[2]
local id, ttlMs, floor = ARGV[1], ARGV[2], ARGV[3]
${LEASE_FREE}${NEXT_FENCE}${OWN_GRANT}
local free, value = lease_free(leaseKey)
if free == false then
  local fence = own_recordless(value, id)
  if fence == nil then return false end
  return regranted(leaseKey, value, fence, ttlMs)
end
if free ~= true then return free end
local fence, found = next_fence(fenceKey, floor)
redis.call("SET", leaseKey, recordless_holder(id, fence), "PX", ttlMs)
return {fence, found}`;

/** Extends the lease only while it still holds the caller's token. */
export const RENEW: string = `
-- KEYS[1] lease key
-- ARGV[1] holder token, ARGV[2] ttl (ms)
-- returns 1 when renewed, 0 when the lease is no longer the caller's
local leaseKey = KEYS[1]
local holder, ttlMs = ARGV[1], ARGV[2]
if redis.call("GET", leaseKey) == holder then
  return redis.call("PEXPIRE", leaseKey, ttlMs)
end
return 0`;

/**
 * `release(leaseKey, holder, retentionMs)`: turns the caller's lease into a
 * done marker kept for the retention (the key stays, so a Rust instance's
 * SET NX also sees the occurrence taken), or deletes it when the retention
 * is 0. A lease that expired while its run was finishing is marked done
 * too; someone else's key is left alone. Returns 1, or 0 for someone
 * else's key. Shared with the in-flight ledger's complete.
 */
export const RELEASE_FUNCTION: string = `
local function release(leaseKey, holder, retentionMs)
  local current = redis.call("GET", leaseKey)
  if current ~= false and current ~= holder then return 0 end
  if tonumber(retentionMs) > 0 then
    redis.call("SET", leaseKey, "done:" .. holder, "PX", retentionMs)
  else
    redis.call("DEL", leaseKey)
  end
  return 1
end`;

/** Marks the occurrence done if the caller still holds it. */
export const RELEASE: string = `
-- KEYS[1] lease key
-- ARGV[1] holder token, ARGV[2] retention of the done marker (ms; 0 deletes)
-- returns 1 when released, 0 when the key is someone else's
local leaseKey = KEYS[1]
local holder, retentionMs = ARGV[1], ARGV[2]
${RELEASE_FUNCTION}
return release(leaseKey, holder, retentionMs)`;
