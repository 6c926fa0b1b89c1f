-- ARGV: base, then entries (the running states), ENTRY_SIZE values each. For each entry, in
-- order: 'done' when the task already has an outcome of this generation or a newer one (a
-- redelivery), 'cancelled' when a client cancelled it before it started, 'withdrawn' when the
-- API answered 503 for it, else it becomes 'running' and the answer is 'run'. One call claims
-- a whole batch of tasks.
local base = ARGV[1]
local view = active(base)
local views = live(base)
local answers = {}
for i = 2, #ARGV, ENTRY_SIZE do
  local key = view .. 'task:' .. ARGV[i + E_TASK_ID - 1]
  local current = redis.call('HMGET', key, 'rank', 'gen', 'cancel', 'withdrawn')
  local gen = tonumber(ARGV[i + E_GENERATION - 1])
  local answer = CLAIM_RUN
  if current[1] and tonumber(current[1]) >= RANK_TERMINAL and tonumber(current[2] or '0') >= gen then
    answer = CLAIM_DONE
  elseif current[4] then
    -- The client was told the task was not accepted: no generation of it runs (a replay's
    -- included).
    answer = CLAIM_WITHDRAWN
  elseif current[3] and tonumber(current[3]) >= gen then
    answer = CLAIM_CANCELLED
  else
    for _, each in ipairs(views) do store(base, each, {unpack(ARGV, i, i + ENTRY_SIZE - 1)}) end
  end
  answers[#answers + 1] = answer
end
return answers
