-- The mixed reads and writes of `make load` (benchmarks/load.py writes the config this
-- reads: seeded ids, expected runs, images, the operation weights).
--
-- Every wrk thread drives ONE keep-alive connection (wrk -t N -c N), so a thread's
-- request and its answer alternate: each answer is timed and checked as the operation
-- that asked for it. A request() while an answer is still awaited means the server
-- closed the connection or a socket failed (wrk reconnects and asks again): an error of
-- the operation. The request still awaited when wrk stops is reported as in flight.
local bit = require("bit")
local common = require("common")
local config = dofile(os.getenv("PROVENANT_LOAD_CONFIG"))

local PNG = "\137PNG\r\n\26\n"
local RIBBON = 'data-testid="workflow-context-ribbon"'
-- Posts cycle: a chart of a "late" execution (no MLflow run yet: stored pending, its
-- image uploaded by put_image), a signal with explicit run ids, an LLM analysis whose
-- run the server looks up at store time.
local POST_KINDS = {"chart", "signal", "chart", "llm"}
local WRITES = {post_artifact = true, put_image = true}
local LIST_FILTERS = {"", "&symbol=TSLA", "&type=chart", "&workflow_id=" .. config.workflow_id}

-- main state: number the threads, keep them for done()
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("number", #threads)
end

-- thread state --------------------------------------------------------------------------
report = {ops = {}, posted = {}, uploaded = {}, legacy_status = {}}  -- handed to done()
local number, pending, cursor, list_filter
local posts, sent, awaiting, awaiting_head = 0, 0, {}, 1
local read_ids, image_ids, image_sha, image_len, chart_png = {}, {}, {}, {}, nil
local choices, total_weight = {}, 0

local function copy(list, into)
  for _, v in ipairs(list) do into[#into + 1] = v end
  return into
end

function init(args)
  number = wrk.thread:get("number")
  math.randomseed(config.seed * 1000 + number)
  copy(config.persisted_ids, read_ids)
  copy(config.image_ids, image_ids)
  for id, sha in pairs(config.image_sha) do image_sha[id] = sha end
  for _, pair in ipairs(config.mix) do
    total_weight = total_weight + pair[2]
    choices[#choices + 1] = {pair[1], total_weight}
  end
  local file = assert(io.open(config.chart_png, "rb"))  -- the image uploads vary
  chart_png = file:read("*a")
  file:close()
end

-- benchmarks/images.py's variant(png, n): a PNG tEXt chunk naming n before IEND, so
-- every upload is a new image (a new blob) whose sha256 Python can recompute.
local CRC = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    c = bit.band(c, 1) == 1 and bit.bxor(bit.rshift(c, 1), 0xEDB88320) or bit.rshift(c, 1)
  end
  CRC[i] = c
end

local function crc32(s)
  local c = 0xFFFFFFFF
  for i = 1, #s do c = bit.bxor(CRC[bit.band(bit.bxor(c, s:byte(i)), 0xFF)], bit.rshift(c, 8)) end
  return bit.bxor(c, 0xFFFFFFFF)
end

local function be32(n)
  return string.char(bit.band(bit.rshift(n, 24), 255), bit.band(bit.rshift(n, 16), 255),
    bit.band(bit.rshift(n, 8), 255), bit.band(n, 255))
end

local function variant(png, n)
  local data = "bench\0" .. string.format("%d", n)
  local chunk = be32(#data) .. "tEXt" .. data .. be32(crc32("tEXt" .. data))
  return png:sub(1, -13) .. chunk .. png:sub(-12)
end

local function pick(list) return list[math.random(#list)] end

local function quote(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

local function stats(op)
  local s = report.ops[op]
  if not s then
    s = {latencies_us = {}, errors = {}, samples = {}}
    report.ops[op] = s
  end
  return s
end

local function fail(op, reason, detail)
  local s = stats(op)
  s.errors[reason] = (s.errors[reason] or 0) + 1
  if #s.samples < 3 then s.samples[#s.samples + 1] = detail end
end

local function lineage_status(body) return body:match('"lineage":%s*{.-"status":%s*"(%w+)"') end
local function first_id(body) return tonumber(body:match('"id":%s*(%d+)')) end
local function has_run(body, run_id) return body:find('"run_id":%s*"' .. run_id .. '"') ~= nil end

-- The operations: each returns method, path, headers, body, expected status and a check
-- of the answer's body (true, or false and why).
local ops = {}
local AUTHORIZATION = "Bearer " .. config.token

local function write_headers(content_type)
  return {["Authorization"] = AUTHORIZATION, ["Content-Type"] = content_type}
end

function ops.list_page()
  if cursor == nil then list_filter = pick(LIST_FILTERS) end  -- a new walk
  local page = cursor and "&cursor=" .. quote(cursor) or ""
  local path = "/api/artifacts?limit=50" .. list_filter .. page
  return "GET", path, nil, nil, 200, function(body)
    if not body:find('"items":%s*%[') then return false, "no items" end
    cursor = body:match('"next_cursor":%s*"([^"]+)"')
    return true
  end
end

function ops.get_persisted()
  local id = pick(read_ids)
  return "GET", "/api/artifacts/" .. id, nil, nil, 200, function(body)
    return first_id(body) == id and lineage_status(body) == "persisted",
      "lineage " .. tostring(lineage_status(body))
  end
end

function ops.get_legacy()
  local id = pick(config.legacy_ids)
  return "GET", "/api/artifacts/" .. id, nil, nil, 200, function(body)
    local status = lineage_status(body) or "?"
    report.legacy_status[status] = (report.legacy_status[status] or 0) + 1
    local linked = status ~= "repaired" or has_run(body, config.legacy_run[id])
    return first_id(body) == id and linked, "status " .. status .. ", expected run "
      .. config.legacy_run[id]
  end
end

-- Seeded images have a known sha256 (the ETag); an uploaded one is checked by size here
-- and by its stored sha256 in Python afterwards.
local function image_check(id)
  local sha = image_sha[id]
  return function(body, headers)
    local etag = headers["etag"] or headers["ETag"] or ""
    local tag_ok = sha and etag == '"' .. sha .. '"' or (not sha and etag:match('^"%x+"$'))
    local size = sha and config.image_len[sha] or image_len[id]
    return body:sub(1, 8) == PNG and tag_ok and #body == size,
      "etag " .. etag .. ", " .. #body .. " bytes; expected " .. tostring(sha) .. ", " .. size
  end
end

function ops.get_image()
  local id = pick(image_ids)
  return "GET", "/api/artifacts/" .. id .. "/image", nil, nil, 200, image_check(id)
end

function ops.get_image_304()
  local id = pick(config.image_ids)
  local headers = {["If-None-Match"] = '"' .. image_sha[id] .. '"'}
  return "GET", "/api/artifacts/" .. id .. "/image", headers,
    nil, 304, function() return true end
end

function ops.get_execution()
  local n = math.random(#config.executions)
  local run_id = config.execution_runs[n]
  return "GET", "/api/executions/" .. quote(config.executions[n]), nil, nil, 200, function(body)
    local run_at = body:find('"run":%s*{')
    return body:find('"artifacts":%s*%[%s*{') ~= nil and run_at ~= nil
      and body:find('"run_id":%s*"' .. run_id .. '"', run_at) ~= nil, "expected run " .. run_id
  end
end

function ops.post_artifact()
  posts = posts + 1
  local kind = POST_KINDS[(posts + number - 2) % #POST_KINDS + 1]  -- threads start apart
  local n = math.random(#config.executions)
  local execution, run_id = config.executions[n], config.execution_runs[n]
  local name = string.format("load %s %d-%d-%d", kind, number, posts, math.random(1e9))
  local workflow, extra = config.workflow_id, nil
  if kind == "chart" then
    workflow, execution = config.late_workflow_id, string.format("late-%d-%d-%d", number, posts,
      math.random(1e9))
    extra = '"payload":{"chart_type":"daily"}'
  elseif kind == "signal" then
    extra = string.format('"run_id":"%s","experiment_id":"%s",'
      .. '"payload":{"action":"BUY","confidence":0.72}',
      run_id, config.execution_experiments[n])
  else
    extra = string.format('"payload":{"prompt":"Analyse %s","response":"Momentum is positive.",'
      .. '"model_name":"gpt-4o-mini"}', name)
  end
  local body = string.format('{"type":"%s","name":"%s","symbol":"%s","workflow_id":"%s",'
    .. '"execution_id":"%s","step_name":"load_%s",%s}', kind, name,
    pick({"TSLA", "MSFT", "NVDA"}), workflow, execution, kind, extra)
  return "POST", "/api/artifacts", write_headers("application/json"), body, 201, function(answer)
    local id, status = first_id(answer), lineage_status(answer)
    if id == nil then return false, "no id" end
    report.posted[#report.posted + 1] = {id, kind, name}
    if kind == "chart" then
      awaiting[#awaiting + 1] = id
      return status == "pending", "late chart " .. id .. ": lineage " .. tostring(status)
    end
    if status ~= "persisted" or not has_run(answer, run_id) then
      return false, string.format("%s %d: lineage %s, expected run %s", kind, id,
        tostring(status), run_id)
    end
    read_ids[#read_ids + 1] = id
    return true
  end
end

function ops.put_image()
  if awaiting_head > #awaiting then return ops.post_artifact() end  -- all have images
  local id = awaiting[awaiting_head]
  awaiting_head = awaiting_head + 1
  local data = variant(chart_png, id)
  local path = "/api/artifacts/" .. id .. "/image"
  return "PUT", path, write_headers("image/png"), data, 200, function(body)
    if not body:find('"image_url":%s*"') then return false, "chart " .. id .. ": no image_url" end
    report.uploaded[#report.uploaded + 1] = id
    image_len[id] = #data
    image_ids[#image_ids + 1] = id
    return true
  end
end

function ops.list_repairs()
  local path = "/api/lineage/repairs?limit=50"
  if math.random() < 0.5 then
    path = "/api/lineage/repairs?artifact_id=" .. pick(config.legacy_ids)
  end
  return "GET", path, nil, nil, 200, function(body)
    return body:find('"items":%s*%[') ~= nil, "no items"
  end
end

function ops.ui_list()
  return "GET", "/artifacts" .. pick({"", "?symbol=TSLA", "?type=chart"}), nil, nil, 200,
    function(body) return body:find("</html>", 1, true) ~= nil, "not a whole page" end
end

local function ui_page(suffix)
  local pool = math.random() < 0.5 and read_ids or config.legacy_ids
  return "GET", "/artifacts/" .. pick(pool) .. suffix, nil, nil, 200, function(body)
    return body:find(RIBBON, 1, true) ~= nil, "no workflow context ribbon"
  end
end

function ops.ui_detail() return ui_page("") end
function ops.ui_drawer() return ui_page("/drawer") end

-- wrk's hooks --------------------------------------------------------------------------
-- Each connection first walks every operation once, the reads from its own starting
-- point and then the writes (slowest on a starved machine: a stuck post must not keep
-- the reads from being asked); then it picks by weight.
local walk = {}

local function choose()
  if #walk == 0 and sent == 1 then
    local reads = {}
    for _, choice in ipairs(choices) do
      if not WRITES[choice[1]] then reads[#reads + 1] = choice[1] end
    end
    for i = 1, #reads do walk[i] = reads[(number + i - 2) % #reads + 1] end
    walk[#walk + 1], walk[#walk + 2] = "post_artifact", "put_image"
  end
  if sent <= #walk then return walk[sent] end
  local roll = math.random() * total_weight
  for _, choice in ipairs(choices) do
    if roll < choice[2] then return choice[1] end
  end
  return choices[#choices][1]
end

local probed = false

function request()
  -- wrk asks thread 1 for one request before the run, to inspect it, and never sends it.
  if number == 1 and not probed then
    probed = true
    return wrk.format("GET", "/api/health")
  end
  if pending then  -- wrk reconnected: the server closed the connection, or a socket failed
    fail(pending.op, "no answer (connection closed or failed)", string.format(
      "%s, sent %.3f s before (request %d of thread %d)", pending.what,
      (common.now_us() - pending.started) / 1e6, sent, number))
  end
  sent = sent + 1
  local op = choose()
  if op == "put_image" and awaiting_head > #awaiting then op = "post_artifact" end
  local method, path, headers, body, expect, check = ops[op]()
  pending = {op = op, what = method .. " " .. path, expect = expect, check = check,
             started = common.now_us()}
  return wrk.format(method, path, headers, body)
end

function response(status, headers, body)
  local p = pending
  pending = nil
  if p == nil then return end
  local elapsed = common.now_us() - p.started
  if status ~= p.expect then
    return fail(p.op, "HTTP " .. status .. " (expected " .. p.expect .. ")",
      p.what .. ": " .. body:sub(1, 160))
  end
  local ran, ok, why = pcall(p.check, body, headers)
  if not ran then return fail(p.op, "check raised", p.what .. ": " .. tostring(ok)) end
  if not ok then return fail(p.op, "wrong body", p.what .. ": " .. tostring(why)) end
  local s = stats(p.op)
  s.latencies_us[#s.latencies_us + 1] = elapsed
end

-- main state: one JSON line with wrk's summary and every thread's report. wrk's
-- thread:get() crashes copying nested tables, so each thread hands over its report as
-- a JSON string (made on demand by the global lookup below); Python merges them.
setmetatable(_G, {__index = function(_, key)
  if key ~= "report_json" then return nil end
  -- wrk stops with this thread's last request unanswered: say which, and since when.
  if pending then
    report.in_flight = {{pending.op, (common.now_us() - pending.started) / 1e6}}
  end
  return common.encode(report)
end})

function done(summary, latency, requests)
  local reports = {}
  for _, thread in ipairs(threads) do reports[#reports + 1] = thread:get("report_json") end
  local head = common.encode(common.summary(summary, latency))
  common.emit(head:sub(1, -2) .. ',"threads":[' .. table.concat(reports, ",") .. "]}")
end
