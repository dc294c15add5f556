/**
 * The Lua script of the Valkey state store's compare-and-set save
 * (registered in `_commands.ts`; used by `_state_writes.ts`).
 *
 * @module
 */

/**
 * Writes the new text if the key still holds what the caller merged over.
 * The compared value is the JSON text itself: the value stays the Rust
 * crate's JSON, with no version field added.
 */
export const COMPARE_AND_SET: string = `
-- KEYS[1] state key
-- ARGV[1] "0" = the caller saw the key absent, "1" = it saw ARGV[2],
-- ARGV[2] the text the caller merged over, ARGV[3] the new text
-- returns 1 when written; else what the key holds now (a string), or 0 when absent
local stateKey = KEYS[1]
local sawPresent, seen, text = ARGV[1] == "1", ARGV[2], ARGV[3]
local current = redis.call("GET", stateKey)
if (current == false and not sawPresent) or (current ~= false and sawPresent and current == seen) then
  redis.call("SET", stateKey, text)
  return 1
end
if current == false then return 0 end
return current`;
