-- KEYS: the mark of the view being built. ARGV: that view, seconds. Renews the mark if it is
-- still that view's; returns 1 if it was.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('EXPIRE', KEYS[1], ARGV[2])
