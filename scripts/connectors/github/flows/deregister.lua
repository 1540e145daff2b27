-- Delete the repository webhook named by the registration data.
-- A 404 or 410 means it is already gone: the engine counts that as done.
return {
  description = "Delete a repository webhook",
  inputs = {
    owner = { type = "string", required = true },
    repo = { type = "string", required = true },
  },
  run = function(ctx, input)
    local hook_id = type(ctx.registration) == "table" and ctx.registration.id
    if not hook_id then
      unhook.fail("registration data has no hook id")
    end
    ctx.http.delete("/repos/{owner}/{repo}/hooks/{hook_id}", {
      path = { owner = input.owner, repo = input.repo, hook_id = hook_id },
    })
  end,
}
