/**
 * Lua functions the Valkey scripts share, so that every grant of a lease
 * (the guard's acquire, the in-flight acquire and reclaim, the store's
 * leased acquire) applies the same rules, and every state write the same
 * compare-and-set. Each is a function of its parameters; a script prepends
 * the ones it calls (see `_lua_lease.ts`, `_lua_in_flight.ts`,
 * `_lua_leased.ts`).
 *
 * @module
 */

import { LATEST_LEASE_END_MS, MAX_LEASE_MS } from "../guard/lease_config.ts";

/**
 * `lease_value(v)`: what a string in a lease key is. Only two writers put
 * strings there: this library (a `crypto.randomUUID()` holder token, or
 * `lease-<20-digit acquire id>-<token>` for a grant without an in-flight
 * record, then `done:<token>` once released) and the Rust crate (`lease-<unix
 * nanoseconds>-<counter>`, deleted on release). Those are "held". A value
 * that merely starts like one (`done:` or `lease-` with another tail: a
 * done marker of a writer we do not know, a Rust release whose token
 * differs) is "unrecognised": it may be a real holder, so it stays taken,
 * but it is reported. Anything else is "damaged" (docs/recovery.md).
 *
 * `expiry_damage(leaseKey, v)`: for a holder's token `v` (not a done
 * marker), why its key's expiry is one no grant sets: "no expiry" (a hand
 * `PERSIST`) or one further away than the longest lease (`MAX_LEASE_MS`,
 * 365 days) plus `DEADLINE_SKEW_MS` (a day: an expiry is replicated as an
 * instant, so a promoted replica whose clock is behind, or a wall clock
 * stepped back, reads a live lease's as longer than it was set); nil when
 * it is a lease's (one `PTTL`, only
 * on a key found taken). Such a key would hold the occurrence for ever:
 * `damaged_expiry` raises it as damaged, to be set aside
 * (`_quarantine.ts`). A done marker only says the occurrence ran, and is
 * left alone.
 */
export const LEASE_VALUE: string = `
local MAX_LEASE_MS = ${MAX_LEASE_MS}
local LATEST_EXPIRY_MS = ${LATEST_LEASE_END_MS}
local function lease_token(t)
  return string.match(t, "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$") ~= nil
    or string.match(t, "^lease%-[0-9]+%-[0-9]+$") ~= nil
end
local function lease_value(v)
  if lease_token(v) then return "held" end
  if string.sub(v, 1, 5) == "done:" then
    if lease_token(string.sub(v, 6)) then return "held" end
    return "unrecognised"
  end
  if string.sub(v, 1, 6) == "lease-" then return "unrecognised" end
  return "damaged"
end
local function damaged_lease(v)
  error({err = "ERR damaged lease: the lease key holds " .. string.format("%q", string.sub(v, 1, 40)) .. ", neither a holder's token nor a done marker"})
end
local function expiry_damage(leaseKey, v)
  if not lease_token(v) then return nil end
  local ms = redis.call("PTTL", leaseKey)
  if ms == -1 then return "no expiry" end
  if ms > LATEST_EXPIRY_MS then
    return "an expiry " .. string.format("%d", ms) .. " ms away"
  end
  return nil
end
local function damaged_expiry(v, why)
  error({err = "ERR damaged lease: the lease key holds the holder's token " .. string.format("%q", string.sub(v, 1, 60)) .. " with " .. why .. ", where every grant sets one within the longest lease (" .. string.format("%d", MAX_LEASE_MS) .. " ms) and a day of clock skew"})
end`;

/**
 * `lease_free(leaseKey)`: true when the lease key is absent, false and the
 * value when a holder's token or a done marker takes it,
 * `{"unrecognised", value}` when it holds a value that may be a holder's
 * (taken, and reported by the guard). A damaged string (see `lease_value`),
 * a holder's token whose expiry no grant sets (`expiry_damage`) or a key of
 * another type holds no lease at all: raised as an error the
 * client classifies as data (`_client.ts`), so that `_quarantine.ts` sets
 * it aside.
 */
