-- An entry is seven values: task id, rank, generation, doc, owner ('' for none), score, ttl.
local function advances(key, rank, gen)
  local current = redis.call('HMGET', key, 'rank', 'gen')
  if not current[1] then return true end
  local crank, cgen = tonumber(current[1]), tonumber(current[2] or '0')
  if crank >= 2 and rank < 2 then return false end
  if gen ~= cgen then return gen > cgen end
  return rank > crank
end

local function store(base, view, e)
  local key = view .. 'task:' .. e[1]
  local rank, gen = tonumber(e[2]), tonumber(e[3])
  if rank < 0 then  -- a mark: cancelled (-1) or withdrawn (-2) up to generation gen
    local marked = tonumber(redis.call('HGET', key, 'cancel') or '-1')
    if gen > marked then redis.call('HSET', key, 'cancel', gen) end
    if rank == -2 then redis.call('HSET', key, 'withdrawn', '1') end
    if tonumber(e[7]) > 0 then redis.call('EXPIRE', key, e[7]) end
    return 0
  end
  if not advances(key, rank, gen) then return 0 end
  redis.call('HSET', key, 'rank', rank, 'gen', gen, 'doc', e[4])
  if e[5] ~= '' then redis.call('HSET', key, 'owner', e[5]) end
  if tonumber(e[7]) > 0 then redis.call('EXPIRE', key, e[7]) end
  local owner = redis.call('HGET', key, 'owner') or ''
  redis.call('ZADD', view .. 'index:' .. owner, e[6], e[1])
  -- The owner's backlog (tasks accepted, not yet terminal): one per base, whatever the view.
  if rank == 0 then redis.call('ZADD', base .. WAITING .. owner, e[6], e[1]) end
  if rank >= 2 then
    redis.call('ZREM', base .. WAITING .. owner, e[1])
    redis.call('PUBLISH', base .. 'done', e[1])
  end
  return 1
end
