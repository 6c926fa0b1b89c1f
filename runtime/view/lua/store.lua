-- An entry is ENTRY_SIZE values, E_TASK_ID to E_USAGE: task id, rank, generation, doc, owner ('' for
-- none), score, ttl, usage ('' or what an outcome counts: hour, state, shots, milliseconds run)
-- (the layout and every constant in capitals come from Python: scripts.py).
local function advances(key, rank, gen)
  local current = redis.call('HMGET', key, 'rank', 'gen')
  if not current[1] then return true end
  local crank, cgen = tonumber(current[1]), tonumber(current[2] or '0')
  if crank >= RANK_TERMINAL and rank < RANK_TERMINAL then return false end
  if gen ~= cgen then return gen > cgen end
  return rank > crank
end

local function store(base, view, e)
  local task, ttl = e[E_TASK_ID], tonumber(e[E_TTL])
  local key = view .. 'task:' .. task
  local rank, gen = tonumber(e[E_RANK]), tonumber(e[E_GENERATION])
  if rank < RANK_QUEUED then  -- a mark: cancelled or withdrawn up to generation gen
    local marked = tonumber(redis.call('HGET', key, 'cancel') or '-1')
    if gen > marked then redis.call('HSET', key, 'cancel', gen) end
    if rank == RANK_WITHDRAWN_MARK then redis.call('HSET', key, 'withdrawn', '1') end
    if ttl > 0 then redis.call('EXPIRE', key, ttl) end
    return 0
  end
  if not advances(key, rank, gen) then return 0 end
  redis.call('HSET', key, 'rank', rank, 'gen', gen, 'doc', e[E_DOC])
  if e[E_OWNER] ~= '' then redis.call('HSET', key, 'owner', e[E_OWNER]) end
  if ttl > 0 then redis.call('EXPIRE', key, ttl) end
  local owner = redis.call('HGET', key, 'owner') or ''
  redis.call('ZADD', view .. 'index:' .. owner, e[E_SCORE], task)
  -- The owner's backlog (tasks accepted, not yet terminal): one per base, whatever the view.
  if rank == RANK_QUEUED then redis.call('ZADD', base .. WAITING .. owner, e[E_SCORE], task) end
  if rank >= RANK_TERMINAL then
    redis.call('ZREM', base .. WAITING .. owner, task)
    redis.call('PUBLISH', base .. 'done', task)
    -- The owner's usage (runtime/view/usage.py): counted here, once, as the outcome lands.
    local hour, state, shots, ms = string.match(e[E_USAGE], '^(%d+) (%a+) (%d+) ([%d%.]+)$')
    if hour then
      local usage = view .. USAGE .. owner .. ':' .. hour
      redis.call('HINCRBY', usage, state, 1)
      redis.call('HINCRBY', usage, 'shots', shots)
      redis.call('HINCRBYFLOAT', usage, 'run_ms', ms)
      redis.call('EXPIRE', usage, USAGE_TTL_S)
    end
  end
  return 1
end
