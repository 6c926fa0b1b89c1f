-- ARGV: base, the view to switch to. Switches only when that view has read every partition at
-- least as far as the active one (so no answer goes backwards), and stops live writes to it as
-- a view being built. Returns the view it replaced, or false when not caught up yet.
local base, target = ARGV[1], ARGV[2]
local current = active(base)
local ahead = redis.call('HGETALL', current .. 'offsets')
for i = 1, #ahead, 2 do
  local mine = redis.call('HGET', target .. 'offsets', ahead[i])
  if not mine or tonumber(mine) < tonumber(ahead[i + 1]) then return false end
end
redis.call('SET', base .. 'active', target)
redis.call('DEL', base .. 'building')
return current
