/**
 * The Lua scripts of the Valkey in-flight ledger (at-least-once delivery):
 * acquire with its record, complete, abandon, the leases behind listed
 * records, and reclaim, each one atomic command. A record is a JSON object
 * in the job's hash (see `_in_flight_ledger.ts`); the script writes its
 * tail, which only the server knows (the token, the lease deadline).
 *
 * @module
 */

import { LEASE_FREE, LEASE_VALUE, NEXT_FENCE, OWN_GRANT } from "./_lua_lib.ts";
import { RELEASE_FUNCTION } from "./_lua_lease.ts";
import { LATEST_LEASE_END_MS } from "../guard/lease_config.ts";

/**
 * `grant(leaseKey, hashKey, grant)`: sets the lease to the holder's token
 * for the ttl and writes the occurrence's record: the JSON head the client
 * built, then the fencing token (as text: exact beyond 2^53), the holder
 * and its lease deadline on the server's clock (ms).
 */
const GRANT = `
local function grant(leaseKey, hashKey, g)
  redis.call("SET", leaseKey, g.holder, "PX", g.ttlMs)
  local t = redis.call("TIME")
  local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call("HSET", hashKey, g.field, g.head .. ',"fencing_token":"' ..
    g.fence .. '","holder":"' .. g.holder .. '","lease_deadline_ms":' ..
    string.format("%d", nowMs + tonumber(g.ttlMs)) .. '}')
end`;

/**
 * The guard's acquire plus the in-flight record, in one step. A retry of
 * the same acquire (same holder token) that finds its lease and record
 * gets the same grant back (see `OWN_GRANT`).
 */
export const IN_FLIGHT_ACQUIRE: string = `
-- KEYS[1] lease key, KEYS[2] fencing counter, KEYS[3] in-flight hash
-- ARGV[1] holder token, ARGV[2] ttl (ms), ARGV[3] record field (timestamp),
-- ARGV[4] the record's JSON head ('{"job_id":...,"catch_up":...'), ARGV[5] floor
-- returns nil when contended, {"unrecognised", value} when an unrecognised
-- value takes the key, else {token digits, "present" | "absent" | "behind"}
local leaseKey, fenceKey, hashKey = KEYS[1], KEYS[2], KEYS[3]
local holder, ttlMs, field, head, floor = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
${LEASE_FREE}${NEXT_FENCE}${GRANT}${OWN_GRANT}
local free, value = lease_free(leaseKey)
if free == false and value == holder then
  local fence = own_record(hashKey, field, holder)
  if fence ~= nil then return regranted(leaseKey, value, fence, ttlMs) end
end
if free ~= true then return free end
local fence, found = next_fence(fenceKey, floor)
grant(leaseKey, hashKey, {holder = holder, ttlMs = ttlMs, field = field, head = head, fence = fence})
return {fence, found}`;

/** The guard's release, with the record cleared if the caller owns it. */
export const IN_FLIGHT_COMPLETE: string = `
-- KEYS[1] lease key, KEYS[2] in-flight hash
-- ARGV[1] holder token, ARGV[2] retention of the done marker (ms; 0 deletes),
-- ARGV[3] record field
-- returns 1 when released, 0 when the lease key is someone else's
local leaseKey, hashKey = KEYS[1], KEYS[2]
local holder, retentionMs, field = ARGV[1], ARGV[2], ARGV[3]
${RELEASE_FUNCTION}
local record = redis.call("HGET", hashKey, field)
if record and cjson.decode(record).holder == holder then
  redis.call("HDEL", hashKey, field)
end
return release(leaseKey, holder, retentionMs)`;

/** Ends the caller's lease without a done marker; the record stays. */
export const IN_FLIGHT_ABANDON: string = `
-- KEYS[1] lease key
-- ARGV[1] holder token
-- returns 1
local leaseKey = KEYS[1]
local holder = ARGV[1]
if redis.call("GET", leaseKey) == holder then redis.call("DEL", leaseKey) end
return 1`;

/**
 * The remaining time of each listed record's lease: PTTL while the lease
 * key still holds the record's holder, else 0. An expiry no grant sets (none
 * at all, or beyond the longest lease) counts as run out too, so that the
 * reclaim looks at the key at once and sets it aside (`IN_FLIGHT_RECLAIM`)
 * instead of a recheck years away.
 */
export const IN_FLIGHT_LEASES: string = `
-- KEYS[1..n] the records' lease keys
-- ARGV[1..n] the records' holders (in the same order)
-- returns {remaining ms, ...} in the same order
local LATEST_EXPIRY_MS = ${LATEST_LEASE_END_MS}
local remaining = {}
for i = 1, #KEYS do
  local ms = 0
  if redis.call("GET", KEYS[i]) == ARGV[i] then
    ms = redis.call("PTTL", KEYS[i])
    if ms < 0 or ms > LATEST_EXPIRY_MS then ms = 0 end
  end
  remaining[i] = ms
end
return remaining`;

/**
 * Takes over a record still held by the expected holder whose lease key no
 * longer holds that token (expired): next fencing token, new lease, record
 * rewritten. A done marker of that holder clears the record instead; a
 * damaged lease value, or a holder's token whose key has an expiry no grant
 * sets (`expiry_damage` in `_lua_lib.ts`), is raised, to be set aside
 * (`_quarantine.ts`).
 * Repeated after a lost reply, it finds the record rewritten for the new
 * holder and its lease, and answers the same grant again (see `OWN_GRANT`).
 */
export const IN_FLIGHT_RECLAIM: string = `
-- KEYS[1] lease key, KEYS[2] fencing counter, KEYS[3] in-flight hash
-- ARGV[1] new holder token, ARGV[2] ttl (ms), ARGV[3] record field,
-- ARGV[4] expected holder, ARGV[5] the record's JSON head, ARGV[6] floor
-- returns nil when not reclaimable, else {token digits, "present" | "absent" | "behind"}
local leaseKey, fenceKey, hashKey = KEYS[1], KEYS[2], KEYS[3]
local holder, ttlMs, field, expected, head, floor =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
${LEASE_VALUE}${NEXT_FENCE}${GRANT}${OWN_GRANT}
local record = redis.call("HGET", hashKey, field)
if not record then return false end
local recordHolder = cjson.decode(record).holder
if recordHolder == holder then
  if redis.call("GET", leaseKey) ~= holder then return false end
  local fence = own_record(hashKey, field, holder)
  if fence == nil then return false end
  return regranted(leaseKey, holder, fence, ttlMs)
end
if recordHolder ~= expected then return false end
local current = redis.call("GET", leaseKey)
if current ~= false then
  if current == "done:" .. expected then redis.call("HDEL", hashKey, field) end
  -- A damaged value, or a holder's token kept for ever, would keep the
  -- record from ever being reclaimed.
  if lease_value(current) == "damaged" then damaged_lease(current) end
  local why = expiry_damage(leaseKey, current)
  if why then damaged_expiry(current, why) end
  return false
end
local fence, found = next_fence(fenceKey, floor)
grant(leaseKey, hashKey, {holder = holder, ttlMs = ttlMs, field = field, head = head, fence = fence})
return {fence, found}`;
