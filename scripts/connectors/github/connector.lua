-- GitHub repository webhooks.
-- REST API: https://docs.github.com/rest/repos/webhooks
--   create: POST   /repos/{owner}/{repo}/hooks
--   delete: DELETE /repos/{owner}/{repo}/hooks/{hook_id}
local function repo_options()
  local o = {
    owner = { type = "string", required = true, description = "account that owns the repository" },
    repo = { type = "string", required = true, description = "repository name" },
    url = { type = "string", description = "payload URL the webhook delivers to" },
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
