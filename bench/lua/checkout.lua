-- POST the checkout form with a new e-mail every time, as many learners would.
-- Arguments: the CSRF cookie header, the CSRF form token, an e-mail prefix unique to this load,
-- then the checkout paths to post to in turn.
local cookie, token, prefix
local paths, counter = {}, 0
local thread_count = 0

function setup(thread)
  thread:set("thread_id", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  cookie, token, prefix = args[1], args[2], args[3]
  for i = 4, #args do
    paths[#paths + 1] = args[i]
  end
end

function request()
  counter = counter + 1
  local body = string.format(
    "csrfmiddlewaretoken=%s&email=%s-%d-%d%%40example.com&coupon=",
    token, prefix, thread_id, counter)
  return wrk.format("POST", paths[counter % #paths + 1], {
    ["Cookie"] = cookie,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, body)
end
