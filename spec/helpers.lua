-- Helpers for the specs that talk to the fixture provider
-- (tests/provider/provider.py).  `sh tests/run.sh spec` starts the
-- provider and exports UNHOOK_TEST_URL.

-- The engine's Lua module is the C library build/lua/unhook.so.  .busted
-- puts "scripts/?/init.lua" on package.path, and Lua tries package.path
-- before package.cpath, so a plain `require "unhook"` under busted finds
-- the runtime's scripts/unhook/init.lua (which fails outside the engine).
-- Load the C module from package.cpath and register it as "unhook".
local function c_module()
  local m = package.loaded.unhook
  if type(m) == "table" and m.run and m.check and m.register then return m end
  local path, err = package.searchpath("unhook", package.cpath)
  if not path then error("cannot find the unhook C module on package.cpath: " .. err, 0) end
  local open = assert(package.loadlib(path, "luaopen_unhook"))
  m = open("unhook", path)
  package.loaded.unhook = m
  return m
end

local unhook = c_module()
local json = unhook.json

local H = {}
H.unhook = unhook

-- A second, independent engine (its own connection cache and host state).
function H.new_engine()
  local path = assert(package.searchpath("unhook", package.cpath))
  return assert(package.loadlib(path, "luaopen_unhook"))("unhook", path)
end

local URL = os.getenv("UNHOOK_TEST_URL")
if not URL or URL == "" then
  error("UNHOOK_TEST_URL is not set: run the specs with `sh tests/run.sh spec`, "
    .. "which starts the fixture provider and exports its URL", 0)
end
URL = URL:gsub("/+$", "")
H.url = URL
H.port = assert(tonumber(URL:match(":(%d+)$")), "UNHOOK_TEST_URL has no port: " .. URL)
H.token = "test-token"
H.json = json

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
H.shell_quote = shell_quote

local function write_file(path, text)
  local f = assert(io.open(path, "wb"))
  assert(f:write(text))
  assert(f:close())
end
H.write_file = write_file

function H.read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- JSON decode with integral numbers as Lua integers (lua-cjson gives
-- floats, and 12345678.0 would not format as a path segment).
local function ints(v)
  if type(v) == "number" then return math.tointeger(v) or v end
  if type(v) == "table" then
    for k, x in pairs(v) do v[k] = ints(x) end
  end
  return v
end
function H.decode(text) return ints(json.decode(text)) end

