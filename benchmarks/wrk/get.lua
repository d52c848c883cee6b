-- One GET, repeated (wrk's static request: no per-request Lua), with a JSON result line.
-- Answers >= 400 are counted by wrk itself in summary.errors.status.
local common = require("common")

wrk.headers["Accept"] = "application/json"

function done(summary, latency, requests)
  common.emit(common.summary(summary, latency))
end
