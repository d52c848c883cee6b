-- Shared by the wrk scripts: a monotonic clock, a JSON encoder and the one-line result.
-- wrk runs one Lua state per thread plus one for setup()/done(); each loads this once.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } provenant_timespec;
int clock_gettime(int clk_id, provenant_timespec *tp);
]]

local M = {}
local ts = ffi.new("provenant_timespec")
local CLOCK_MONOTONIC = 1

-- Microseconds on the monotonic clock (wrk gives Lua no clock of its own).
function M.now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local function encode(value)
  local kind = type(value)
  if kind == "nil" then return "null" end
  if kind == "boolean" then return tostring(value) end
  if kind == "number" then
    if value ~= value or value == math.huge or value == -math.huge then return "null" end
    if value == math.floor(value) and math.abs(value) < 2^53 then
      return string.format("%d", value)
    end
    return string.format("%.17g", value)
  end
  if kind == "string" then
    return '"' .. value:gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", c:byte())
    end) .. '"'
  end
  local parts = {}
  if value[1] ~= nil then  -- an array; an empty table is an (empty) object
    for _, item in ipairs(value) do parts[#parts + 1] = encode(item) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  for key, item in pairs(value) do
    parts[#parts + 1] = encode(tostring(key)) .. ":" .. encode(item)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end
M.encode = encode

-- The one line benchmarks/loadgen.py looks for in wrk's output (a table, or JSON text).
function M.emit(result)
  if type(result) ~= "string" then result = encode(result) end
  io.write("PROVENANT_WRK_RESULT ", result, "\n")
  io.flush()
end

-- wrk's own counts: requests, socket errors, latency percentiles (microseconds).
function M.summary(summary, latency)
  return {
    requests = summary.requests, duration_us = summary.duration, bytes = summary.bytes,
    errors = summary.errors,
    latency_us = {p50 = latency:percentile(50), p99 = latency:percentile(99),
                  max = latency.max, mean = latency.mean},
  }
end

return M
