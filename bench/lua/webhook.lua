-- POST signed Stripe events, each once. Argument: a file prefix; thread n sends the lines of
-- "<prefix><n>.txt", each "<Stripe-Signature value><TAB><event JSON>", signed just before the
-- load. A thread that has sent them all stops (the runner sized the files to outlast the load,
-- and fails the run if one did not).
local requests, counter = {}, 0
local thread_count = 0

function setup(thread)
  thread:set("thread_id", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  for line in io.lines(args[1] .. thread_id .. ".txt") do
    local signature, body = line:match("^([^\t]+)\t(.+)$")
    requests[#requests + 1] = wrk.format("POST", "/webhooks/stripe/", {
      ["Content-Type"] = "application/json",
      ["Stripe-Signature"] = signature,
    }, body)
  end
end

function request()
  counter = counter + 1
  if counter >= #requests then
    wrk.thread:stop()
  end
  return requests[math.min(counter, #requests)]
end