export const LEASE_FREE: string = `${LEASE_VALUE}
local function lease_free(leaseKey)
  local held = redis.call("TYPE", leaseKey).ok
  if held == "none" then return true end
  if held == "string" then
    local value = redis.call("GET", leaseKey)
    local what = lease_value(value)
    if what == "held" then
      local why = expiry_damage(leaseKey, value)
      if why then damaged_expiry(value, why) end
      return false, value
    end
    if what == "unrecognised" then return {"unrecognised", string.sub(value, 1, 80)} end
    damaged_lease(value)
  end
  error({err = "WRONGTYPE the lease key holds a " .. held .. ", not a lease"})
end`;

/**
 * How a retry of one acquire whose reply was lost (the script ran, the
 * answer never arrived) recognises the grant it made, and gets it back
 * instead of finding the occurrence contended (docs/valkey.md, "A grant
 * whose reply was lost"). Each acquire mints its holder token once and
 * sends the same with every retry; the fencing token is read back from
 * where the grant wrote it, never allotted again.
 *
 * `recordless_holder(id, fence)`: what a grant without an in-flight record
 * writes to the lease key, `lease-<acquire id>-<fencing token>` (the acquire
 * id is 20 digits, so never a Rust crate's `lease-<nanoseconds>-<counter>`,
 * whose nanoseconds have 19 digits, and every version reads it as held).
 * `own_recordless(value, id)`: the fencing token in `value` when it is
 * such a grant of the acquire `id`, else nil. `own_record(hashKey, field,
 * holder)`: the fencing token of the in-flight record at `field` when it
 * names `holder` (a grant with a record keeps the holder's token in the
 * lease key and the fencing token in the record), else nil.
 * `regranted(leaseKey, value, fence, ttlMs)`: the grant answered again,
 * after the lease key is written once more with the same value and a full
 * `ttlMs`, as a renewal would: a retry may come late within the retry
 * budget, and the caller renews only after `renewIntervalMs`, so the first
 * attempt's remaining time could run out before that and let another
 * instance take the occurrence. The write also makes a `WAIT` after the
 * retry count replicas that have the grant.
 */
export const OWN_GRANT: string = `
local function recordless_holder(id, fence)
  return "lease-" .. id .. "-" .. fence
end
local function own_recordless(value, id)
  local prefix = "lease-" .. id .. "-"
  if string.sub(value, 1, #prefix) ~= prefix then return nil end
  return string.match(string.sub(value, #prefix + 1), "^[0-9]+$")
end
local function own_record(hashKey, field, holder)
  local text = redis.pcall("HGET", hashKey, field)
  if type(text) ~= "string" then return nil end
  local ok, record = pcall(cjson.decode, text)
  if not ok or type(record) ~= "table" or record.holder ~= holder or
      type(record.fencing_token) ~= "string" or
      not string.match(record.fencing_token, "^[0-9]+$") then
    return nil
  end
  return record.fencing_token
end
local function regranted(leaseKey, value, fence, ttlMs)
  redis.call("SET", leaseKey, value, "XX", "PX", ttlMs)
  return {fence, "present"}
end`;

/**
 * `server_clock_us()`: the server's clock in microseconds, as digits.
 * `above(a, b)`: whether the digit string a is the larger number (Lua
 * numbers are doubles and would round tokens beyond 2^53).
 */
export const CLOCK: string = `
local function server_clock_us()
  local time = redis.call("TIME")
  return time[1] .. string.format("%06d", tonumber(time[2]))
end
local function above(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end`;

/**
 * `next_fence(fenceKey, floor)`: the next fencing token of the counter, as
 * digits, and what the counter was: "present", "absent" (a server restarted
 * empty) or "behind" (below `floor`, the highest token this client saw).
 *
 * Before each grant the counter is raised to at least the server's clock in
 * microseconds, then incremented. So a counter that lost its last grants (a
 * replica promoted before they reached it) still issues tokens above every
 * earlier one, as long as the servers' clocks agree to within the time a
 * failover takes and grants come slower than one per microsecond on
 * average (see docs/valkey.md, "Fencing across a failover"). A counter that
 * is not digits, or one INCR could not raise (at or beyond 2^63 - 1), is
 * left alone and refused like INCR refuses it: a data error, set aside by
 * `_quarantine.ts`.
 */
