/**
 * Lua scripts that set damaged guard data aside on Valkey, each one atomic
 * command, apart from the granting scripts (`_lua_lease.ts`,
 * `_in_flight_ledger.ts`): those stay as they are, and these run only after
 * one of them failed on damaged data (see `_quarantine.ts` and
 * docs/recovery.md).
 *
 * @module
 */

import type { ValkeyClient } from "./_client.ts";

/**
 * Renames KEYS[1] to KEYS[2] if it is damaged for its use ARGV[1]: a
 * `counter` must be a string of at most 19 digits below 2^63 - 1 (so that
 * INCR works), a `lease` must be a string (any string may be a Rust
 * holder's token). Answers 1 when it was moved, else 0; 2 when the lease
 * key held the caller's token ARGV[2] (a grant whose reply was unreadable
 * because of the damaged counter): that lease is taken back, so that the
 * occurrence can be granted again.
 */
const SET_ASIDE_KEY = `
local kind = redis.call("TYPE", KEYS[1]).ok
if kind == "none" then return 0 end
if kind == "string" and ARGV[1] == "lease" and ARGV[2] ~= "" and
    redis.call("GET", KEYS[1]) == ARGV[2] then
  redis.call("DEL", KEYS[1])
  return 2
end
local damaged = kind ~= "string"
if not damaged and ARGV[1] == "counter" then
  local v = redis.call("GET", KEYS[1])
  damaged = not string.match(v, "^[0-9]+$") or #v > 19 or
    (#v == 19 and v >= "9223372036854775807")
end
if not damaged then return 0 end
redis.call("RENAME", KEYS[1], KEYS[2])
return 1`;

/**
 * Moves the field ARGV[1] of the hash KEYS[1] to the field ARGV[3] of the
 * hash KEYS[2] if it still holds ARGV[2] (the damaged value the client
 * read). Answers 1 when it was moved, else 0.
 */
const SET_ASIDE_FIELD = `
if redis.call("HGET", KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call("HSET", KEYS[2], ARGV[3], ARGV[2])
redis.call("HDEL", KEYS[1], ARGV[1])
return 1`;

/**
 * An orphaned in-flight record: the field ARGV[1] of the hash KEYS[2] still
 * names the holder ARGV[2], but the lease key KEYS[1] is another holder's
 * done marker (the occurrence was completed). Moves the record to the field
 * ARGV[3] of the hash KEYS[3]; answers 1 when it was moved, else 0.
 */
const SET_ASIDE_ORPHAN = `
local record = redis.call("HGET", KEYS[2], ARGV[1])
if not record then return 0 end
local ok, decoded = pcall(cjson.decode, record)
if not ok or type(decoded) ~= "table" or decoded.holder ~= ARGV[2] then
  return 0
end
if redis.call("TYPE", KEYS[1]).ok ~= "string" then return 0 end
local current = redis.call("GET", KEYS[1])
if string.sub(current, 1, 5) ~= "done:" or current == "done:" .. ARGV[2] then
  return 0
end
redis.call("HSET", KEYS[3], ARGV[3], record)
redis.call("HDEL", KEYS[2], ARGV[1])
return 1`;

/** Registers the set-aside commands on a client. */
export function defineQuarantineCommands(client: ValkeyClient): void {
  client.defineCommand("schedulerSetAsideKey", {
    numberOfKeys: 2,
    lua: SET_ASIDE_KEY,
  });
  client.defineCommand("schedulerSetAsideField", {
    numberOfKeys: 2,
    lua: SET_ASIDE_FIELD,
  });
  client.defineCommand("schedulerSetAsideOrphan", {
    numberOfKeys: 3,
    lua: SET_ASIDE_ORPHAN,
  });
}
