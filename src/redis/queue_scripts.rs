//! The Lua scripts of [`RedisQueue`](super::RedisQueue): each operation is one script, atomic
//! in Redis, on keys of one hash slot (`{<name>}:…`).
//!
//! Entries of the stream have the fields `id` (the Wix event ID), `lane` (empty: none),
//! `event` (the event's JSON) and, when the delivery had one, `trace` (its `traceparent`).
//! Scripts return entries flattened: `id, event ID, lane, JSON, trace` (empty: none).

use std::sync::LazyLock;

use ::redis::Script;

/// Helpers every script starts with.
const PRELUDE: &str = r"
local function flat(out, id, fields)
  local ev, lane, json, trace = '', '', '', ''
  for i = 1, #fields, 2 do
    local f = fields[i]
    if f == 'id' then ev = fields[i + 1]
    elseif f == 'lane' then lane = fields[i + 1]
    elseif f == 'event' then json = fields[i + 1]
    elseif f == 'trace' then trace = fields[i + 1] end
  end
  out[#out + 1] = id
  out[#out + 1] = ev
  out[#out + 1] = lane
  out[#out + 1] = json
  out[#out + 1] = trace
end
local function is_nogroup(r)
  return type(r) == 'table' and r.err and string.find(r.err, 'NOGROUP') ~= nil
end
local function owner(stream, group, id)
  local p = redis.pcall('XPENDING', stream, group, id, id, 1)
  if type(p) ~= 'table' or p.err or #p == 0 then return nil end
  return p[1][2]
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function trim_args(kind, value)
  if kind == 'MINID' then
    return kind, tostring(math.max(0, now_ms() - tonumber(value)))
  end
  return kind, value
end
-- KEYS: stream, lane, lock, deliveries, dead. `locked`: the lock is known to be consumer's.
local function settle(K, group, consumer, id, has_lane, locked)
  redis.call('XACK', K[1], group, id)
  if has_lane then redis.call('LREM', K[2], 1, id) end
  if locked or redis.call('GET', K[3]) == consumer then redis.call('DEL', K[3]) end
  redis.call('HDEL', K[4], id)
end
local function bury(K, group, consumer, id, ev, lane, json, err, max_dead)
  local d = redis.call('HGET', K[4], id) or '0'
  redis.call('XADD', K[5], 'MAXLEN', '~', max_dead, '*', 'entry', id, 'id', ev, 'lane', lane,
    'event', json, 'deliveries', d, 'error', err)
  settle(K, group, consumer, id, lane ~= '')
end
";

fn script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}{body}"))
}

/// KEYS: stream, seen, lane. ARGV: event ID, lane, JSON, seen-TTL ms, trim kind, trim value,
/// traceparent ('' for none). The entry ID, or nil for a duplicate.
pub(super) static APPEND: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
if redis.call('EXISTS', KEYS[2]) == 1 then return false end
local kind, threshold = trim_args(ARGV[5], ARGV[6])
local id
if ARGV[7] ~= '' then
  id = redis.call('XADD', KEYS[1], kind, '~', threshold, '*',
    'id', ARGV[1], 'lane', ARGV[2], 'event', ARGV[3], 'trace', ARGV[7])
else
  id = redis.call('XADD', KEYS[1], kind, '~', threshold, '*',
    'id', ARGV[1], 'lane', ARGV[2], 'event', ARGV[3])
end
if ARGV[2] ~= '' then redis.call('RPUSH', KEYS[3], id) end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[4])
return id
",
    )
});

/// KEYS: stream, lane, dead. ARGV: event ID, lane, JSON, trim kind, trim value, dead-letter ID
/// ('' for none: a replay). Appends again (no seen check) and removes the dead letter; nil when
/// the dead letter is gone.
pub(super) static REQUEUE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
if ARGV[6] ~= '' then
  if #redis.call('XRANGE', KEYS[3], ARGV[6], ARGV[6]) == 0 then return false end
  redis.call('XDEL', KEYS[3], ARGV[6])
end
local kind, threshold = trim_args(ARGV[4], ARGV[5])
local id = redis.call('XADD', KEYS[1], kind, '~', threshold, '*',
  'id', ARGV[1], 'lane', ARGV[2], 'event', ARGV[3])
if ARGV[2] ~= '' then redis.call('RPUSH', KEYS[2], id) end
return id
",
    )
});

/// KEYS: stream. ARGV: group, consumer, count. New entries, the group created when missing.
pub(super) static READ: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local function read()
  return redis.pcall('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3],
    'STREAMS', KEYS[1], '>')
end
local r = read()
if is_nogroup(r) then
  redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
  r = read()
end
if type(r) == 'table' and r.err then return redis.error_reply(r.err) end
local out = {}
if not r then return out end
for _, e in ipairs(r[1][2]) do
  if e[2] then flat(out, e[1], e[2]) end
end
return out
",
    )
});

/// KEYS: stream. ARGV: group, consumer, min idle ms, count. Entries taken over.
pub(super) static TAKE_OVER: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local out = {}
local cursor = '0-0'
for _ = 1, 10 do
  local r = redis.pcall('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], cursor,
    'COUNT', ARGV[4])
  if is_nogroup(r) then
    redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
    return out
  end
  if r.err then return redis.error_reply(r.err) end
  for _, e in ipairs(r[2]) do
    if e[2] then flat(out, e[1], e[2]) end
  end
  cursor = r[1]
  if cursor == '0-0' or #out >= 4 * tonumber(ARGV[4]) then break end
