-- GitHub repository webhooks.
-- REST API: https://docs.github.com/rest/repos/webhooks
--   create: POST   /repos/{owner}/{repo}/hooks
--   delete: DELETE /repos/{owner}/{repo}/hooks/{hook_id}
--   list:   GET    /repos/{owner}/{repo}/hooks (paginated: Link header)
local function repo_options()
  local o = {
    owner = { type = "string", required = true, description = "account that owns the repository" },
    repo = { type = "string", required = true, description = "repository name" },
    url = { type = "string", description = "payload URL the webhook delivers to" },
    url_prefix = { type = "string",
                   description = "reconcile: webhooks whose payload URL starts with this are ours" },
  }
  return o
end

local function event(name)
  return {
    description = "GitHub '" .. name .. "' events of one repository",
    options = repo_options(),
    registration = {
      flow = "flows/register.lua",
      inputs = { owner = option "owner", repo = option "repo", url = option "url",
                 events = { name } },
    },
    deregistration = {
      flow = "flows/deregister.lua",
      inputs = { owner = option "owner", repo = option "repo" },
    },
    list = {
      flow = "flows/list.lua",
      inputs = { owner = option "owner", repo = option "repo" },
    },
    match = "id",
    -- ours: delivers to our URL prefix, and for this event
    owned = function(hook, ctx)
      local prefix = ctx.instance.options.url_prefix
      local url = type(hook.config) == "table" and hook.config.url
      if not prefix or type(url) ~= "string" or url:sub(1, #prefix) ~= prefix then
        return false
      end
      for _, e in ipairs(hook.events or {}) do
        if e == name then return true end
      end
      return false
    end,
  }
end

return {
  name = "github",
  version = "1.0.0",
  description = "GitHub repository webhooks",
  base_url = "https://api.github.com",
  auth = "bearer",
  headers = {
    Accept = "application/vnd.github+json",
    ["X-GitHub-Api-Version"] = "2022-11-28",
  },
  events = {
    push = event("push"),
    issues = event("issues"),
    pull_request = event("pull_request"),
  },
}
