-- KEYS: none. ARGV: base, target view prefix ('' for the active one), whether the target must
-- be the active view ('1'/'0'), an offsets field that must still be there ('' for none), the
-- number of offsets, then field/offset pairs, then entries. Returns -1 when a condition failed
-- (the caller re-reads its position), else the number of entries that moved a task forward.
local base = ARGV[1]
local views = {ARGV[2]}
if ARGV[2] == '' then views = live(base) end
local view = views[1]
if ARGV[3] == '1' and active(base) ~= view then return -1 end
if ARGV[4] ~= '' and redis.call('HEXISTS', view .. 'offsets', ARGV[4]) == 0 then return -1 end
local n = tonumber(ARGV[5])
local i = 6
for _ = 1, n do
  redis.call('HSET', view .. 'offsets', ARGV[i], ARGV[i + 1])
  i = i + 2
end
local moved = 0
while i <= #ARGV do
  local entry = {unpack(ARGV, i, i + 6)}
  moved = moved + store(base, view, entry)
  if views[2] then store(base, views[2], entry) end
  i = i + 7
end
return moved
