-- The examples of scripts/README.md run, so that the reference cannot rot.
--
-- A ```lua block after a line `<!-- example -->` is the body of a
-- registration flow (ctx and input in scope) that must finish; after
-- `<!-- example: stops -->`, of a deregistration flow that must end early,
-- done (branching.continue_if).  A block after `<!-- file: PATH -->` is a
-- file of the connector the examples run in (a helper flow, a card).
-- After `<!-- example: host -->`, a block is a Lua host's program: it runs
-- in this process with `unhook` (the module), `connection` (a connection
-- file for the fixture provider) and `tmp` (an empty folder) in scope,
-- and must finish without error.
-- Each example gets an event of its own in one temporary connector, and
-- runs against the fixture provider.
local H = require "helpers"
local unhook = require "unhook"   -- the C module helpers registered

local README = "scripts/README.md"

-- { kind = "example" | "stops" | "file", path =, line = (first code line), code = }
local function blocks(text)
  local lines = {}
  for l in (text .. "\n"):gmatch("(.-)\r?\n") do lines[#lines + 1] = l end
  local found, i = {}, 1
  while i <= #lines do
    local marker = lines[i]:match("^<!%-%-%s*(.-)%s*%-%->%s*$")
    local kind, path
    if marker == "example" then kind = "example"
    elseif marker == "example: stops" then kind = "stops"
    elseif marker == "example: host" then kind = "host"
    elseif marker and marker:match("^file:") then kind, path = "file", marker:match("^file:%s*(%S+)$")
    elseif marker and marker:match("^example") then
      error(string.format("%s:%d: unknown marker '%s'", README, i, marker))
    end
    if kind then
      if lines[i + 1] ~= "```lua" then
        error(string.format("%s:%d: '%s' must be followed by a ```lua block", README, i, marker))
      end
      local code, j = {}, i + 2
      while lines[j] and lines[j] ~= "```" do
        code[#code + 1] = lines[j]
        j = j + 1
      end
      if not lines[j] then error(string.format("%s:%d: the block never ends", README, i + 1)) end
      found[#found + 1] = { kind = kind, path = path, line = i + 2, code = table.concat(code, "\n") }
      i = j
    end
    i = i + 1
  end
  return found
end

local FLOW_HEAD = "return { run = function(ctx, input)\ndo\n"   -- the body starts on line 3
local ENDS = {
  example = "\nend\nreturn { reached = true }\nend }\n",
  stops = "\nend\nerror('the example did not stop', 0)\nend }\n",
}

-- The temporary connector: the file blocks, and one event per example.
local function connector(found)
  local files, events = { ["flows/noop.lua"] = "return { run = function() end }" }, {}
  local examples, hosts = {}, {}
  for _, b in ipairs(found) do
    if b.kind == "file" then
      files[b.path] = b.code
    elseif b.kind == "host" then
      hosts[#hosts + 1] = b
    else
      local n = #examples + 1
      local rel = string.format("flows/example_%d.lua", n)
      files[rel] = FLOW_HEAD .. b.code .. ENDS[b.kind]
      if b.kind == "stops" then
        events[#events + 1] = string.format(
          "ex%d = { gone = {}, deregistration = { flow = %q } },", n, rel)
      else
        events[#events + 1] = string.format(
          "ex%d = { registration = { flow = %q }, deregistration = { flow = 'flows/noop.lua' } },", n, rel)
      end
      b.event, b.rel = "ex" .. n, rel
      examples[n] = b
    end
  end
  files["connector.lua"] = "return { name = 'docs', auth = 'bearer', events = {\n"
    .. table.concat(events, "\n") .. "\n} }\n"
  return H.connector(files), examples, hosts
end

-- "DIR/flows/example_N.lua:K:" in a message as the README's line.
local function readme_lines(msg, dir, b)
  return (msg:gsub(dir:gsub("%p", "%%%0") .. "/" .. b.rel:gsub("%p", "%%%0") .. ":(%d+):", function(k)
    return string.format("%s:%d:", README, b.line + tonumber(k) - 3)
  end))
end

local found = blocks(H.read_file(README))
local dir, examples, hosts = connector(found)

describe("scripts/README.md", function()
  teardown(function() H.cleanup() end)

  it("has examples, and the connector they run in passes check", function()
    assert.is_true(#examples >= 40, "only " .. #examples .. " examples")
    local ok, err = unhook.check(dir)
    assert(ok, err)
  end)

  it("has an example for every built-in card", function()
    -- the card names, from a flow walking ctx.cards
    local probe = H.connector {
      ["connector.lua"] = [[return { name = "probe", events = { e = {
        registration = { flow = "flows/r.lua" }, deregistration = { flow = "flows/r.lua" } } } }]],
      ["flows/r.lua"] = [[return { run = function(ctx)
        local names = {}
        local function walk(t, prefix)
          for k, v in pairs(t) do
            if type(v) == "table" then walk(v, prefix .. k .. ".")
            else names[#names + 1] = prefix .. k end
          end
        end
        walk(ctx.cards, "")
        table.sort(names)
        return names
      end }]],
    }
    local res = assert(unhook.register { connector = probe, event = "e" })
    local names = H.decode(assert(res.registration, res.message))
    assert.is_true(#names >= 40)
    local code = {}
    for _, b in ipairs(examples) do code[#code + 1] = b.code end
    code = table.concat(code, "\n")
    local missing = {}
    for _, n in ipairs(names) do
      if not code:find("ctx.cards." .. n .. "(", 1, true) and not code:find("ctx.cards." .. n .. " ", 1, true)
         and not code:find("ctx.cards." .. n .. ",", 1, true) then
        missing[#missing + 1] = n
      end
    end
    assert.same({}, missing)
  end)

  for _, b in ipairs(hosts) do
    it(string.format("host example at %s:%d runs", README, b.line), function()
      H.reset()
      local tmp = H.tmpname()
      os.remove(tmp)
      os.execute("mkdir -p " .. H.shell_quote(tmp))
      local env = setmetatable({ unhook = unhook, connection = H.connection(), tmp = tmp },
        { __index = _G })
      local chunk = assert(load(string.rep("\n", b.line - 1) .. b.code, "@" .. README, "t", env))
      chunk()
    end)
  end

  for _, b in ipairs(examples) do
    it(string.format("example at %s:%d runs", README, b.line), function()
      H.reset()
      -- the fixture provider's collection answers PUT and PATCH
      H.script("PUT", "/api/hooks*", { { status = 200, body = { updated = true } } })
      H.script("PATCH", "/api/hooks*", { { status = 200, body = { updated = true } } })
      local run = b.kind == "stops" and unhook.run or unhook.register
      local res, err = run { connector = dir, event = b.event, connection = H.connection() }
      assert(res, err)
      if res.outcome ~= "done" then
        error(string.format("%s (%s)", readme_lines(tostring(res.message), dir, b), res.outcome), 0)
      end
      if b.kind == "example" then assert.same({ reached = true }, H.decode(res.registration)) end
    end)
  end
end)

-- The busted spec of "Testing flows with busted": the ```lua block after
-- `<!-- spec -->` runs as a spec of its own, with the files of the
-- `<!-- spec-file: PATH -->` blocks written to a temporary folder (a
-- relative connector in the spec is taken from there).  It must need no
-- server: the provider is not touched.
local function spec_blocks(text)
  local lines, files, spec = {}, {}, nil
  for l in (text .. "\n"):gmatch("(.-)\r?\n") do lines[#lines + 1] = l end
  for i, l in ipairs(lines) do
    local marker = l:match("^<!%-%-%s*(.-)%s*%-%->%s*$")
    local path = marker and marker:match("^spec%-file:%s*(%S+)$")
    if marker == "spec" or path then
      assert(lines[i + 1] == "```lua", string.format("%s:%d: '%s' must be followed by a ```lua block", README, i, marker))
      local code, j = {}, i + 2
      while lines[j] ~= "```" do
        assert(lines[j], string.format("%s:%d: the block never ends", README, i + 1))
        code[#code + 1] = lines[j]
        j = j + 1
      end
      if path then files[path] = table.concat(code, "\n")
      else spec = { line = i + 2, code = table.concat(code, "\n") } end
    end
  end
  return files, spec
end

local spec_files, spec = spec_blocks(H.read_file(README))
assert(spec, README .. " has no <!-- spec --> block")
local spec_dir       -- written in setup: the other describe's teardown cleans up
local proxy = setmetatable({}, { __index = unhook })
for _, fn in ipairs({ "run", "register" }) do
  proxy[fn] = function(t)
    local c = {}
    for k, v in pairs(t) do c[k] = v end
    if type(c.connector) == "string" and c.connector:sub(1, 1) ~= "/" then
      c.connector = spec_dir .. "/" .. c.connector
    end
    return unhook[fn](c)
  end
end
local env = setmetatable({
  require = function(n) if n == "unhook" then return proxy end return require(n) end,
}, { __index = _ENV })
local chunk = assert(load(string.rep("\n", spec.line - 1) .. spec.code, "@" .. README, "t", env))
describe("scripts/README.md spec at line " .. spec.line, function()
  local before
  setup(function()
    spec_dir = H.connector(spec_files)
    assert(unhook.check(spec_dir .. "/acme"))
    before = #H.requests()
  end)
  teardown(function()
    assert.equal(before, #H.requests(), "the README's spec reached the provider")
    H.cleanup()
  end)
  chunk()
end)
