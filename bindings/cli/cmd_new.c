/*
 * cmd_new.c -- unhook new NAME [--auth TYPE]: a connector skeleton that
 * passes check as written: the manifest, registration, deregistration
 * and list flows, a connection example and a busted spec whose HTTP is
 * given inline (no server).  Templates say @NAME@, @AUTH@, @CONN@ (the
 * spec's connection auth table), @JSONAUTH@ (the example file's) and
 * @QUERY@ (what query auth adds to a URL, as a cassette masks it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "unhook.h"
#include "cli.h"

static const char usage_new[] =
    "usage: unhook new NAME [--auth TYPE]\n"
    "\n"
    "Writes the folder NAME: a connector skeleton (connector.lua; flows/\n"
    "register.lua, deregister.lua and list.lua), connection.example.json, and\n"
    "a busted spec (spec/NAME_spec.lua, .busted) that answers the flows'\n"
    "requests inline, with no server.  'unhook check NAME' passes on it as\n"
    "written; then fill in the provider's API.  TYPE is the kind of\n"
    "credentials: bearer (default), basic, header, query or none.  NAME may\n"
    "have a folder in front (connectors/acme: the connector acme, written\n"
    "in the existing folder connectors); files are never overwritten.\n"
    "Exit 0 when written, 2 for a bad name or type or a folder that exists.\n";

static const char t_manifest[] =
    "-- @NAME@ webhooks.  Written by `unhook new`: put in the provider's API.\n"
    "--   create: POST   /hooks       (flows/register.lua)\n"
    "--   delete: DELETE /hooks/{id}  (flows/deregister.lua)\n"
    "--   list:   GET    /hooks       (flows/list.lua, for `unhook reconcile`)\n"
    "return {\n"
    "  name = \"@NAME@\",\n"
    "  version = \"0.1.0\",\n"
    "  description = \"@NAME@ webhooks\",\n"
    "  base_url = \"https://api.@NAME@.example\",\n"
    "  auth = \"@AUTH@\",\n"
    "  headers = { Accept = \"application/json\" },\n"
    "  events = {\n"
    "    hook = {\n"
    "      description = \"a webhook\",\n"
    "      options = {\n"
    "        url = { type = \"string\", required = true, description = \"payload URL the webhook delivers to\" },\n"
    "      },\n"
    "      registration = { flow = \"flows/register.lua\", inputs = { url = option \"url\" } },\n"
    "      deregistration = { flow = \"flows/deregister.lua\" },\n"
    "      list = { flow = \"flows/list.lua\" },\n"
    "      match = \"id\",\n"
    "    },\n"
    "  },\n"
    "}\n";

static const char t_register[] =
    "-- Create the webhook; what the flow returns is the registration data.\n"
    "return {\n"
    "  description = \"Create a webhook\",\n"
    "  inputs = { url = { type = \"string\", required = true } },\n"
    "  run = function(ctx, input)\n"
    "    local resp = ctx.http.post(\"/hooks\", { json = { url = input.url } })\n"
    "    if type(resp.json) ~= \"table\" then\n"
    "      unhook.fail(\"POST /hooks: the answer holds no JSON object\")\n"
    "    end\n"
    "    return resp.json\n"
    "  end,\n"
    "}\n";

static const char t_deregister[] =
    "-- Delete the webhook the registration data names.  A 404 or 410 of the\n"
    "-- DELETE means it is already gone, which counts as done.\n"
    "return {\n"
    "  description = \"Delete the webhook\",\n"
    "  run = function(ctx)\n"
    "    local id = type(ctx.registration) == \"table\" and ctx.registration.id\n"
    "    if not id then\n"
    "      unhook.fail(\"registration data has no webhook id\")\n"
    "    end\n"
    "    ctx.http.delete(\"/hooks/{id}\", { path = { id = id } })\n"
    "  end,\n"
    "}\n";

static const char t_list[] =
    "-- Every webhook at the provider, each in the shape the registration\n"
    "-- flow returns (for `unhook reconcile`).\n"
    "return {\n"
    "  description = \"List the webhooks\",\n"
    "  run = function(ctx)\n"
    "    return ctx.http.paginate(\"/hooks\")\n"
    "  end,\n"
    "}\n";

static const char t_connection[] =
    "{ \"base_url\": \"https://api.@NAME@.example\", \"auth\": @JSONAUTH@ }\n";

static const char t_busted[] =
    "-- `busted` in this folder runs spec/*_spec.lua.\n"
    "return { default = { ROOT = { \"spec\" }, pattern = \"_spec\" } }\n";

static const char t_spec[] =
    "-- The @NAME@ flows through the unhook engine, with no server: each\n"
    "-- request is answered from the http list (or from a cassette that\n"
    "-- `unhook run --record FILE` wrote: replay = FILE); one that is not\n"
    "-- answered fails the flow with code replay_miss.\n"
    "local unhook = require \"unhook\"\n"
    "\n"
    "local API = \"https://api.@NAME@.example\"\n"
    "local CONNECTION = { base_url = API, auth = @CONN@ }\n"
    "local function url(path) return API .. path .. \"@QUERY@\" end\n"
    "\n"
    "local function deregister(http)\n"
    "  return assert(unhook.run { connector = \".\", event = \"hook\",\n"
    "    registration = { id = \"wh_1\" }, connection = CONNECTION, http = http })\n"
    "end\n"
    "\n"
    "describe(\"@NAME@\", function()\n"
    "  it(\"passes unhook.check\", function()\n"
    "    assert(unhook.check(\".\"))\n"
    "  end)\n"
    "\n"
    "  it(\"registers a webhook\", function()\n"
    "    local res = assert(unhook.register { connector = \".\", event = \"hook\",\n"
    "      options = { url = \"https://example.test/in\" }, connection = CONNECTION,\n"
    "      http = { { method = \"POST\", url = url(\"/hooks\"), status = 201, json = { id = \"wh_1\" } } } })\n"
    "    assert.equal(\"done\", res.outcome, res.message)\n"
    "    assert.equal(\"wh_1\", unhook.json.decode(res.registration).id)\n"
    "  end)\n"
    "\n"
    "  it(\"deregisters it\", function()\n"
    "    local res = deregister { { method = \"DELETE\", url = url(\"/hooks/wh_1\"), status = 204 } }\n"
    "    assert.equal(\"done\", res.outcome, res.message)\n"
    "  end)\n"
    "\n"
    "  it(\"counts a 404 of the DELETE as already gone\", function()\n"
    "    local res = deregister { { method = \"DELETE\", url = url(\"/hooks/wh_1\"), status = 404 } }\n"
    "    assert.equal(\"gone\", res.outcome, res.message)\n"
    "  end)\n"
    "\n"
    "  it(\"makes no request it was not given an answer for\", function()\n"
    "    local res = deregister {}\n"
    "    assert.equal(\"replay_miss\", res.code)\n"
    "  end)\n"
    "end)\n";

/* What each auth type puts in the spec and the connection example. */
static const struct auth {
    const char *name, *lua, *json, *query;
} auths[] = {
    {"bearer", "{ type = \"bearer\", token = \"test-token\" }",
     "{ \"type\": \"bearer\", \"token\": \"${@ENV@_TOKEN}\" }", ""},
    {"basic", "{ type = \"basic\", username = \"user\", password = \"test-password\" }",
     "{ \"type\": \"basic\", \"username\": \"user\", \"password\": \"${@ENV@_PASSWORD}\" }", ""},
    {"header", "{ type = \"header\", name = \"X-Api-Key\", value = \"test-key\" }",
     "{ \"type\": \"header\", \"name\": \"X-Api-Key\", \"value\": \"${@ENV@_API_KEY}\" }", ""},
    {"query", "{ type = \"query\", name = \"api_key\", value = \"test-key\" }",
     "{ \"type\": \"query\", \"name\": \"api_key\", \"value\": \"${@ENV@_API_KEY}\" }",
     "?api_key=***"},
    {"none", "{ type = \"none\" }", "{ \"type\": \"none\" }", ""},
};

