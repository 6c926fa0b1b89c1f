-- ARGV: base, then one entry (the running state). 'done' when the task already has an outcome
-- of this generation or a newer one (a redelivery), 'cancelled' when a client cancelled it
-- before it started, 'withdrawn' when the API answered 503 for it, else it becomes 'running'.
local base = ARGV[1]
local view = active(base)
local key = view .. 'task:' .. ARGV[2]
local current = redis.call('HMGET', key, 'rank', 'gen', 'cancel', 'withdrawn')
local gen = tonumber(ARGV[4])
if current[1] and tonumber(current[1]) >= 2 and tonumber(current[2] or '0') >= gen then
  return 'done'
end
if current[3] and tonumber(current[3]) >= gen then
  if current[4] then return 'withdrawn' end
  return 'cancelled'
end
for _, each in ipairs(live(base)) do store(base, each, {unpack(ARGV, 2, 8)}) end
return 'run'
