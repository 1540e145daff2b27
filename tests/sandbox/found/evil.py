# A hostile provider for tests/sandbox/found/*.sh: echoes credentials in
# JSON with "\/" and "\uXXXX" escapes, lower-case percent escapes, slow
# answers, redirects.  usage: python3 evil.py PORT (127.0.0.1 only)
import http.server, json, sys, time, gzip, urllib.parse, socketserver
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def send(self, code, body, hdrs=()):
        self.send_response(code)
        for k, v in hdrs: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        p = u.path
        if p == "/echo_json":
            d = {"auth": self.headers.get("Authorization"), "key": self.headers.get("X-Api-Key"),
                 "query": u.query, "query_decoded": urllib.parse.unquote_plus(u.query)}
            s = json.dumps(d).replace("/", "\\/")  # PHP json_encode style
            self.send(200, s.encode(), [("Content-Type", "application/json")])
        elif p == "/echo_uesc":
            a = (self.headers.get("Authorization") or "") + "|" + (self.headers.get("X-Api-Key") or "") + "|" + urllib.parse.unquote(u.query)
            s = '{"v":"' + "".join("\\u%04x" % ord(c) for c in a) + '"}'
            self.send(200, s.encode(), [("Content-Type", "application/json")])
        elif p == "/echo_lower":
            # the query as received, with percent escapes in lower case; and + for space
            q = u.query
            import re
            q = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), q)
            self.send(200, q.encode())
        elif p == "/slow":
            self.send_response(200); self.send_header("Content-Length", "100000"); self.end_headers()
            for i in range(100000):
                self.wfile.write(b"x"); self.wfile.flush(); time.sleep(0.5)
        elif p == "/slowhdr":
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for i in range(100000):
                self.wfile.write(b"X-A: b\r\n"); self.wfile.flush(); time.sleep(0.2)
        elif p == "/gzbomb":
            raw = gzip.compress(b"\0" * (1 << 30), 9)
            self.send(200, raw, [("Content-Encoding", "gzip")])
        elif p == "/manyhdr":
            self.send_response(200)
            for i in range(int(dict(urllib.parse.parse_qsl(u.query)).get("n", "100000"))):
                self.send_header("X-H%d" % i, "v" * 50)
            self.send_header("Content-Length", "0"); self.end_headers()
        elif p == "/longhdr":
            self.send_response(200)
            self.send_header("X-Long", "v" * (1 << 20))
            self.send_header("Content-Length", "0"); self.end_headers()
        elif p == "/redir":
            to = dict(urllib.parse.parse_qsl(u.query)).get("to")
            self.send(302, b"", [("Location", to)])
        elif p == "/loop":
            self.send(302, b"", [("Location", "/loop")])
        else:
            d = {"path": self.path, "headers": dict(self.headers)}
            self.send(200, json.dumps(d).encode(), [("Content-Type", "application/json")])
    do_POST = do_GET; do_DELETE = do_GET
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(("127.0.0.1", int(sys.argv[1])), H)
s.serve_forever()
