#!/usr/bin/env python3
"""Fake webhook provider used by the unhook end-to-end tests.

Serves a small GitHub-shaped hooks API, a generic /api/... hooks API and a
set of unauthenticated /_control/ routes that let a test queue canned answers,
inspect the request log and seed or inspect state.  Python 3 standard
library only.  See README.md next to this file for the routes.
"""

import argparse
import base64
import binascii
import http.server
import json
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
import traceback
from urllib.parse import parse_qsl, urlsplit

GITHUB_FIRST_ID = 12345678
GITHUB_DOCS = "https://docs.github.com/rest"

RE_GH_COLL = re.compile(r"^/repos/([^/]+)/([^/]+)/hooks/?$")
RE_GH_ITEM = re.compile(r"^/repos/([^/]+)/([^/]+)/hooks/([^/]+)/?$")
RE_GENERIC_ID = re.compile(r"^hk_[0-9]+$")

NO_BODY_STATUSES = (204, 304)

# Longest life the provider grants a subscription, in seconds (Microsoft
# Graph grants about three days; tests want a few seconds).
SUB_LIFETIME = 4.0


def iso_now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class BadRequest(Exception):
    """Raised by control handlers; answered with 400 and the message."""


# --------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------

class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset_locked()

    def reset_locked(self):
        # (owner, repo) -> {id(int): hook dict}, insertion ordered
        self.github = {}
        # id(int) -> (owner, repo)
        self.github_index = {}
        self.next_github_id = GITHUB_FIRST_ID
        # collection path -> {id(str): item dict}
        self.generic = {}
        self.next_generic_id = 1
        # list of {"method", "path", "prefix", "responses": [entries]}
        self.scripts = []
        self.log = []
        self.requests = 0
        self.deletes_ok = 0
        self.deletes_404 = 0
        self.delete_counts = {}
        # Graph-style expiring subscriptions (tests/provider/README.md)
        self.subs = {}
        self.next_sub_id = 1
        self.sub_lifetime = SUB_LIFETIME

    # ---- scripts ---------------------------------------------------------

    def take_script_entry(self, method, path):
        """Pop the next canned entry matching method/path, or None."""
        with self.lock:
            if not self.scripts:
                return None
            for i, s in enumerate(self.scripts):
                if s["method"] is not None and s["method"] != method:
                    continue
                if s["path"] is not None and s["path"] != path:
                    continue
                if s["prefix"] is not None and not path.startswith(s["prefix"]):
                    continue
                entry = s["responses"].pop(0)
                if not s["responses"]:
                    del self.scripts[i]
                return entry
        return None

    # ---- github ----------------------------------------------------------

    def github_new_locked(self, owner, repo, base_url, name, config, events,
                          active, stamp):
        hid = self.next_github_id
        self.next_github_id += 1
        hook_url = "%s/repos/%s/%s/hooks/%d" % (base_url, owner, repo, hid)
        hook = {
            "type": "Repository",
            "id": hid,
            "name": name,
            "active": active,
            "events": events,
            "config": config,
            "updated_at": stamp,
            "created_at": stamp,
            "url": hook_url,
            "test_url": hook_url + "/test",
            "ping_url": hook_url + "/pings",
            "deliveries_url": hook_url + "/deliveries",
            "last_response": {"code": None, "status": "unused",
                              "message": None},
        }
        self.github.setdefault((owner, repo), {})[hid] = hook
        self.github_index[hid] = (owner, repo)
        return hook

    # ---- generic ---------------------------------------------------------

    def generic_new_locked(self, coll, body, stamp):
        item = dict(body)
        item["id"] = "hk_%d" % self.next_generic_id
        self.next_generic_id += 1
        item["created_at"] = stamp
        self.generic.setdefault(coll, {})[item["id"]] = item
        return item


STATE = State()


# --------------------------------------------------------------------------
# HTTP handler
# --------------------------------------------------------------------------

_date_cache = [0, ""]