/* tmpl with its @KEY@ tokens replaced (malloc'd). */
static char *fill(const char *tmpl, const char *name, const struct auth *a)
{
    const char *keys[] = {"@JSONAUTH@", "@NAME@", "@AUTH@", "@CONN@", "@QUERY@", "@ENV@"};
    char env[128];
    const char *vals[6];
    size_t cap = strlen(tmpl) * 2 + 1024, len = 0;
    char *out = xrealloc(NULL, cap);

    snprintf(env, sizeof env, "%s", name);
    for (char *p = env; *p; p++)
        *p = *p == '-' ? '_' : (*p >= 'a' && *p <= 'z') ? (char)(*p - 32) : *p;
    vals[0] = a->json, vals[1] = name, vals[2] = a->name, vals[3] = a->lua;
    vals[4] = a->query, vals[5] = env;
    while (*tmpl) {
        size_t n = 1;
        int found = -1;
        const char *v = NULL;
        for (int k = 0; k < 6 && found < 0; k++)
            if (strncmp(tmpl, keys[k], strlen(keys[k])) == 0)
                found = k, v = vals[k], n = strlen(keys[k]);
        if (found == 0) {
            /* the example's auth holds @ENV@: fill it too */
            char *inner = fill(v, name, a);
            v = inner;
            if (len + strlen(v) + 1 > cap)
                out = xrealloc(out, cap = (len + strlen(v)) * 2 + 1);
            memcpy(out + len, v, strlen(v));
            len += strlen(v);
            free(inner);
        } else {
            size_t vn = v ? strlen(v) : 1;
            if (len + vn + 1 > cap)
                out = xrealloc(out, cap = (len + vn) * 2 + 1);
            memcpy(out + len, v ? v : tmpl, vn);
            len += vn;
        }
        tmpl += n;
    }
    out[len] = '\0';
    return out;
}

