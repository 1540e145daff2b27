-- ctx.http: requests that look blocking but yield to the scheduler.
-- The Lua half checks and normalises the request; the C half (core.send)
-- fills the URL template, injects credentials and runs the transfer.
local name, core = ...

local unhook = require "unhook"

local _M = {}

local type, pairs, ipairs, tostring, error, select = type, pairs, ipairs, tostring, error, select
local math_type, fmt, concat, sort, lower = math.type, string.format, table.concat, table.sort, string.lower
local escape, send, quick = core.urlescape, core.send, core.quick
local json = require("unhook").json
local OUTCOME = require("unhook.codes").OUTCOME

local RETRYABLE = { [408] = true, [425] = true, [429] = true }
_M.RETRYABLE = RETRYABLE

-- Whether v is a table with keys 1..#v and no others.
local function is_list(v)
  if type(v) ~= "table" then return false end
  local count = 0
  for _ in pairs(v) do count = count + 1 end
  return count == #v
end

local function text(v)
  if type(v) == "string" then return v end
  if math_type(v) == "integer" then return fmt("%d", v) end
  if math_type(v) == "float" and v == math.floor(v) and v > -2^53 and v < 2^53 then
    return fmt("%d", v)
  end
  return tostring(v)
end

local function is_scalar(v)
  local t = type(v)
  return t == "string" or t == "number" or t == "boolean"
end

-- Misuse errors point at the flow's line: level 4 is the flow calling a
-- method wrapper, which calls request, which calls check; a step of
-- request calls check_step, one level deeper.
local function check(cond, fn, msg, ...)
  if not cond then error(fmt("ctx.http.%s: " .. msg, fn, ...), 4) end
end

local function check_step(cond, fn, msg, ...)
  if not cond then error(fmt("ctx.http.%s: " .. msg, fn, ...), 5) end
end

local function clean(s)
  return not s:find("[%z\r\n]")
end

-- methods as flows spell them most, and their upper case
local METHODS = { GET = "GET", POST = "POST", PUT = "PUT", PATCH = "PATCH", DELETE = "DELETE",
                  HEAD = "HEAD", get = "GET", post = "POST", put = "PUT", patch = "PATCH",
                  delete = "DELETE", head = "HEAD" }

local FIELDS = { method = true, url = true, path = true, query = true, headers = true,
                 body = true, json = true, timeout = true, ok = true, gone = true }