end
return out
",
    )
});

/// Starts entries (see `QueueStore::start`), one after another in one script.
/// KEYS: stream, deliveries, dead, then for each entry its lane and its lock. ARGV: group,
/// consumer, visibility ms, max deliveries, max dead letters, then for each entry its ID, event
/// ID, lane and JSON ('' when not given: read from the stream when it is to be dead-lettered).
/// For each entry: the delivery number (go), 0 (wait), -1 (gone), -2 (dead-lettered), -3 (to
/// be dead-lettered, but no longer in the stream and its JSON not given: ask again with it).
pub(super) static START: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local function start(K, id, ev, lane, json)
  if owner(stream, group, id) ~= consumer then return -1 end
  local function wait()
    redis.call('XCLAIM', stream, group, consumer, 0, id, 'JUSTID')
    return 0
  end
  -- An entry no longer in its lane's list (delivered again by a group created anew) waits
  -- for nothing; one trimmed away neither.
  if lane ~= '' and redis.call('LPOS', K[2], id)
      and #redis.call('XRANGE', stream, id, id) > 0 then
    for _ = 1, 1000 do
      local head = redis.call('LINDEX', K[2], 0)
      if not head or head == id then break end
      if #redis.call('XRANGE', stream, head, head) > 0 then return wait() end
      redis.call('LPOP', K[2])
    end
  end
  local holder = redis.call('GET', K[3])
  if holder and holder ~= consumer then return wait() end
  local n = redis.call('HINCRBY', K[4], id, 1)
  if n > tonumber(ARGV[4]) then
    local d = redis.call('HINCRBY', K[4], id, -1)
    if json == '' then
      local kept = redis.call('XRANGE', stream, id, id)
      if #kept == 0 then return -3 end
      local out = {}
      flat(out, id, kept[1][2])
      json = out[4]
    end
    bury(K, group, consumer, id, ev, lane, json,
      'delivered ' .. d .. ' times; its workers stopped while handling it', ARGV[5])
    return -2
  end
  redis.call('SET', K[3], consumer, 'PX', ARGV[3])
  redis.call('XCLAIM', stream, group, consumer, 0, id, 'JUSTID')
  return n
end
local out = {}
for i = 1, (#ARGV - 5) / 4 do
  local a, k = 6 + (i - 1) * 4, 4 + (i - 1) * 2
  out[i] = start({stream, KEYS[k], KEYS[k + 1], KEYS[2], KEYS[3]},
    ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3])
end
return out
",
    )
});

/// KEYS: stream, lock. ARGV: group, consumer, entry ID, visibility ms. 1 renewed, 0 lost.
pub(super) static RENEW: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
redis.call('PEXPIRE', KEYS[2], ARGV[4])
if owner(KEYS[1], ARGV[1], ARGV[3]) == ARGV[2] then
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
end
return 1
",
    )
});

/// KEYS: stream. ARGV: group, consumer, idle ms to set, entry IDs…
pub(super) static TOUCH: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
for i = 4, #ARGV do
  if owner(KEYS[1], ARGV[1], ARGV[i]) == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'IDLE', ARGV[3], 'JUSTID')
  end
end
return 1
",
    )
});

/// Acknowledges handled entries (see `QueueStore::ack`), one after another in one script.
/// KEYS: stream, deliveries, then for each entry its lane and its lock. ARGV: group, consumer,
/// then for each entry its ID and lane. For each entry: 1 acked, 0 not held.
pub(super) static ACK: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local out = {}
for i = 1, (#ARGV - 2) / 2 do
  local a, k = 3 + (i - 1) * 2, 3 + (i - 1) * 2
  local id = ARGV[a]
  out[i] = 0
  if redis.call('GET', KEYS[k + 1]) == consumer and owner(stream, group, id) == consumer then
    settle({stream, KEYS[k], KEYS[k + 1], KEYS[2]}, group, consumer, id, ARGV[a + 1] ~= '',
      true)
    out[i] = 1
  end
end
return out
",
    )
});

/// KEYS: stream, lane, lock, deliveries, dead. ARGV: group, consumer, entry ID, max
/// deliveries, event ID, lane, JSON, error, max dead letters. 1 retry, 2 dead, 0 not held.
pub(super) static FAIL: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
if redis.call('GET', KEYS[3]) ~= ARGV[2] then return 0 end
if owner(KEYS[1], ARGV[1], ARGV[3]) ~= ARGV[2] then return 0 end
local d = tonumber(redis.call('HGET', KEYS[4], ARGV[3]) or '0')
if d >= tonumber(ARGV[4]) then
  bury(KEYS, ARGV[1], ARGV[2], ARGV[3], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9])
  return 2
end
redis.call('DEL', KEYS[3])
return 1
",
    )
});

/// KEYS: stream, dead. ARGV: group. Length, dead letters, pending, oldest pending ID (''),
/// then consumer and count pairs.
pub(super) static STATS: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local out = {tostring(redis.call('XLEN', KEYS[1])), tostring(redis.call('XLEN', KEYS[2]))}
local p = redis.pcall('XPENDING', KEYS[1], ARGV[1])
if type(p) ~= 'table' or p.err then
  out[3] = '0'
  out[4] = ''
  return out
end
out[3] = tostring(p[1])
out[4] = p[2] or ''
for _, c in ipairs(p[4] or {}) do
  out[#out + 1] = c[1]
  out[#out + 1] = tostring(c[2])
end
return out
",
    )
});