def http_date():
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[1] = time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                       time.gmtime(now))
        _date_cache[0] = now
    return _date_cache[1]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "unhook-fake-provider/1"
    sys_version = ""
    disable_nagle_algorithm = True

    # Set from main().
    quiet = True
    token = "test-token"
    basic_ok = None  # expected decoded "user:password" bytes
    base_url = ""

    # ---- plumbing ----------------------------------------------------------

    def setup(self):
        sock = self.request
        if isinstance(sock, ssl.SSLSocket):
            # The listening socket does not handshake on accept, so a slow
            # or broken client cannot stall the accept loop.
            sock.settimeout(10)
            sock.do_handshake()
            sock.settimeout(None)
        super().setup()

    def log_message(self, fmt, *args):
        if not self.quiet:
            sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            parts = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    break
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # trailers until empty line
                    while True:
                        t = self.rfile.readline(65537)
                        if not t or t in (b"\r\n", b"\n"):
                            break
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)  # CRLF after chunk
            return b"".join(parts)
        length = self.headers.get("Content-Length")
        if length:
            n = int(length)
            if n > 0:
                return self.rfile.read(n)
        return b""

    def respond(self, status, body=None, headers=None, close=False):
        """Write the whole response with a single send.

        body: None, bytes, str, or any JSON value (serialized as JSON).
        """
        ctype = None
        if body is None:
            data = b""
        elif isinstance(body, bytes):
            data = body
            ctype = "application/octet-stream"
        elif isinstance(body, str):
            data = body.encode("utf-8")
            ctype = "text/plain; charset=utf-8"
        else:
            data = json.dumps(body).encode("utf-8")
            ctype = "application/json; charset=utf-8"
        if status in NO_BODY_STATUSES or self.command == "HEAD":
            send_data = b""
        else:
            send_data = data
        out = {}
        if ctype is not None:
            out["Content-Type"] = ctype
        if headers:
            for k, v in headers.items():
                # let a scripted header replace a default one whatever its case
                for dk in list(out):
                    if dk.lower() == k.lower():
                        del out[dk]
                out[k] = str(v)
        reason = self.responses.get(status, ("Status",))[0]
        lines = ["HTTP/1.1 %d %s" % (status, reason),
                 "Server: " + self.server_version,
                 "Date: " + http_date()]
        has_len = False
        for k, v in out.items():
            if k.lower() == "content-length":
                has_len = True
            lines.append("%s: %s" % (k, v))
        if status not in NO_BODY_STATUSES and not has_len:
            lines.append("Content-Length: %d" % len(data))
        if close or self.close_connection:
            self.close_connection = True
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + send_data)
        self.log_request(status, len(send_data))
        return status

    def drop(self):
        self.close_connection = True
        try:
            self.request.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---- dispatch ---------------------------------------------------------

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def dispatch(self):
        try:
            self._dispatch()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        except Exception:
            sys.stderr.write("provider: error handling %s %s\n"
                             % (self.command, self.path))
            traceback.print_exc(file=sys.stderr)
            sys.stderr.flush()
            self.close_connection = True
            try:
                self.respond(500, {"message": "internal error in fake provider"})
            except Exception:
                pass

    def _dispatch(self):
        split = urlsplit(self.path)
        path = split.path or "/"
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        try:
            body = self.read_body()
        except ValueError:
            self.close_connection = True
            self.respond(400, {"message": "bad Content-Length or chunked body"})
            return
        method = self.command.upper()

        if path.startswith("/_control/") or path == "/_control":
            self.control(method, path, query, body)
            return

        entry = {
            "method": method,
            "path": path,
            "query": query,
            "headers": dict(self.headers.items()),
            "body": body.decode("utf-8", "replace"),
            "status": None,
            "time": time.time(),
        }
        with STATE.lock:
            STATE.log.append(entry)
            STATE.requests += 1

        if not self.authorized(query):
            entry["status"] = self.respond(
                401, {"message": "Requires authentication"})
            return

        script = STATE.take_script_entry(method, path)
        if script is not None:
            delay = script.get("delay_ms")
            if delay:
                time.sleep(float(delay) / 1000.0)
            if script.get("drop"):
                self.drop()
                return
            if "status" in script and not script.get("pass"):
                entry["status"] = self.respond(
                    int(script["status"]), script.get("body"),
                    script.get("headers"), close=bool(script.get("close")))
                return
            # pass / delay only: fall through to normal handling

        entry["status"] = self.handle_api(method, path, query, body)

    # ---- auth ----------------------------------------------------------

    def authorized(self, query):
        tok = self.token
        auth = self.headers.get("Authorization")
        if auth:
            scheme, _, cred = auth.strip().partition(" ")
            scheme = scheme.lower()
            cred = cred.strip()
            if scheme == "bearer" and cred == tok:
                return True
            if scheme == "basic" and self.basic_ok is not None:
                try:
                    if base64.b64decode(cred, validate=True) == self.basic_ok:
                        return True
                except (binascii.Error, ValueError):
                    pass
        if self.headers.get("X-Api-Key") == tok:
            return True
        if query.get("api_key") == tok:
            return True
        return False

    # ---- provider API ---------------------------------------------------

    def handle_api(self, method, path, query, body):
        m = RE_GH_COLL.match(path)
        if m:
            owner, repo = m.group(1), m.group(2)
            if method == "POST":
                return self.github_create(owner, repo, body)
            if method == "GET":
                return self.github_list(owner, repo, query)
            return self.gh_not_found()
        m = RE_GH_ITEM.match(path)
        if m:
            owner, repo, sid = m.group(1), m.group(2), m.group(3)
            if method == "GET":
                return self.github_get(owner, repo, sid)
            if method == "DELETE":
                return self.github_delete(owner, repo, sid)
            return self.gh_not_found()
        if path.startswith("/api/"):
            return self.generic(method, path, body)
        return self.respond(404, {"message": "Not Found",
                                  "documentation_url": GITHUB_DOCS})

    def gh_not_found(self):
        return self.respond(404, {"message": "Not Found",
                                  "documentation_url": GITHUB_DOCS})

    def github_create(self, owner, repo, body):
        try:
            req = json.loads(body.decode("utf-8") or "null")
        except (ValueError, UnicodeDecodeError):
            req = None
        if not isinstance(req, dict):
            return self.respond(422, {
                "message": "Validation Failed",
                "errors": [{"resource": "Hook", "code": "invalid",
                            "message": "Problems parsing JSON"}],
                "documentation_url": GITHUB_DOCS})
        config = req.get("config")
        if not isinstance(config, dict) or not isinstance(
                config.get("url"), str) or not config.get("url"):
            return self.respond(422, {
                "message": "Validation Failed",
                "errors": [{"resource": "Hook", "code": "custom",
                            "message": "Config must contain url"}],
                "documentation_url": GITHUB_DOCS})
        cfg = dict(config)
        cfg.setdefault("content_type", "form")
        cfg["insecure_ssl"] = str(cfg.get("insecure_ssl", "0"))
        if "secret" in cfg:
            cfg["secret"] = "********"
        events = req.get("events")
        if not isinstance(events, list):
            events = ["push"]
        active = req.get("active", True)
        name = req.get("name", "web")
        with STATE.lock:
            hook = STATE.github_new_locked(owner, repo, self.base_url, name,
                                           cfg, events, bool(active),
                                           iso_now())
        return self.respond(201, hook, {"Location": hook["url"]})

    def github_list(self, owner, repo, query):
        with STATE.lock:
            hooks = list(STATE.github.get((owner, repo), {}).values())
        headers = None
        if "per_page" in query or "page" in query:
            try:
                per_page = max(1, min(100, int(query.get("per_page", "30"))))
                page = max(1, int(query.get("page", "1")))
            except ValueError:
                per_page, page = 30, 1
            last = max(1, (len(hooks) + per_page - 1) // per_page)
            start = (page - 1) * per_page
            hooks = hooks[start:start + per_page]
            link_base = "%s/repos/%s/%s/hooks?per_page=%d&page=" % (
                self.base_url, owner, repo, per_page)
            links = []
            if page < last:
                links.append('<%s%d>; rel="next"' % (link_base, page + 1))
                links.append('<%s%d>; rel="last"' % (link_base, last))
            if page > 1:
                links.append('<%s%d>; rel="first"' % (link_base, 1))
                links.append('<%s%d>; rel="prev"' % (link_base,
                                                     min(page - 1, last)))
            if links:
                headers = {"Link": ", ".join(links)}
        return self.respond(200, hooks, headers)

    @staticmethod
    def _gh_id(sid):
        return int(sid) if sid.isdigit() else None

    def github_get(self, owner, repo, sid):
        hid = self._gh_id(sid)
        with STATE.lock:
            hook = STATE.github.get((owner, repo), {}).get(hid)
        if hook is None:
            return self.gh_not_found()
        return self.respond(200, hook)

    def github_delete(self, owner, repo, sid):
        hid = self._gh_id(sid)
        with STATE.lock:
            STATE.delete_counts[sid] = STATE.delete_counts.get(sid, 0) + 1
            hooks = STATE.github.get((owner, repo))
            found = hooks is not None and hid in hooks
            if found:
                del hooks[hid]
                STATE.github_index.pop(hid, None)
                STATE.deletes_ok += 1
            else:
                STATE.deletes_404 += 1
        if found:
            return self.respond(204)
        return self.gh_not_found()

    def generic(self, method, path, body):
        path = path.rstrip("/") or "/"
        if method == "POST":
            try:
                req = json.loads(body.decode("utf-8") or "null")
            except (ValueError, UnicodeDecodeError):
                req = None
            if not isinstance(req, dict):
                return self.respond(400, {"error": "body must be a JSON object"})
            with STATE.lock:
                item = STATE.generic_new_locked(path, req, iso_now())
            return self.respond(201, item)
        coll, _, iid = path.rpartition("/")
        if method == "DELETE":
            with STATE.lock:
                STATE.delete_counts[iid] = STATE.delete_counts.get(iid, 0) + 1
                items = STATE.generic.get(coll)
                found = items is not None and iid in items
                if found:
                    del items[iid]
                    STATE.deletes_ok += 1
                else:
                    STATE.deletes_404 += 1
            if found:
                return self.respond(204)
            return self.respond(404, {"error": "not found"})
        if method == "GET":
            with STATE.lock:
                item = STATE.generic.get(coll, {}).get(iid)
                if item is None:
                    listing = STATE.generic.get(path)
                    if listing is not None:
                        listing = list(listing.values())
            if item is not None:
                return self.respond(200, item)
            if listing is not None:
                return self.respond(200, listing)
            if RE_GENERIC_ID.match(iid):
                return self.respond(404, {"error": "not found"})
            return self.respond(200, [])
        return self.respond(405, {"error": "method not allowed"})

    # ---- control routes -------------------------------------------------

    def control(self, method, path, query, body):
        route = path[len("/_control"):].rstrip("/")
        try:
            if route == "/script":
                if method == "POST":
                    return self.respond(200, self.ctl_script(body))
                if method == "GET":
                    with STATE.lock:
                        return self.respond(200, json.loads(
                            json.dumps(STATE.scripts)))
                if method == "DELETE":
                    with STATE.lock:
                        STATE.scripts = []
                    return self.respond(200, {"ok": True})
            elif route == "/requests":
                if method == "GET":
                    with STATE.lock:
                        if query.get("count") not in (None, "", "0"):
                            return self.respond(200, {"count": len(STATE.log)})
                        try:
                            since = max(0, int(query.get("since", "0") or 0))
                        except ValueError:
                            raise BadRequest("'since' must be an integer")
                        data = json.dumps(STATE.log[since:])
                    return self.respond(200, data.encode("utf-8"),
                                        {"Content-Type": "application/json"})
                if method == "DELETE":
                    with STATE.lock:
                        STATE.log = []
                    return self.respond(200, {"ok": True})
            elif route == "/seed":
                if method == "POST":
                    return self.respond(200, self.ctl_seed(body))
            elif route == "/hooks":
                if method == "GET":
                    with STATE.lock:
                        gh = {"%s/%s" % k: list(v.keys())
                              for k, v in STATE.github.items()}
                        gen = {k: list(v.keys())
                               for k, v in STATE.generic.items()}
                    return self.respond(200, {"github": gh, "generic": gen})
            elif route == "/stats":
                if method == "GET":
                    with STATE.lock:
                        stats = {
                            "deletes_ok": STATE.deletes_ok,
                            "deletes_404": STATE.deletes_404,
                            "requests": STATE.requests,
                            "delete_counts": dict(STATE.delete_counts),
                            "scripts_pending": sum(
                                len(s["responses"]) for s in STATE.scripts),
                        }
                    return self.respond(200, stats)
            elif route == "/subscriptions":
                return self.ctl_subscriptions(method, body)
            elif route == "/reset":
                if method == "POST":
                    with STATE.lock:
                        STATE.reset_locked()
                    return self.respond(200, {"ok": True})
            else:
                return self.respond(404, {"error": "unknown control route",
                                          "path": path})
            return self.respond(405, {"error": "method not allowed",
                                      "path": path})
        except BadRequest as e:
            return self.respond(400, {"error": str(e)})

    @staticmethod
    def _json_object(body):
        try:
            req = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise BadRequest("invalid JSON: %s" % e)
        if not isinstance(req, dict):
            raise BadRequest("body must be a JSON object")
        return req

    def ctl_script(self, body):
        req = self._json_object(body)
        responses = req.get("responses")
        if not isinstance(responses, list) or not responses:
            raise BadRequest("'responses' must be a non-empty list")
        for r in responses:
            if not isinstance(r, dict):
                raise BadRequest("each response entry must be an object")
            if "status" in r:
                try:
                    int(r["status"])
                except (TypeError, ValueError):
                    raise BadRequest("'status' must be an integer")
            if "headers" in r and not isinstance(r["headers"], dict):
                raise BadRequest("'headers' must be an object")
            if "delay_ms" in r and not isinstance(r["delay_ms"], (int, float)):
                raise BadRequest("'delay_ms' must be a number")
        method = req.get("method")
        path = req.get("path")
        prefix = req.get("prefix")
        for name, v in (("method", method), ("path", path),
                        ("prefix", prefix)):
            if v is not None and not isinstance(v, str):
                raise BadRequest("'%s' must be a string" % name)
        script = {
            "method": method.upper() if method else None,
            "path": path,
            "prefix": prefix,
            "responses": [dict(r) for r in responses],
        }
        with STATE.lock:
            STATE.scripts.append(script)
            pending = sum(len(s["responses"]) for s in STATE.scripts)
        return {"queued": len(responses), "pending": pending}

    def ctl_seed(self, body):
        req = self._json_object(body)
        try:
            count = int(req.get("count", 1))
        except (TypeError, ValueError):
            raise BadRequest("'count' must be an integer")
        if count < 0:
            raise BadRequest("'count' must be >= 0")
        stamp = iso_now()
        if "collection" in req:
            coll = req["collection"]
            if not isinstance(coll, str) or not coll.startswith("/api/"):
                raise BadRequest("'collection' must be a path under /api/")
            coll = coll.rstrip("/")
            template = req.get("item")
            if template is None:
                template = {"url": req.get("url", "https://example.test/hook")}
            if not isinstance(template, dict):
                raise BadRequest("'item' must be an object")
            with STATE.lock:
                STATE.generic.setdefault(coll, {})
                ids = [STATE.generic_new_locked(coll, template, stamp)["id"]
                       for _ in range(count)]
            return {"ids": ids}
        owner, repo = req.get("owner"), req.get("repo")
        if not isinstance(owner, str) or not isinstance(repo, str) \
                or not owner or not repo or "/" in owner or "/" in repo:
            raise BadRequest("give 'owner' and 'repo' (or 'collection')")
        events = req.get("events", ["push"])
        if not isinstance(events, list):
            raise BadRequest("'events' must be a list")
        url = req.get("url", "https://example.test/hook")
        ctype = req.get("content_type", "json")
        active = bool(req.get("active", True))
        with STATE.lock:
            STATE.github.setdefault((owner, repo), {})
            ids = []
            for _ in range(count):
                cfg = {"url": url, "content_type": ctype, "insecure_ssl": "0"}
                hook = STATE.github_new_locked(owner, repo, self.base_url,
                                               "web", cfg, list(events),
                                               active, stamp)
                ids.append(hook["id"])
        return {"ids": ids}


# --------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------

class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # Never wait for connection threads on close: idle keep-alive
    # connections would otherwise block shutdown forever.
    block_on_close = False
    request_queue_size = 1024
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout,
                            TimeoutError)):
            if not Handler.quiet:
                sys.stderr.write("provider: connection from %s: %r\n"
                                 % (client_address, exc))
            return
        sys.stderr.write("provider: unhandled error for %s\n"
                         % (client_address,))
        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()