local function encode_query(q, fn)
  local keys = {}
  for k in pairs(q) do
    check(type(k) == "string", fn, "query: keys must be strings, got %s", type(k))
    keys[#keys + 1] = k
  end
  sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = q[k]
    if type(v) == "table" then
      for i, item in ipairs(v) do
        check(is_scalar(item), fn, "query.%s[%d]: expected string, number or boolean, got %s", k, i, type(item))
        parts[#parts + 1] = escape(k) .. "=" .. escape(text(item))
      end
    else
      check(is_scalar(v), fn, "query.%s: expected string, number, boolean or list, got %s", k, type(v))
      parts[#parts + 1] = escape(k) .. "=" .. escape(text(v))
    end
  end
  return concat(parts, "&")
end

local function http_error(resp, gone)
  local body = core.redact(resp.body or "")
  local snippet = #body > 2000 and (body:sub(1, 2000) .. "...") or body
  return unhook.error("http", fmt("HTTP %d from %s %s%s", resp.status, resp.method, resp.url,
    snippet ~= "" and (": " .. snippet) or ""), {
    status = resp.status, body = resp.body, headers = resp.headers,
    retry_after = resp.retry_after, method = resp.method, url = resp.url, gone = gone,
  })
end

-- Steps of a request; each checks one part of req.

local function path_values(req, fn)
  local path = {}
  if req.path ~= nil then
    check_step(type(req.path) == "table", fn, "path: expected table, got %s", type(req.path))
    for k, v in pairs(req.path) do
      check_step(is_scalar(v), fn, "path.%s: expected string or number, got %s", tostring(k), type(v))
      path[k] = text(v)
    end
  end
  return path
end

-- The manifest's headers, replaced by the request's of the same name
-- (in any case); seen maps lower-case names to the name used.
local function merge_headers(req, fn, defaults)
  local headers, seen = {}, {}
  for k, v in pairs(defaults) do headers[k] = v; seen[lower(k)] = k end
  if req.headers ~= nil then
    check_step(type(req.headers) == "table", fn, "headers: expected table, got %s", type(req.headers))
    for k, v in pairs(req.headers) do
      check_step(type(k) == "string" and is_scalar(v), fn, "headers.%s: expected string, got %s", tostring(k), type(v))
      check_step(k:match("^[%w!#$%%&'*+.^_`|~-]+$"), fn, "headers: '%s' is not a header name", k)
      check_step(clean(text(v)), fn, "headers.%s: value contains CR, LF or NUL", k)
      local old = seen[lower(k)]
      if old then headers[old] = nil end
      headers[k] = text(v); seen[lower(k)] = k
    end
  end
  return headers, seen
end

-- body or json (encoded, with a Content-Type unless one is given).
local function request_body(req, fn, headers, seen)
  local body = req.body
  if req.json ~= nil then
    check_step(body == nil, fn, "give body or json, not both")
    local ok, enc = pcall(json.encode, req.json)
    check_step(ok, fn, "json: cannot encode: %s", tostring(enc))
    body = enc
    if not seen["content-type"] then headers["Content-Type"] = "application/json" end
  elseif body ~= nil then
    check_step(type(body) == "string", fn, "body: expected string, got %s", type(body))
  end
  return body
end

local function ok_statuses(req, fn)
  if req.ok == nil then return nil end
  check_step(type(req.ok) == "table", fn, "ok: expected a list of statuses, got %s", type(req.ok))
  local okset = {}
  for _, s in ipairs(req.ok) do okset[s] = true end
  return okset
end

local function header_lines(headers)
  local lines, names = {}, {}
  for k in pairs(headers) do names[#names + 1] = k end
  sort(names)
  for i, k in ipairs(names) do lines[i] = k .. ": " .. headers[k] end
  return lines
end

-- Whether a body of this Content-Type may be read as JSON: a JSON type
-- (application/json, application/...+json), text/plain, or none at all
-- (providers that forget the header are common; HTML never is JSON).
local function may_be_json(ctype)
  if ctype == nil then return true end
  local mt = lower(ctype:match("^%s*([^;%s]*)") or "")
  return mt == "" or mt == "text/plain" or mt:find("json", 1, true) ~= nil
end
_M.may_be_json = may_be_json

-- What came back: json decoded when the body parses as JSON and its
-- type allows it (may_be_json); a status outside 2xx and not in ok raises.
local function response(resp, okset, gone)
  if resp.body ~= "" and may_be_json(resp.headers["content-type"]) then
    local ok, data = pcall(json.decode, resp.body)
    if ok then resp.json = data end
  end
  if (resp.status < 200 or resp.status > 299) and not (okset and okset[resp.status]) then
    error(http_error(resp, gone), 0)
  end
  return resp
end

-- A client bound to one connector and connection.
function _M.new(manifest, base)
  local defaults = manifest.headers or {}
  local hosts = manifest.hosts or {}
  local client = {}

  -- the manifest's headers as lines, for requests that add none
  local default_lines = header_lines(defaults)

  local function request(req, fn)
    fn = fn or "request"
    check(type(req) == "table", fn, "expected a request table, got %s", type(req))
    for k in pairs(req) do
      if not FIELDS[k] then check(false, fn, "unknown request field '%s'", tostring(k)) end
    end
    local method = req.method or "GET"
    local upper = METHODS[method]
    if not upper then
      check(type(method) == "string", fn, "method: expected string, got %s", type(method))
      upper = method:upper()
      check(upper:match("^[A-Z]+$"), fn, "method: '%s' is not an HTTP method", method)
    end
    check(type(req.url) == "string", fn, "url: expected string, got %s", type(req.url))
    local path = path_values(req, fn)
    local headers, seen, lines, body
    if req.headers == nil and req.json == nil then
      lines = default_lines             -- read, never changed, by send
      body = request_body(req, fn)
    else
      headers, seen = merge_headers(req, fn, defaults)
      body = request_body(req, fn, headers, seen)
      lines = header_lines(headers)
    end
    if req.timeout ~= nil then
      check(type(req.timeout) == "number" and req.timeout > 0, fn, "timeout: expected a positive number of seconds")
    end
    local okset = ok_statuses(req, fn)
    check(req.gone == nil or type(req.gone) == "boolean", fn, "gone: expected boolean, got %s", type(req.gone))
    local query
    if req.query ~= nil then
      check(type(req.query) == "table", fn, "query: expected table, got %s", type(req.query))
      query = encode_query(req.query, fn)
    end
    check(core.can_send(), fn, "requests must be made from the flow itself, not from a "
      .. "coroutine it created, a metamethod or an iterator")
    local resp, err = send {
      method = upper, url = req.url, path = path, base = base, hosts = hosts,
      query = query, headers = lines, body = body,
      timeout = req.timeout and math.floor(req.timeout * 1000) or nil,
    }
    if not resp then
      error(unhook.error(err.code, err.message), 0)
    end
    return response(resp, okset, req.gone)
  end

  client.request = function(req)
    local resp = request(req, "request")
    return resp
  end
  -- the common request (url, path, body) is checked, sent and decoded in
  -- C (lquick.c); anything else comes back nil, unsent, for request()
  local quick_client = { base = base, hosts = hosts, lines = default_lines }
  for _, m in ipairs({ "get", "post", "put", "patch", "delete", "head" }) do
    local upper = METHODS[m]
    client[m] = function(url, opts)
      local resp, bad = quick(quick_client, upper, url, opts)
      if resp then
        if bad then error(http_error(resp, nil), 0) end
        return resp
      elseif resp == false then
        error(unhook.error(bad.code, bad.message), 0)
      end
      if opts ~= nil and type(opts) ~= "table" then
        error(fmt("ctx.http.%s: options: expected table, got %s", m, type(opts)), 2)
      end
      local req = {}
      if opts then for k, v in pairs(opts) do req[k] = v end end
      req.method, req.url = METHODS[m], url
      local resp = request(req, m)
      return resp
    end
  end
  -- Every page of a listing, its items in one list: follows a Link
  -- header's rel="next" URL, or a cursor (opts.cursor(resp) gives the
  -- next one, sent as query parameter opts.cursor_param, "cursor" by
  -- default).  opts.items(resp) picks a page's items (default resp.json).
  local PAGE_OPTS = { items = true, cursor = true, cursor_param = true, max_pages = true }
  client.paginate = function(url, opts)
    if opts ~= nil and type(opts) ~= "table" then
      error(fmt("ctx.http.paginate: options: expected table, got %s", type(opts)), 2)
    end
    opts = opts or {}
    for _, k in ipairs({ "items", "cursor" }) do
      if opts[k] ~= nil and type(opts[k]) ~= "function" then
        error(fmt("ctx.http.paginate: %s: expected function, got %s", k, type(opts[k])), 2)
      end
    end
    local max_pages = opts.max_pages or 1000
    if math_type(max_pages) ~= "integer" or max_pages < 1 then
      error("ctx.http.paginate: max_pages: expected a positive integer", 2)
    end
    local items_of = opts.items or function(resp) return resp.json end
    local req = {}
    for k, v in pairs(opts) do if not PAGE_OPTS[k] then req[k] = v end end
    req.method, req.url = "GET", url
    local all, pages = {}, 0
    while true do
      pages = pages + 1
      if pages > max_pages then
        error(unhook.error("pagination", fmt("more than %d pages from %s", max_pages, url)), 0)
      end
      local resp = request(req, "paginate")
      local items = items_of(resp)
      -- an object where a list was expected (an error body answered 200)
      -- is no list, not an empty page
      if not is_list(items) then
        error(unhook.error("pagination", fmt("page %d of %s holds no list of items (got %s)",
          pages, url, type(items) == "table" and "an object" or type(items))), 0)
      end
      for _, it in ipairs(items) do all[#all + 1] = it end
      local link = resp.headers.link
      local nexturl = link and link:match('<([^>]+)>%s*;[^,]*rel="?next"?')
      local cursor = not nexturl and opts.cursor and opts.cursor(resp)
      if nexturl then
        req = { method = "GET", url = nexturl, headers = opts.headers, timeout = opts.timeout, ok = opts.ok }
      elseif cursor ~= nil and cursor ~= false and cursor ~= json.null and cursor ~= "" then
        local query = {}
        for k, v in pairs(opts.query or {}) do query[k] = v end
        query[opts.cursor_param or "cursor"] = cursor
        req.query = query
      else
        return all
      end
    end
  end
  return client
end

-- Whether an HTTP error may mean "already gone": a DELETE, or a request
-- the flow marked gone = true (gone = false: never).
local function may_be_gone(err)
  if err.gone ~= nil then return err.gone == true end
  return err.method == "DELETE"
end

-- Outcome of an error raised by a flow (a codes.OUTCOME value).
function _M.classify(err, gone)
  if unhook.is_error(err) then
    local c = err.code
    if c == "http" then
      if may_be_gone(err) then
        for _, s in ipairs(gone or {}) do
          if s == err.status then return OUTCOME.gone end
        end
      end
      if RETRYABLE[err.status] or err.status >= 500 then return OUTCOME.retry end
      return OUTCOME.failed
    end
    -- auth_unavailable: an OAuth2 token endpoint down or busy (auth_revoked
    -- and auth_failed dead-letter: a loop cannot fix them)
    if c == "transport" or c == "timeout" or c == "retry" or c == "auth_unavailable" then
      return OUTCOME.retry
    end
    if c == "stop" then return OUTCOME.done end
  end
  return OUTCOME.failed
end

return _M
