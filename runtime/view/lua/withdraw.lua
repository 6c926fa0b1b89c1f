-- ARGV: base, ttl (0: none), then task id and generation pairs. Marks submissions the API
-- answered 503 for: their records were in the producer's hands and may still reach the log.
for _, view in ipairs(live(ARGV[1])) do
  for i = 3, #ARGV, 2 do
    local key = view .. 'task:' .. ARGV[i]
    redis.call('HSET', key, 'cancel', ARGV[i + 1], 'withdrawn', '1')
    if tonumber(ARGV[2]) > 0 then redis.call('EXPIRE', key, ARGV[2]) end
  end
end
return 1