-- Run a shell command; returns its stdout and whether it exited with 0.
function H.sh(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

-- A control request to the provider.  Returns the decoded JSON answer.
function H.control(method, path, body)
  local cmd = { "curl -s -S --max-time 10 -X", shell_quote(method) }
  local tmp
  if body ~= nil then
    tmp = os.tmpname()
    write_file(tmp, type(body) == "string" and body or json.encode(body))
    cmd[#cmd + 1] = "-H 'Content-Type: application/json' --data-binary @" .. shell_quote(tmp)
  end
  cmd[#cmd + 1] = shell_quote(URL .. path)
  local out, ok = H.sh(table.concat(cmd, " ") .. " 2>&1")
  if tmp then os.remove(tmp) end
  if not ok then error("control " .. method .. " " .. path .. " failed: " .. out, 2) end
  local dok, v = pcall(H.decode, out)
  if not dok then
    error("control " .. method .. " " .. path .. ": answer is not JSON: " .. out, 2)
  end
  return v
end

function H.reset() return H.control("POST", "/_control/reset") end

-- Seed n GitHub hooks under owner/repo; returns their ids.
function H.seed(owner, repo, n)
  return H.control("POST", "/_control/seed", { owner = owner, repo = repo, count = n or 1 }).ids
end

-- Seed n hooks in a generic collection (a path under /api/); returns ids.
function H.seed_collection(collection, n)
  return H.control("POST", "/_control/seed", { collection = collection, count = n or 1 }).ids
end

-- Queue canned answers for requests to path (nil: any path) with method
-- (nil: any method).  A path ending in "*" is a prefix.
function H.script(method, path, responses)
  local s = { method = method, responses = responses }
  if path and path:sub(-1) == "*" then s.prefix = path:sub(1, -2)
  else s.path = path end
  return H.control("POST", "/_control/script", s)
end

-- The provider's request log (every non-control request, in order).
function H.requests() return H.control("GET", "/_control/requests") end

-- The flow's report: the JSON body of its last POST to /api/report.
function H.report()
  local log = H.requests()
  for i = #log, 1, -1 do
    if log[i].method == "POST" and log[i].path == "/api/report" then
      return H.decode(log[i].body)
    end
  end
  error("the flow sent no report")
end

-- The last logged request (or nil).
function H.last_request()
  local log = H.requests()
  return log[#log]
end

function H.hooks() return H.control("GET", "/_control/hooks") end

-- Header lookup in a logged request, case-insensitive.
function H.header(req, name)
  for k, v in pairs(req.headers or {}) do
    if k:lower() == name:lower() then return v end
  end
  return nil
end

-- Temporary files and folders made by these helpers; H.cleanup() removes
-- them (call it from a file-level teardown).
local made = {}
function H.tmpname()
  local p = os.tmpname()
  made[#made + 1] = p
  return p
end

function H.cleanup()
  for i = #made, 1, -1 do
    os.execute("rm -rf " .. shell_quote(made[i]))
    made[i] = nil
  end
end

-- Write a connection JSON file; returns its path.  Defaults: the
-- provider's URL and bearer test-token; fields of tbl replace them
-- (auth = { type = "none" } for no credentials; false drops a field).
function H.connection(tbl)
  local c = { base_url = URL, auth = { type = "bearer", token = H.token } }
  for k, v in pairs(tbl or {}) do
    if v == false then c[k] = nil else c[k] = v end
  end
  local path = H.tmpname()
  write_file(path, json.encode(c))
  return path
end

-- Write a connector folder from { ["connector.lua"] = src, ["flows/x.lua"] = src };
-- returns its path.
function H.connector(files)
  local dir = H.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. shell_quote(dir)))
  for rel, src in pairs(files) do
    local sub = rel:match("^(.*)/[^/]*$")
    if sub then assert(os.execute("mkdir -p " .. shell_quote(dir .. "/" .. sub))) end
    write_file(dir .. "/" .. rel, src)
  end
  return dir
end

-- A connector with one event "e" whose deregistration flow is src
-- (flows/d.lua).  opts: options (Lua source of the options table),
-- inputs (source of the inputs mapping), headers (source), base_url,
-- event (more fields of the event, as source, e.g. "gone = { 404 },").
function H.flow_connector(src, opts)
  opts = opts or {}
  local manifest = table.concat({
    "return {",
    '  name = "' .. (opts.name or "t") .. '",',
    opts.base_url and ('  base_url = "' .. opts.base_url .. '",') or "",
    '  auth = "bearer",',
    opts.headers and ("  headers = " .. opts.headers .. ",") or "",
    "  events = {",
    "    e = {",
    "      options = " .. (opts.options or "{}") .. ",",
    opts.event or "",
    "      deregistration = {",
    '        flow = "flows/d.lua",',
    "        inputs = " .. (opts.inputs or "{}") .. ",",
    "      },",
    "    },",
    "  },",
    "}",
  }, "\n")
  return H.connector { ["connector.lua"] = manifest, ["flows/d.lua"] = src }
end

-- Run the deregistration flow of a connector made by flow_connector.
function H.run(dir, args)
  local req = { connector = dir, event = "e", connection = H.connection() }
  for k, v in pairs(args or {}) do req[k] = v end
  return unhook.run(req)
end

-- Run Lua code in a separate lua5.4 process with the in-tree module
-- (for cases that could poison or crash the test process).  Returns
-- its combined output and whether it exited with 0.
function H.lua_subprocess(code, timeout)
  local f = os.tmpname()
  write_file(f, 'package.cpath = "build/lua/?.so;" .. package.cpath\n'
    .. 'package.path = "spec/?.lua;scripts/?.lua;" .. package.path\n' .. code)
  local out, ok = H.sh("timeout " .. (timeout or 60) .. " lua5.4 " .. shell_quote(f) .. " 2>&1")
  os.remove(f)
  return out, ok
end

return H
