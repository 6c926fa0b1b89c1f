local function active(base)
  return redis.call('GET', base .. 'active') or base
end

-- The views a live write goes to: the active one, and the one being rebuilt if any.
local function live(base)
  local views = {active(base)}
  local building = redis.call('GET', base .. 'building')
  if building and building ~= views[1] then views[2] = building end
  return views
end
