/**
 * Lua fragments shared by the Valkey guard's acquire and the in-flight
 * ledger's acquire and reclaim, so that every grant of a lease applies the
 * same rules.
 *
 * @module
 */

/**
 * Lua: answers contended (nil) unless the lease key KEYS[1] is absent. A
 * done marker or another holder's token is contended; any string may be a
 * holder's token (Rust instances write their own), but a key of another
 * type holds no lease at all: that is reported, not taken for contention.
 */
export const LEASE_KEY_FREE = `
local held = redis.call("TYPE", KEYS[1]).ok
if held == "string" then return false end
if held ~= "none" then
  return redis.error_reply("WRONGTYPE the lease key holds a " .. held .. ", not a lease")
end`;

/**
 * Lua: the next fencing token of the counter KEYS[2], as text in `fence`,
 * and what the counter was in `found` ("present", "absent" or "behind").
 * The counter never goes back: an absent counter (a server restarted empty)
 * starts from the server's time in microseconds, and a counter below the
 * highest token this client has seen (`ARGV[floorArg]`) is raised to it.
 * The token is read back with GET, as text: Lua numbers are doubles and
 * would round tokens beyond 2^53.
 */
export function nextFenceLua(floorArg: number): string {
  return `
local function above(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
local counter = redis.call("GET", KEYS[2])
local found = "present"
if counter == false then
  local time = redis.call("TIME")
  counter = time[1] .. string.format("%06d", tonumber(time[2]))
  found = "absent"
end
if above(ARGV[${floorArg}], counter) then
  counter = ARGV[${floorArg}]
  if found == "present" then found = "behind" end
end
if found ~= "present" then redis.call("SET", KEYS[2], counter) end
redis.call("INCR", KEYS[2])
local fence = redis.call("GET", KEYS[2])`;
}
