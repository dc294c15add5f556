/**
 * The Lua scripts that set damaged guard data aside on Valkey, each one
 * atomic command, apart from the granting scripts (`_lua_lease.ts`,
 * `_lua_in_flight.ts`): those stay as they are, and these run only after
 * one of them failed on damaged data (see `_quarantine.ts` and
 * docs/recovery.md). Every key is passed in KEYS and built by
 * `_key_layout.ts`, so with the `"cluster"` layout a RENAME stays in the
 * job's slot. Registered with their key counts in `_commands.ts`.
 *
 * @module
 */

import { LEASE_VALUE, OWN_GRANT } from "./_lua_lib.ts";

/**
 * Renames a key damaged for its use: a `counter` must be a string of at
 * most 19 digits below 2^63 - 1 (so that INCR works), a `lease` must be a
 * string that `lease_value` (`_lua_lib.ts`) does not find damaged and,
 * holding a holder's token, with an expiry a grant sets (`expiry_damage`), an
 * in-flight `hash` must be a hash. A lease key holding the
 * caller's token (a grant whose reply was unreadable; without a record,
 * `lease-<the caller's acquire id>-<token>`) is taken back instead,
 * so that the occurrence can be granted again.
 */
export const SET_ASIDE_KEY: string = `${LEASE_VALUE}${OWN_GRANT}
-- KEYS[1] the key (fencing counter or lease key), KEYS[2] its quarantine key
-- ARGV[1] "counter" | "lease" | "hash" (an in-flight hash), ARGV[2] the
-- failed grant's holder token
-- returns 1 when moved, 2 when the caller's own lease was deleted, else 0
local key, target = KEYS[1], KEYS[2]
local use, holder = ARGV[1], ARGV[2]
local kind = redis.call("TYPE", key).ok
if kind == "none" then return 0 end
if kind == "string" and use == "lease" and holder ~= "" then
  local value = redis.call("GET", key)
  if value == holder or own_recordless(value, holder) ~= nil then
    redis.call("DEL", key)
    return 2
  end
end
local damaged = kind ~= "string"
if use == "hash" then damaged = kind ~= "hash" end
if not damaged and use == "lease" then
  local value = redis.call("GET", key)
  damaged = lease_value(value) == "damaged" or
    expiry_damage(key, value) ~= nil
end
if not damaged and use == "counter" then
  local v = redis.call("GET", key)
  damaged = not string.match(v, "^[0-9]+$") or #v > 19 or
    (#v == 19 and v >= "9223372036854775807")
end
if not damaged then return 0 end
redis.call("RENAME", key, target)
return 1`;

/**
 * Moves an in-flight record that does not decode to the job's quarantine
 * hash, if it still holds the damaged value the client read.
 */
export const SET_ASIDE_FIELD: string = `
-- KEYS[1] in-flight hash, KEYS[2] quarantine hash
-- ARGV[1] record field, ARGV[2] the damaged value read, ARGV[3] field in the quarantine hash
-- returns 1 when moved, else 0 (changed meanwhile)
local hashKey, target = KEYS[1], KEYS[2]
local field, value, aside = ARGV[1], ARGV[2], ARGV[3]
if redis.call("HGET", hashKey, field) ~= value then return 0 end
redis.call("HSET", target, aside, value)
redis.call("HDEL", hashKey, field)
return 1`;

/**
 * An orphaned in-flight record: it still names its holder, but the lease
 * key is another holder's done marker (the occurrence was completed), so
 * no reclaim would ever take it. Moves it to the job's quarantine hash.
 */
export const SET_ASIDE_ORPHAN: string = `
-- KEYS[1] lease key, KEYS[2] in-flight hash, KEYS[3] quarantine hash
-- ARGV[1] record field, ARGV[2] the record's holder, ARGV[3] field in the quarantine hash
-- returns 1 when moved, else 0 (no orphan)
local leaseKey, hashKey, target = KEYS[1], KEYS[2], KEYS[3]
local field, holder, aside = ARGV[1], ARGV[2], ARGV[3]
local record = redis.call("HGET", hashKey, field)
if not record then return 0 end
local ok, decoded = pcall(cjson.decode, record)
if not ok or type(decoded) ~= "table" or decoded.holder ~= holder then
  return 0
end
if redis.call("TYPE", leaseKey).ok ~= "string" then return 0 end
local current = redis.call("GET", leaseKey)
if string.sub(current, 1, 5) ~= "done:" or current == "done:" .. holder then
  return 0
end
redis.call("HSET", target, aside, record)
redis.call("HDEL", hashKey, field)
return 1`;
