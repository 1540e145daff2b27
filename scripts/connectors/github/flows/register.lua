-- Create a repository webhook; its JSON (with the hook id) is the
-- registration data.
return {
  description = "Create a repository webhook",
  inputs = {
    owner = { type = "string", required = true },
    repo = { type = "string", required = true },
    url = { type = "string", required = true, description = "payload URL" },
    events = { type = "array", required = true },
  },
  run = function(ctx, input)
    local resp = ctx.http.post("/repos/{owner}/{repo}/hooks", {
      path = { owner = input.owner, repo = input.repo },
      json = {
        name = "web",
        active = true,
        events = input.events,
        config = { url = input.url, content_type = "json" },
      },
    })
    return resp.json
  end,
}
