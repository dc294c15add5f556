/**
 * The Lua scripts of the Valkey state store's leased writes
 * (`store/leased_writes.ts`): the state saved with the grant of a lease of
 * the guard on the same deployment (and its in-flight record), and the
 * state saved with the lease's end, each one atomic command. With the
 * `"cluster"` layout all their keys carry the job's hash tag, so they run
 * on a Cluster too. Registered in `_commands.ts`; used by
 * `_leased_writes.ts`.
 *
 * Each costs as few commands inside the script as the outcome allows (see
 * docs/valkey.md, "Two round trips per run"): on the usual paths a write
 * that answers what it replaced (`SET ... GET`) stands in for a read and a
 * write, and is put back on the rare path where the old value says it must
 * not stand.
 *
 * @module
 */

import {
  CLOCK,
  LEASE_VALUE,
  OWN_GRANT,
  PUT_STATE,
  TAKE_FENCE,
} from "./_lua_lib.ts";

/**
 * The state saved (compare-and-set), then the lease taken if free, with
 * the next fencing token and, when asked, the in-flight record. A damaged
 * lease key or counter, or an in-flight hash of another type (the record's
 * `HSET` answers WRONGTYPE), undoes every write before the error is
 * raised, so a failed grant saves nothing.
 *
 * The job's record count the reclaimer needs (`LeasedAcquire.inFlight`)
 * costs an `HLEN` only when another grant came since the caller's last
 * one: every record is written by a grant, and every grant moves the
 * fencing counter, so a stored counter equal to the token the caller last
 * got (ARGV[10]) means no record was added that the caller does not know
 * of; then it answers "same" and the caller counts (`_leased_counts.ts`).
 *
 * A retry of the same grant (same holder token) after a lost reply finds
 * the state it saved changed, merges and saves again, then finds its own
 * lease: it answers the same grant (the token from the record, or from
 * the lease value without one; see `OWN_GRANT`) with the job's record
 * count, and writes no token or record again; the lease only gets a full
 * `ttlMs` (see `regranted` in `_lua_lib.ts`).
 *
 * A lease key found taken costs one `PTTL` more (never on the free path):
 * a holder's token with an expiry no grant sets is damaged like a value
 * that is no token (`expiry_damage` in `_lua_lib.ts`).
 */
export const LEASED_ACQUIRE: string = `
-- KEYS[1] state key, KEYS[2] lease key, KEYS[3] fencing counter,
-- KEYS[4] in-flight hash
-- ARGV[1] "0" = the caller saw the state absent, "1" = it saw ARGV[2],
-- ARGV[2] the text it merged over, ARGV[3] the new text,
-- ARGV[4] holder token (with a record), else the acquire id (20 digits),
-- ARGV[5] ttl (ms), ARGV[6] floor (digits),
-- ARGV[7] "1" = write the in-flight record, ARGV[8] record field
-- (timestamp), ARGV[9] the record's JSON head, ARGV[10] the fencing token
-- of the caller's last grant of the job ("" when none)
-- returns {"conflict", current text (absent: nothing)} when the state
-- changed (nothing written); else {"saved"} when contended,
-- {"saved", "unrecognised", value} when an unrecognised value takes the
-- key, {"saved", token digits, "present" | "absent" | "behind"} when granted,
-- followed by "same" when the stored counter was ARGV[10] (with a record:
-- and 1 when the record's field was new, else 0), or else, with a record,
-- by the job's record count after the grant
local stateKey, leaseKey, fenceKey, hashKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local sawPresent, seen, text = ARGV[1] == "1", ARGV[2], ARGV[3]
local holder, ttlMs, floor = ARGV[4], ARGV[5], ARGV[6]
local record, field, head = ARGV[7] == "1", ARGV[8], ARGV[9]
local lastToken = ARGV[10]
${LEASE_VALUE}${CLOCK}${PUT_STATE}${TAKE_FENCE}${OWN_GRANT}
local written, previous = put_state(stateKey, sawPresent, seen, text)
if not written then return {"conflict", previous} end
local taken = redis.pcall("SET", leaseKey, holder, "NX", "GET", "PX", ttlMs)
if type(taken) == "table" then
  restore_state(stateKey, previous)
  return taken
end
if taken ~= false then
  local what = lease_value(taken)
  local why = what == "held" and expiry_damage(leaseKey, taken)
  if why then
    restore_state(stateKey, previous)
    damaged_expiry(taken, why)
  end
  if what == "held" then
    local fence
    if not record then fence = own_recordless(taken, holder)
    elseif taken == holder then fence = own_record(hashKey, field, holder) end
    if fence == nil then return {"saved"} end
    -- A full ttl, as regranted() in _lua_lib.ts gives, for the same reason.
    redis.call("PEXPIRE", leaseKey, ttlMs)
    if not record then return {"saved", fence, "present"} end
    return {"saved", fence, "present", redis.call("HLEN", hashKey)}
  end
  if what == "unrecognised" then return {"saved", "unrecognised", string.sub(taken, 1, 80)} end
  restore_state(stateKey, previous)
  damaged_lease(taken)
end
local clock = server_clock_us()
local fence, found, stored = take_fence(fenceKey, floor, clock)
if fence == nil then
  redis.call("DEL", leaseKey)
  restore_state(stateKey, previous)
  return found
end
local same = lastToken ~= "" and stored == lastToken
local added
if not record then
  redis.call("SET", leaseKey, recordless_holder(holder, fence), "PX", ttlMs)
else
  local nowMs = tonumber(string.sub(clock, 1, #clock - 3))
  added = redis.pcall("HSET", hashKey, field, head .. ',"fencing_token":"' ..
    fence .. '","holder":"' .. holder .. '","lease_deadline_ms":' ..
    string.format("%d", nowMs + tonumber(ttlMs)) .. '}')
  if type(added) == "table" then
    -- A hash of another type (WRONGTYPE): undone, the counter too (its
    -- token was never answered), so nothing is saved (the caller sets the
    -- hash aside, see _quarantine.ts).
    if stored == false then redis.call("DEL", fenceKey)
    else redis.call("SET", fenceKey, stored) end
    redis.call("DEL", leaseKey)
    restore_state(stateKey, previous)
    return added
  end
end
if same then
  if record then return {"saved", fence, found, "same", added} end
  return {"saved", fence, found, "same"}
end
if record then
  return {"saved", fence, found, redis.call("HLEN", hashKey)}
end
return {"saved", fence, found}`;

