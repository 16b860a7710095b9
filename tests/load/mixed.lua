-- A mixed load for wrk: downloads of minted URLs and API calls that mint URLs (a single file
-- with a freshly minted URL, and batches of ten). The plan comes from a file given after
-- `--`: one request a line, "GET <path>" for a download or "API <path>" for an API call,
-- and a first line "KEY <api key secret>" for the API's Authorization header.

local plan = {}
local auth = nil
local n = 0

function init(args)
  for line in io.lines(args[1]) do
    local kind, rest = line:match("^(%S+) (.+)$")
    if kind == "KEY" then
      auth = "Bearer " .. rest
    else
      plan[#plan + 1] = { kind = kind, path = rest }
    end
  end
  n = math.random(#plan)
end

function request()
  n = n % #plan + 1
  local step = plan[n]
  if step.kind == "API" then
    return wrk.format("GET", step.path, { ["Authorization"] = auth })
  end
  return wrk.format("GET", step.path)
end
