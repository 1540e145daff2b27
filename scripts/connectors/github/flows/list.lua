-- List the repository's webhooks, every page (GitHub pages with a Link
-- header); each one has the shape the registration flow stores.
return {
  description = "List a repository's webhooks",
  inputs = {
    owner = { type = "string", required = true },
    repo = { type = "string", required = true },
    per_page = { type = "integer", default = 100 },
  },
  run = function(ctx, input)
    return ctx.http.paginate("/repos/{owner}/{repo}/hooks", {
      path = { owner = input.owner, repo = input.repo },
      query = { per_page = input.per_page },
    })
  end,
}
