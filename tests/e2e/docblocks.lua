-- Extract the examples of a Markdown file so tests can run them.
-- A fenced block preceded by "<!-- file: PATH -->" is written to DIR/PATH;
-- blocks preceded by "<!-- run -->" are appended to DIR/run.sh.
-- usage: lua5.4 tests/e2e/docblocks.lua FILE.md DIR
local md, dir = arg[1], arg[2]
local text = assert(io.open(md)):read("a")
local pending, n = nil, 0
local inblock, buf = false, {}
for line in (text .. "\n"):gmatch("(.-)\n") do
  if inblock then
    if line:match("^```") then
      inblock = false
      local target = pending == "run" and dir .. "/run.sh" or dir .. "/" .. pending
      os.execute("mkdir -p '" .. target:match("(.*)/") .. "'")
      local f = assert(io.open(target, pending == "run" and "a" or "w"))
      f:write(table.concat(buf, "\n"), "\n")
      f:close()
      n, pending = n + 1, nil
    else
      buf[#buf + 1] = line
    end
  elseif line:match("^```") and pending then
    inblock, buf = true, {}
  else
    local f = line:match("^<!%-%- file: (%S+) %-%->$")
    if f then pending = f elseif line:match("^<!%-%- run %-%->$") then pending = "run"
    elseif line ~= "" then pending = nil end
  end
end
io.write(n, " examples\n")
