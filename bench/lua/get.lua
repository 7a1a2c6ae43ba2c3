-- GET the given paths in turn. Arguments: a Cookie header value ("-" for none), then the paths.
local paths, counter = {}, 0

function init(args)
  if args[1] ~= "-" then
    wrk.headers["Cookie"] = args[1]
  end
  for i = 2, #args do
    paths[#paths + 1] = args[i]
  end
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[counter % #paths + 1])
end
