-- ARGV: source view, target view, ttl (0: none), then task ids. Copies each task's 'cancel' and
-- 'withdrawn' marks from the source view to the target one.
for i = 4, #ARGV do
  local marks = redis.call('HMGET', ARGV[1] .. 'task:' .. ARGV[i], 'cancel', 'withdrawn')
  local key = ARGV[2] .. 'task:' .. ARGV[i]
  if marks[1] then redis.call('HSET', key, 'cancel', marks[1]) end
  if marks[2] then redis.call('HSET', key, 'withdrawn', marks[2]) end
  if (marks[1] or marks[2]) and tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', key, ARGV[3]) end
end
return 1