export const NEXT_FENCE: string = `${CLOCK}
local function next_fence(fenceKey, floor)
  local stored = redis.call("GET", fenceKey)
  local counter = stored
  local found = "present"
  local clock = server_clock_us()
  if counter == false then
    counter = clock
    found = "absent"
  elseif not string.match(counter, "^[0-9]+$") or #counter > 19 or
      (#counter == 19 and counter >= "9223372036854775807") then
    error({err = "ERR value is not an integer or out of range (the fencing counter holds " .. string.format("%q", string.sub(counter, 1, 40)) .. ")"})
  else
    -- Behind is judged on the stored value: the clock may have passed the
    -- floor, and a counter restored from an old backup is still reported.
    if above(floor, counter) then found = "behind" end
    if above(clock, counter) then counter = clock end
  end
  if above(floor, counter) then counter = floor end
  if counter ~= stored then redis.call("SET", fenceKey, counter) end
  redis.call("INCR", fenceKey)
  return redis.call("GET", fenceKey), found
end`;

/**
 * `put_state(stateKey, sawPresent, seen, text)`: the state store's
 * compare-and-set in one command on the usual path: `SET ... GET` writes
 * the new text and answers the old one; when the old one is not what the
 * caller merged over, it is put back. Returns whether it was written, and
 * the text the key held (false when absent). `restore_state(stateKey,
 * previous)` puts `previous` back (a write that must not stand after all).
 */
export const PUT_STATE: string = `
local function restore_state(stateKey, previous)
  if previous == false then redis.call("DEL", stateKey)
  else redis.call("SET", stateKey, previous) end
end
local function put_state(stateKey, sawPresent, seen, text)
  local previous = redis.call("SET", stateKey, text, "GET")
  if (previous == false and not sawPresent) or
      (previous ~= false and sawPresent and previous == seen) then
    return true, previous
  end
  restore_state(stateKey, previous)
  return false, previous
end`;

/**
 * `take_fence(fenceKey, floor, clock)`: the next fencing token, as
 * `next_fence` allots it (one above the largest of the stored counter, the
 * clock and the floor), in one command on the usual path: `SET ... GET`
 * writes one above the clock (or the floor) and answers the stored value;
 * only when that was higher is the counter written again. Returns the
 * token, what the counter was ("present", "absent", "behind") and the
 * stored value (false when absent), or, for
 * a counter that is not digits below 2^63 - 1 (put back as it was), nil and
 * the error to raise once the caller has undone its other writes.
 */
export const TAKE_FENCE: string = `
local INT_MAX = "9223372036854775807"
local function plus_one(digits)
  local i = #digits
  while i > 0 and string.sub(digits, i, i) == "9" do i = i - 1 end
  if i == 0 then return "1" .. string.rep("0", #digits) end
  return string.sub(digits, 1, i - 1) ..
    string.char(string.byte(digits, i) + 1) .. string.rep("0", #digits - i)
end
local function counter_error(value)
  return {err = "ERR value is not an integer or out of range (the fencing counter holds " .. string.format("%q", string.sub(value, 1, 40)) .. ")"}
end
local function take_fence(fenceKey, floor, clock)
  local base = clock
  if above(floor, base) then base = floor end
  local token = plus_one(base)
  if above(token, INT_MAX) then return nil, counter_error(base) end
  local stored = redis.pcall("SET", fenceKey, token, "GET")
  if type(stored) == "table" then return nil, stored end
  if stored == false then return token, "absent", false end
  if not string.match(stored, "^[0-9]+$") or #stored > 19 or
      (#stored == 19 and stored >= INT_MAX) then
    redis.call("SET", fenceKey, stored)
    return nil, counter_error(stored)
  end
  local found = "present"
  if above(floor, stored) then found = "behind" end
  if not above(token, stored) then
    token = plus_one(stored)
    redis.call("SET", fenceKey, token)
  end
  return token, found, stored
end`;