/**
 * The state saved (compare-and-set), then the caller's lease ended:
 * `release` and `complete` turn it into a done marker for the retention
 * (deleted when it is 0), as the guard's release does, and `complete` also
 * clears the caller's in-flight record; `abandon` deletes the lease and
 * keeps the record, to be replayed. A lease that is no longer the
 * caller's is left alone (on the path that wrote first, put back: a
 * holder's token for a full ttl, a done marker for the retention).
 *
 * Nothing after the state's write raises (Valkey would keep the state
 * written and answer an error): damaged ledger data met on the way is set
 * aside, as `_lua_quarantine.ts` would, and answered, so that the caller
 * reports it after the save (see `_leased_writes.ts`).
 */
export const LEASED_END: string = `
-- KEYS[1] state key, KEYS[2] lease key, KEYS[3] in-flight hash,
-- KEYS[4] the job's quarantine hash, KEYS[5] quarantine key for a hash of
-- another type
-- ARGV[1] "0" = the caller saw the state absent, "1" = it saw ARGV[2],
-- ARGV[2] the text it merged over, ARGV[3] the new text,
-- ARGV[4] holder token, ARGV[5] "release" | "complete" | "abandon",
-- ARGV[6] retention of the done marker (ms; 0 deletes), ARGV[7] ttl (ms),
-- ARGV[8] record field (timestamp), ARGV[9] "1" = the lease was granted
-- with its record (store/leased_writes.ts), ARGV[10] field in the
-- quarantine hash
-- returns {"conflict", current text (absent: nothing)} when the state
-- changed (nothing written); else {"saved", 1 when the lease was the
-- caller's (or had run out), else 0}, followed, when ledger data was
-- damaged, by {"record", value, 1 when set aside} or {"hash", its type,
-- 1 when set aside}
local stateKey, leaseKey, hashKey = KEYS[1], KEYS[2], KEYS[3]
local asideHash, asideKey = KEYS[4], KEYS[5]
local sawPresent, seen, text = ARGV[1] == "1", ARGV[2], ARGV[3]
local holder, ending, retentionMs, ttlMs, field =
  ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local recorded, asideField = ARGV[9] == "1", ARGV[10]
${PUT_STATE}
local written, previous = put_state(stateKey, sawPresent, seen, text)
if not written then return {"conflict", previous} end
local done = "done:" .. holder
local function current_lease()
  local value = redis.pcall("GET", leaseKey)
  if type(value) == "table" then return nil end
  return value
end
if ending == "abandon" then
  if current_lease() == holder then redis.call("DEL", leaseKey) end
  return {"saved", 1}
end
local ours
local sure = false
if tonumber(retentionMs) > 0 then
  local old = redis.pcall("SET", leaseKey, done, "XX", "GET", "PX", retentionMs)
  if type(old) == "table" then
    ours = false
  elseif old == holder or old == done then
    -- Only a lease granted with its record says whose the record is.
    ours, sure = true, old == holder and recorded
  elseif old == false then
    -- Ran out while the run was finishing: marked done all the same.
    redis.call("SET", leaseKey, done, "PX", retentionMs)
    ours = true
  else
    local keep = ttlMs
    if string.sub(old, 1, 5) == "done:" then keep = retentionMs end
    redis.call("SET", leaseKey, old, "PX", keep)
    ours = false
  end
else
  local current = current_lease()
  ours = current == false or current == holder
  if ours and current ~= false then redis.call("DEL", leaseKey) end
end
local damage
-- An error reply (a status reply is a table too).
local function failed(reply)
  return type(reply) == "table" and reply.err ~= nil
end
local function hash_aside()
  local kind = redis.call("TYPE", hashKey).ok
  local moved = redis.pcall("RENAME", hashKey, asideKey)
  return {"hash", kind, failed(moved) and 0 or 1}
end
if ending == "complete" then
  if sure then
    -- The lease held our token: nobody took the record over.
    if failed(redis.pcall("HDEL", hashKey, field)) then
      damage = hash_aside()
    end
  else
    local held = redis.pcall("HGET", hashKey, field)
    if failed(held) then
      damage = hash_aside()
    elseif held then
      local ok, decoded = pcall(cjson.decode, held)
      if not ok or type(decoded) ~= "table" then
        local moved = redis.pcall("HSET", asideHash, asideField, held)
        if not failed(moved) then redis.call("HDEL", hashKey, field) end
        damage = {"record", held, failed(moved) and 0 or 1}
      elseif decoded.holder == holder then
        redis.call("HDEL", hashKey, field)
      end
    end
  end
end
local reply = {"saved", ours and 1 or 0}
if damage then
  for _, v in ipairs(damage) do table.insert(reply, v) end
end
return reply`;
