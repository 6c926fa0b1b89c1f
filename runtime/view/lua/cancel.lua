-- ARGV: base, task id, owner ('' for none). Returns {rank, doc}; NO_SUCH_TASK: no such task (for
-- this owner). A task not yet terminal is marked cancelled for its current generation.
local views = live(ARGV[1])
local key = views[1] .. 'task:' .. ARGV[2]
local found = redis.call('HMGET', key, 'rank', 'gen', 'doc', 'owner')
if not found[1] or (found[4] or '') ~= ARGV[3] then return {NO_SUCH_TASK, ''} end
local rank = tonumber(found[1])
if rank < RANK_TERMINAL then
  for _, view in ipairs(views) do
    redis.call('HSET', view .. 'task:' .. ARGV[2], 'cancel', found[2] or '0')
  end
end
return {rank, found[3]}
