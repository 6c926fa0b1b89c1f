-- KEYS: none. ARGV: base, target view prefix ('' for the active one), whether the target must
-- be the active view ('1'/'0'), the number of expected offsets, then field/offset pairs (each
-- must be stored at least that far: a view that lost them, or was restored from an older
-- snapshot, fails the check), then the number of offsets to write, then field/offset pairs,
-- then entries. Returns -1 when a condition failed (the caller re-reads its position), else
-- the number of entries that moved a task forward.
local base = ARGV[1]
local views = {ARGV[2]}
if ARGV[2] == '' then views = live(base) end
local view = views[1]
if ARGV[3] == '1' and active(base) ~= view then return -1 end
local i = 5
for _ = 1, tonumber(ARGV[4]) do
  local stored = tonumber(redis.call('HGET', view .. 'offsets', ARGV[i]) or '-1')
  if stored < tonumber(ARGV[i + 1]) then return -1 end
  i = i + 2
end
local n = tonumber(ARGV[i])
i = i + 1
for _ = 1, n do
  redis.call('HSET', view .. 'offsets', ARGV[i], ARGV[i + 1])
  i = i + 2
end
local moved = 0
while i <= #ARGV do
  local entry = {unpack(ARGV, i, i + ENTRY_SIZE - 1)}
  moved = moved + store(base, view, entry)
  if views[2] then store(base, views[2], entry) end
  i = i + ENTRY_SIZE
end
return moved
