-- wrk script for HTTP/1.1 pipelining: every write carries DEPTH requests (env, default 16).
local depth = tonumber(os.getenv("DEPTH")) or 16
local batch

function init(args)
  batch = string.rep(wrk.format(), depth)
end

function request()
  return batch
end
