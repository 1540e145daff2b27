-- A REST collection of webhooks: POST {collection} creates one and
-- answers with its id; DELETE {collection}/{id} removes it.  Many
-- services have this shape; point base_url (in the connection) at one.
local options = {
  collection = { type = "string", required = true,
                 description = "path of the hooks collection, e.g. /v1/webhooks" },
  id_field = { type = "string", default = "id",
               description = "field of the created hook that holds its id" },
  url = { type = "string", description = "payload URL the webhook delivers to" },
  events = { type = "array", description = "event names to subscribe to" },
}

return {
  name = "generic",
  version = "1.0.0",
  description = "Webhooks kept as a REST collection",
  auth = "bearer",
  events = {
    hook = {
      description = "a webhook in a REST collection",
      options = options,
      registration = {
        flow = "flows/register.lua",
        inputs = { collection = option "collection", url = option "url",
                   events = option "events" },
      },
      deregistration = {
        flow = "flows/deregister.lua",
        inputs = { collection = option "collection", id_field = option "id_field" },
      },
    },
  },
}