class Server6(Server):
    address_family = socket.AF_INET6


def main(argv=None):
    ap = argparse.ArgumentParser(description="Fake webhook provider for tests")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0,
                    help="0 = ephemeral port chosen by the OS")
    ap.add_argument("--port-file",
                    help="write the chosen port here (atomically)")
    ap.add_argument("--token", default="test-token")
    ap.add_argument("--user", default="user")
    ap.add_argument("--password", default="pass")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")

    cls = Server6 if ":" in args.host else Server
    httpd = cls((args.host, args.port), Handler)
    port = httpd.server_address[1]
    scheme = "http"
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True,
                                       do_handshake_on_connect=False)
        scheme = "https"

    host_for_url = "[%s]" % args.host if ":" in args.host else args.host
    Handler.quiet = args.quiet
    Handler.token = args.token
    Handler.basic_ok = ("%s:%s" % (args.user, args.password)).encode("utf-8")
    Handler.base_url = "%s://%s:%d" % (scheme, host_for_url, port)

    def on_signal(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    sys.stdout.write("listening on %d\n" % port)
    sys.stdout.flush()

    try:
        httpd.serve_forever(poll_interval=0.1)
    except SystemExit:
        pass
    finally:
        httpd.server_close()
    return 0


# --------------------------------------------------------------------------
# Endpoints for tests/sandbox (appended; behind the same auth check as the
# API routes, and logged like them)
#   GET /bytes?n=N[&delay_ms=D]  N bytes of "x" (application/octet-stream)
#   ANY /echo[/...]              reflects the request: a JSON body with
#       method, path, query_string (raw, as sent), query (decoded),
#       headers and body; and the headers X-Echo-Authorization,
#       X-Echo-Api-Key and X-Echo-Query with the request's Authorization,
#       X-Api-Key and raw query string.  ?status=N answers with status N.
# --------------------------------------------------------------------------

SANDBOX_MAX_BYTES = 256 * 1024 * 1024

_handle_api_before_sandbox = Handler.handle_api


def _sandbox_handle_api(self, method, path, query, body):
    if path == "/bytes":
        try:
            n = int(query.get("n", "0"))
            delay = float(query.get("delay_ms", "0") or 0)
        except ValueError:
            return self.respond(400, {"error": "n and delay_ms are numbers"})
        if n < 0 or n > SANDBOX_MAX_BYTES:
            return self.respond(400, {"error": "n out of range"})
        if delay > 0:
            time.sleep(delay / 1000.0)
        return self.respond(200, b"x" * n)
    if path == "/echo" or path.startswith("/echo/"):
        raw_query = urlsplit(self.path).query
        try:
            status = int(query.get("status", "200"))
        except ValueError:
            status = 200
        headers = {}
        for name, echo in (("Authorization", "X-Echo-Authorization"),
                           ("X-Api-Key", "X-Echo-Api-Key")):
            if self.headers.get(name) is not None:
                headers[echo] = self.headers.get(name)
        if raw_query:
            headers["X-Echo-Query"] = raw_query
        return self.respond(status, {
            "method": method,
            "path": path,
            "query_string": raw_query,
            "query": query,
            "headers": dict(self.headers.items()),
            "body": body.decode("utf-8", "replace"),
        }, headers)
    return _handle_api_before_sandbox(self, method, path, query, body)


Handler.handle_api = _sandbox_handle_api



# --------------------------------------------------------------------------
# OAuth2 (appended): a token endpoint and resources that check its tokens
#   POST /oauth/token     grant_type refresh_token or client_credentials;
#       the client by HTTP Basic or client_id/client_secret in the form
#       (clients: cid/csecret unless configured).  Access tokens expire
#       after `ttl` seconds; with `rotate`, each refresh_token grant
#       issues a new refresh token and spends the old one; presenting a
#       spent one again is reuse: the whole family is revoked (as Auth0,
#       Okta, Google do) and the answer is invalid_grant.
#   POST /oauth/revoke    token=... (RFC 7009): revokes its family.
#   ANY /oauth/api/...    the generic hooks API of /api/..., for a valid
#       bearer access token only (else 401, as every route).
#   /_control/oauth       GET: counters (token_requests, by grant,
#       reuse_detected, revoked families); POST {ttl, rotate, clients,
#       refresh_tokens: [seeded valid tokens], access_tokens: {tok: ttl},
#       subject, api_delay_ms (a delay of every /oauth/api answer)}:
#       configure.  /_control/oauth/revoke POST {token}.
#       /_control/oauth/tokens GET: every token issued or seeded.
#   Scripted answers (/_control/script with path /oauth/token) work as
#   for every route.  /_control/reset resets this too.
# --------------------------------------------------------------------------

import secrets as _secrets


class OAuthState:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset_locked()

    def reset_locked(self):
        self.clients = {"cid": "csecret"}
        self.ttl = 3600
        self.rotate = True
        self.subject = "octo@example.test"
        self.access = {}        # token -> {"exp", "family"}
        self.refresh = {}       # token -> {"family", "spent"}
        self.revoked = set()    # families
        self.token_requests = 0
        self.grants = {}
        self.reuse_detected = 0
        self.errors = {}
        self.seq = 0
        self.api_delay_ms = 0

    def family_locked(self):
        self.seq += 1
        return "f%d" % self.seq

    def issue_locked(self, family, with_refresh):
        at = "at_" + _secrets.token_hex(12)
        self.access[at] = {"exp": time.time() + self.ttl, "family": family}
        out = {"access_token": at, "token_type": "Bearer",
               "expires_in": self.ttl}
        if with_refresh:
            rt = "rt_" + _secrets.token_hex(16)
            self.refresh[rt] = {"family": family, "spent": False}
            out["refresh_token"] = rt
        return out

    def access_ok(self, tok):
        with self.lock:
            a = self.access.get(tok)
            return (a is not None and a["exp"] > time.time()
                    and a["family"] not in self.revoked)


OAUTH = OAuthState()

_reset_before_oauth = State.reset_locked


def _reset_with_oauth(self):
    _reset_before_oauth(self)
    if "OAUTH" in globals():
        with OAUTH.lock:
            OAUTH.reset_locked()


State.reset_locked = _reset_with_oauth

_authorized_before_oauth = Handler.authorized


def _oauth_authorized(self, query):
    path = urlsplit(self.path).path
    if path in ("/oauth/token", "/oauth/revoke"):
        return True             # client authentication is the endpoint's
    if path.startswith("/oauth/"):
        scheme, _, cred = (self.headers.get("Authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and OAUTH.access_ok(cred.strip())
    return _authorized_before_oauth(self, query)


Handler.authorized = _oauth_authorized


def _oauth_client(handler, form):
    auth = handler.headers.get("Authorization") or ""
    scheme, _, cred = auth.partition(" ")
    if scheme.lower() == "basic":
        try:
            cid, _, secret = base64.b64decode(cred.strip()).decode().partition(":")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None
    else:
        cid, secret = form.get("client_id"), form.get("client_secret")
    with OAUTH.lock:
        if cid in OAUTH.clients and OAUTH.clients[cid] == secret:
            return cid
    return None


def _oauth_error(handler, status, error, desc):
    with OAUTH.lock:
        OAUTH.errors[error] = OAUTH.errors.get(error, 0) + 1
    return handler.respond(status, {"error": error, "error_description": desc},
                           {"Cache-Control": "no-store"})


def _oauth_token(self, method, body):
    if method != "POST":
        return self.respond(405, {"error": "invalid_request"})
    form = dict(parse_qsl(body.decode("utf-8", "replace"),
                          keep_blank_values=True))
    grant = form.get("grant_type")
    with OAUTH.lock:
        OAUTH.token_requests += 1
        OAUTH.grants[grant] = OAUTH.grants.get(grant, 0) + 1
    if _oauth_client(self, form) is None:
        return _oauth_error(self, 401, "invalid_client", "client authentication failed")
    if grant == "client_credentials":
        with OAUTH.lock:
            out = OAUTH.issue_locked(OAUTH.family_locked(), False)
        return self.respond(200, out, {"Cache-Control": "no-store"})
    if grant != "refresh_token":
        return _oauth_error(self, 400, "unsupported_grant_type", str(grant))
    rt = form.get("refresh_token", "")
    with OAUTH.lock:
        r = OAUTH.refresh.get(rt)
        if r is None or r["family"] in OAUTH.revoked:
            r = None
        elif r["spent"]:
            OAUTH.reuse_detected += 1
            OAUTH.revoked.add(r["family"])
            r = "reuse"
        else:
            if OAUTH.rotate:
                r["spent"] = True
            out = OAUTH.issue_locked(r["family"], OAUTH.rotate)
            if not OAUTH.rotate:
                out["refresh_token"] = rt
            out["user"] = OAUTH.subject
    if r is None:
        return _oauth_error(self, 400, "invalid_grant", "refresh token revoked or unknown")
    if r == "reuse":
        return _oauth_error(self, 400, "invalid_grant", "refresh token reused: family revoked")
    return self.respond(200, out, {"Cache-Control": "no-store"})


def _oauth_revoke_locked(tok):
    for table in (OAUTH.refresh, OAUTH.access):
        if tok in table:
            OAUTH.revoked.add(table[tok]["family"])
            return True
    return False


_handle_api_before_oauth = Handler.handle_api


def _oauth_handle_api(self, method, path, query, body):
    if path == "/oauth/token":
        return _oauth_token(self, method, body)
    if path == "/oauth/revoke":
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        with OAUTH.lock:
            _oauth_revoke_locked(form.get("token", ""))
        return self.respond(200, {})
    if path.startswith("/oauth/api/"):
        if OAUTH.api_delay_ms:
            time.sleep(OAUTH.api_delay_ms / 1000.0)
        return self.generic(method, path[len("/oauth"):], body)
    return _handle_api_before_oauth(self, method, path, query, body)


Handler.handle_api = _oauth_handle_api

_control_before_oauth = Handler.control


def _oauth_control(self, method, path, query, body):
    route = path[len("/_control"):].rstrip("/")
    if route == "/oauth/tokens" and method == "GET":
        with OAUTH.lock:
            return self.respond(200, sorted(list(OAUTH.access) + list(OAUTH.refresh)))
    if route == "/oauth" and method == "GET":
        with OAUTH.lock:
            return self.respond(200, {
                "token_requests": OAUTH.token_requests,
                "grants": dict(OAUTH.grants),
                "reuse_detected": OAUTH.reuse_detected,
                "revoked_families": len(OAUTH.revoked),
                "errors": dict(OAUTH.errors),
                "ttl": OAUTH.ttl, "rotate": OAUTH.rotate})
    if route == "/oauth" and method == "POST":
        try:
            req = self._json_object(body)
        except BadRequest as e:
            return self.respond(400, {"error": str(e)})
        with OAUTH.lock:
            if "ttl" in req:
                OAUTH.ttl = req["ttl"]
            if "rotate" in req:
                OAUTH.rotate = bool(req["rotate"])
            if "subject" in req:
                OAUTH.subject = req["subject"]
            if "api_delay_ms" in req:
                OAUTH.api_delay_ms = req["api_delay_ms"]
            if isinstance(req.get("clients"), dict):
                OAUTH.clients = dict(req["clients"])
            for rt in req.get("refresh_tokens", []):
                OAUTH.refresh[rt] = {"family": OAUTH.family_locked(), "spent": False}
            for at, ttl in (req.get("access_tokens") or {}).items():
                OAUTH.access[at] = {"exp": time.time() + ttl,
                                    "family": OAUTH.family_locked()}
        return self.respond(200, {"ok": True})
    if route == "/oauth/revoke" and method == "POST":
        try:
            req = self._json_object(body)
        except BadRequest as e:
            return self.respond(400, {"error": str(e)})
        with OAUTH.lock:
            found = _oauth_revoke_locked(req.get("token", ""))
        return self.respond(200, {"revoked": found})
    return _control_before_oauth(self, method, path, query, body)


Handler.control = _oauth_control
# Graph-style expiring subscriptions (behind the same auth check as the API
# routes).  A subscription lives until its expirationDateTime: at most
# SUB_LIFETIME seconds (POST /_control/subscriptions {"lifetime": S}) after
# it is created or renewed, whatever the client asks; after that every
# request about it gets 404, as Microsoft Graph answers.
#   POST   /v1.0/subscriptions        201 with the subscription
#   GET    /v1.0/subscriptions/{id}   200, or 404
#   PATCH  /v1.0/subscriptions/{id}   {"expirationDateTime": ...}: renewed, 200
#   DELETE /v1.0/subscriptions/{id}   204, or 404
# --------------------------------------------------------------------------

RE_SUB_ITEM = re.compile(r"^/v1\.0/subscriptions/([^/]+)$")
RE_ISO = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def graph_time(t):
    frac = int(round((t - int(t)) * 1e7))
    if frac >= 10000000:
        t, frac = t + 1, 0
    return "%s.%07dZ" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(t))), frac)