static int emit(const char *dir, const char *rel, const char *tmpl,
                const char *name, const struct auth *a)
{
    char path[4096];
    char *text = fill(tmpl, name, a);
    FILE *f;
    int ok;

    snprintf(path, sizeof path, "%s/%s", dir, rel);
    f = fopen(path, "w");
    ok = f && fputs(text, f) >= 0;
    if (f && fclose(f) != 0)
        ok = 0;
    free(text);
    if (!ok)
        fprintf(stderr, "%s: %s: cannot write: %s\n", prog, path, strerror(errno));
    return ok;
}

/* The name of the connector from its folder: the last part of the path. */
static int good_name(const char *name)
{
    if (!*name || strlen(name) > 64)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
              *p == '-'))
            return 0;
    return name[0] >= 'a' && name[0] <= 'z';
}

int cmd_new(cli *c, int argc, char **argv)
{
    static const char *const names[] = {"NAME", NULL};
    const char *pos[1] = {NULL}, *auth = "bearer";
    const opt table[] = {{"--auth", OPT_STR, &auth, "TYPE"}, OPT_END};
    const struct auth *a = NULL;
    const char *base;
    char spec[1200], dir[1024];
    int ok, st = parse_args(argc, argv, usage_new, table, pos, names, 1);

    (void)c;
    if (st != GO_ON)
        return st;
    base = strrchr(pos[0], '/') ? strrchr(pos[0], '/') + 1 : pos[0];
    if (!good_name(base))
        return bad_usage("new: NAME must start with a lower-case letter and hold only "
                         "a-z, 0-9, '_' and '-':", base, usage_new);
    for (size_t k = 0; k < sizeof auths / sizeof auths[0]; k++)
        if (strcmp(auths[k].name, auth) == 0)
            a = &auths[k];
    if (!a)
        return bad_usage("new: --auth: one of bearer, basic, header, query, none, not",
                         auth, usage_new);
    if (strlen(pos[0]) >= sizeof dir)
        return bad_usage("new: NAME is too long", NULL, usage_new);
    snprintf(dir, sizeof dir, "%s", pos[0]);
    if (mkdir(dir, 0777) != 0) {
        fprintf(stderr, "%s: %s: cannot create the folder: %s\n", prog, dir,
                strerror(errno));
        return EXIT_USAGE;
    }
    snprintf(spec, sizeof spec, "%s/flows", dir);
    ok = mkdir(spec, 0777) == 0;
    snprintf(spec, sizeof spec, "%s/spec", dir);
    ok = ok && mkdir(spec, 0777) == 0;
    snprintf(spec, sizeof spec, "spec/%s_spec.lua", base);
    ok = ok && emit(dir, "connector.lua", t_manifest, base, a) &&
         emit(dir, "flows/register.lua", t_register, base, a) &&
         emit(dir, "flows/deregister.lua", t_deregister, base, a) &&
         emit(dir, "flows/list.lua", t_list, base, a) &&
         emit(dir, "connection.example.json", t_connection, base, a) &&
         emit(dir, ".busted", t_busted, base, a) &&
         emit(dir, spec, t_spec, base, a);
    if (!ok)
        return EXIT_FAILED;
    printf("%s: a connector skeleton; next: unhook check %s, then (cd %s && busted)\n",
           dir, dir, dir);
    return EXIT_DONE;
}
