-- The launch-day mix: each request picks a kind by weight. Run with one connection per wrk
-- thread, so a thread's responses come back in the order of its requests and each latency is
-- timed per kind (wrk's own latency statistics cannot tell the kinds apart).
-- Argument: a file prefix; "<prefix>config.txt" has one line per kind,
--   "<kind>\t<weight>\t<expected status>\t<method>\t<cookie or ->\t<path>[\t<path>…]",
-- checkout kinds post a new e-mail each time ("<prefix>checkout.txt": cookie, token, e-mail
-- prefix), webhook kinds send the lines of "<prefix>events-<thread>.txt" once each.
local ffi = require("ffi")
ffi.cdef[[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock_id, bench_timespec *tp);
]]
local now_ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, now_ts) -- CLOCK_MONOTONIC
  return tonumber(now_ts.tv_sec) * 1000000 + tonumber(now_ts.tv_nsec) / 1000
end

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("thread_id", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local kinds, total_weight = {}, 0
local checkout_cookie, checkout_token, checkout_prefix
local events, next_event = {}, 0
local counter = 0
local pending_kind, started_at
-- Per kind: answers, errors (unexpected status), and the latencies (µs) in the flat global
-- "lat_<kind>" (wrk copies only flat tables between its Lua states); exhausted webhook draws.
kind_names, answers, errors, exhausted = {}, {}, {}, 0

local function split(line)
  local fields = {}
  for field in string.gmatch(line, "[^\t]+") do
    fields[#fields + 1] = field
  end
  return fields
end

function init(args)
  local prefix = args[1]
  math.randomseed(1000 + thread_id)
  for line in io.lines(prefix .. "config.txt") do
    local f = split(line)
    local kind = {
      name = f[1], weight = tonumber(f[2]), status = tonumber(f[3]), method = f[4],
      cookie = f[5], paths = {},
    }
    for i = 6, #f do
      kind.paths[#kind.paths + 1] = f[i]
    end
    total_weight = total_weight + kind.weight
    kinds[#kinds + 1] = kind
    kind_names[#kind_names + 1] = kind.name
    _G["lat_" .. kind.name], answers[kind.name], errors[kind.name] = {}, 0, 0
  end
  local checkout = io.open(prefix .. "checkout.txt")
  if checkout then
    local f = split(checkout:read("*l"))
    checkout_cookie, checkout_token, checkout_prefix = f[1], f[2], f[3]
    checkout:close()
  end
  local event_file = io.open(prefix .. "events-" .. thread_id .. ".txt")
  if event_file then
    for line in event_file:lines() do
      local signature, body = line:match("^([^\t]+)\t(.+)$")
      events[#events + 1] = wrk.format("POST", "/webhooks/stripe/", {
        ["Content-Type"] = "application/json",
        ["Stripe-Signature"] = signature,
      }, body)
    end
    event_file:close()
  end
end

local function pick()
  local draw = math.random() * total_weight
  for _, kind in ipairs(kinds) do
    draw = draw - kind.weight
    if draw <= 0 then
      return kind
    end
  end
  return kinds[#kinds]
end

local function build(kind)
  counter = counter + 1
  local path = kind.paths[counter % #kind.paths + 1]
  if kind.method == "WEBHOOK" then
    next_event = next_event + 1
    return events[next_event]
  elseif kind.method == "CHECKOUT" then
    local body = string.format(
      "csrfmiddlewaretoken=%s&email=%s-%d-%d%%40example.com&coupon=",
      checkout_token, checkout_prefix, thread_id, counter)
    return wrk.format("POST", path, {
      ["Cookie"] = checkout_cookie,
      ["Content-Type"] = "application/x-www-form-urlencoded",
    }, body)
  end
  local headers = {}
  if kind.cookie ~= "-" then
    headers["Cookie"] = kind.cookie
  end
  return wrk.format("GET", path, headers)
end

function request()
  if #kinds == 0 then
    -- wrk calls request() once in its main Lua state, where init() never ran, to check it.
    return wrk.format("GET", "/")
  end
  local kind = pick()
  while kind.method == "WEBHOOK" and next_event >= #events do
    exhausted = exhausted + 1
    kind = pick()
  end
  pending_kind, started_at = kind, now_us()
  return build(kind)
end

function response(status, headers, body)
  local kind = pending_kind
  if kind == nil then
    return
  end
  local list = _G["lat_" .. kind.name]
  list[#list + 1] = now_us() - started_at
  answers[kind.name] = answers[kind.name] + 1
  if status ~= kind.status then
    errors[kind.name] = errors[kind.name] + 1
  end
  pending_kind = nil
end

local function percentile(sorted, p)
  if #sorted == 0 then
    return 0
  end
  local index = math.max(1, math.ceil(#sorted * p / 100))
  return sorted[index]
end

-- report.lua, loaded before this file, printed wrk's own statistics; this adds each kind's.
local report_done = done

done = function(summary, latency, requests)
  report_done(summary, latency, requests)
  local merged, answered, failed, ran_out = {}, {}, {}, 0
  for _, thread in ipairs(threads) do
    local ans, err = thread:get("answers"), thread:get("errors")
    ran_out = ran_out + thread:get("exhausted")
    for _, name in ipairs(thread:get("kind_names")) do
      merged[name] = merged[name] or {}
      for _, value in ipairs(thread:get("lat_" .. name)) do
        merged[name][#merged[name] + 1] = value
      end
      answered[name] = (answered[name] or 0) + ans[name]
      failed[name] = (failed[name] or 0) + err[name]
    end
  end
  local parts = {}
  for name, list in pairs(merged) do
    table.sort(list)
    parts[#parts + 1] = string.format(
      '"%s": {"requests": %d, "errors": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, '
        .. '"max_us": %d}',
      name, answered[name], failed[name], percentile(list, 50), percentile(list, 95),
      percentile(list, 99), percentile(list, 100))
  end
  io.write(string.format('BENCH_MIX {"webhook_events_ran_out": %d, "kinds": {%s}}\n',
    ran_out, table.concat(parts, ", ")))
end