def parse_graph_time(v):
    import datetime
    m = RE_ISO.match(v) if isinstance(v, str) else None
    if not m:
        raise BadRequest("expirationDateTime must be ISO 8601, got %r" % (v,))
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    base = datetime.datetime.fromisoformat(m.group(1) + zone).timestamp()
    return base + (float("0" + m.group(2)) if m.group(2) else 0.0)


def _sub_public(sub):
    out = {k: sub[k] for k in ("id", "resource", "changeType", "notificationUrl")}
    out["expirationDateTime"] = graph_time(sub["expires"])
    return out


def _sub_granted(req, now):
    """The expiry the provider grants for a request body."""
    want = req.get("expirationDateTime")
    limit = now + STATE.sub_lifetime
    if want is None:
        return limit
    return min(parse_graph_time(want), limit)


def _sub_live_locked(sid, now):
    sub = STATE.subs.get(sid)
    if sub is None or sub["deleted"]:
        return None
    if now >= sub["expires"]:
        sub["late"] += 1        # asked about after it lapsed
        return None
    return sub


def _graph_handle_api(self, method, path, query, body):
    now = time.time()
    if path == "/v1.0/subscriptions" and method == "POST":
        try:
            req = self._json_object(body)
            for k in ("notificationUrl", "resource"):
                if not isinstance(req.get(k), str) or not req.get(k):
                    raise BadRequest("'%s' is required" % k)
            expires = _sub_granted(req, now)
        except BadRequest as e:
            return self.respond(400, {"error": {"code": "BadRequest", "message": str(e)}})
        with STATE.lock:
            sid = "sub-%d" % STATE.next_sub_id
            STATE.next_sub_id += 1
            STATE.subs[sid] = {"id": sid, "resource": req["resource"],
                               "changeType": req.get("changeType", "created"),
                               "notificationUrl": req["notificationUrl"],
                               "expires": expires, "renewals": 0, "late": 0,
                               "deletes": 0, "deleted": False}
            out = _sub_public(STATE.subs[sid])
        return self.respond(201, out)
    m = RE_SUB_ITEM.match(path)
    if not m:
        return _handle_api_before_graph(self, method, path, query, body)
    sid = m.group(1)
    if method not in ("GET", "PATCH", "DELETE"):
        return self.respond(405, {"error": {"code": "MethodNotAllowed"}})
    gone = {"error": {"code": "ResourceNotFound",
                      "message": "The object was not found."}}
    try:
        req = self._json_object(body) if method == "PATCH" else None
        granted = _sub_granted(req, now) if method == "PATCH" else None
    except BadRequest as e:
        return self.respond(400, {"error": {"code": "BadRequest", "message": str(e)}})
    with STATE.lock:
        if method == "DELETE" and sid in STATE.subs:
            STATE.subs[sid]["deletes"] += 1
        sub = _sub_live_locked(sid, now)
        if sub is None:
            return self.respond(404, gone)
        if method == "PATCH":
            sub["expires"] = granted
            sub["renewals"] += 1
        elif method == "DELETE":
            sub["deleted"] = True
            return self.respond(204)
        out = _sub_public(sub)
    return self.respond(200, out)


def _ctl_subscriptions(self, method, body):
    if method == "POST":
        req = self._json_object(body)
        life = req.get("lifetime")
        if not isinstance(life, (int, float)) or life <= 0:
            raise BadRequest("'lifetime' must be a number of seconds > 0")
        with STATE.lock:
            STATE.sub_lifetime = float(life)
        return self.respond(200, {"ok": True})
    if method == "GET":
        now = time.time()
        with STATE.lock:
            subs = {sid: {"expires_at": sub["expires"], "renewals": sub["renewals"],
                          "late": sub["late"], "deletes": sub["deletes"],
                          "deleted": sub["deleted"],
                          "lapsed": not sub["deleted"] and now >= sub["expires"]}
                    for sid, sub in STATE.subs.items()}
            return self.respond(200, {"lifetime": STATE.sub_lifetime,
                                      "subscriptions": subs})
    return self.respond(405, {"error": "method not allowed"})


_handle_api_before_graph = Handler.handle_api
Handler.handle_api = _graph_handle_api
Handler.ctl_subscriptions = _ctl_subscriptions


if __name__ == "__main__":
    sys.exit(main())
