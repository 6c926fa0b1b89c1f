-- ARGV: base, task id. Returns {doc, owner} or {} when unknown.
local found = redis.call('HMGET', active(ARGV[1]) .. 'task:' .. ARGV[2], 'doc', 'owner')
if not found[1] then return {} end
return {found[1], found[2] or ''}
