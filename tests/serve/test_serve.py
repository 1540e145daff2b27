#!/usr/bin/env python3
"""End-to-end tests of `unhook serve`, driven from outside with real HTTP
(http.client) against the fixture provider ($UNHOOK_TEST_URL, started by
tests/run.sh).  Facts are read with sqlite3, the provider's counters, the
Prometheus text parser (python3-prometheus-client) and headless Chromium.

usage: python3 tests/serve/test_serve.py [OUTDIR] [CASE...]
OUTDIR keeps what a test saves (the status page's screenshot)."""

import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
UNHOOK = os.path.join(ROOT, "build", "unhook")
URL = os.environ["UNHOOK_TEST_URL"]
TOKEN = "serve-test-token-0123456789"
T = tempfile.mkdtemp(prefix="unhook-serve-")
OUT = sys.argv[1] if len(sys.argv) > 1 else T
CONN = os.path.join(T, "conn.json")
passed, failed = 0, 0


def ok(name):
    global passed
    passed += 1
    print("ok:", name, flush=True)


def bad(name, why):
    global failed
    failed += 1
    print("FAILED: %s (%s)" % (name, why), flush=True)


def check(name, got, want):
    if got == want:
        ok(name)
    else:
        bad(name, "got %r, want %r" % (got, want))


# ---- the provider -------------------------------------------------------

def control(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(URL + "/_control/" + path, data=data, method=method)
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")


def hooks(repo):
    return control("GET", "hooks")["github"].get("octo/" + repo, [])


def seed(repo, n, db):
    """n hooks at the provider, imported as instances that are on."""
    ids = control("POST", "seed", {"owner": "octo", "repo": repo, "count": n})["ids"]
    lines = [json.dumps({"id": "%s-%05d" % (repo, k), "connector": "github",
                         "event": "push", "options": {"owner": "octo", "repo": repo},
                         "connection": CONN, "registration": {"id": i}})
             for k, i in enumerate(ids)]
    path = os.path.join(T, repo + ".jsonl")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    subprocess.run([UNHOOK, "--db", db, "import", path], check=True,
                   stdout=subprocess.DEVNULL)
    return ids


# ---- serve ----------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Serve:
    def __init__(self, db, *args, token=TOKEN, env=None):
        self.port = free_port()
        self.log = open(os.path.join(T, "serve-%d.log" % self.port), "w+")
        e = dict(os.environ)
        e.pop("UNHOOK_API_TOKEN", None)
        if token:
            e["UNHOOK_API_TOKEN"] = token
        e.update(env or {})
        self.p = subprocess.Popen([UNHOOK, "--db", db, "serve", "--listen",
                                   "127.0.0.1:%d" % self.port] + list(args),
                                  stderr=self.log, stdout=self.log, env=e)
        for _ in range(100):
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("serve did not start: " + self.text())

    def request(self, method, path, body=None, token=TOKEN, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read().decode()
        c.close()
        return r.status, data, r

    def get(self, path, token=TOKEN):
        return self.request("GET", path, token=token)

    def json(self, method, path, body=None):
        status, data, _ = self.request(method, path, body)
        return status, json.loads(data) if data else None

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        rc = self.p.wait(timeout)
        return rc

    def text(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()


def db_rows(db, sql, *args):
    c = sqlite3.connect(db)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


def store_dump(db):
    return (db_rows(db, "SELECT * FROM instances ORDER BY id"),
            db_rows(db, "SELECT * FROM history ORDER BY seq"))


def wait_for(cond, timeout, step=0.02):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


def enable_body(iid, repo="hello"):
    return {"id": iid, "connector": "github", "event": "push",
            "options": {"owner": "octo", "repo": repo, "url": "https://example.test/" + iid},
            "connection": CONN}


# ---- the cases ---------------------------------------------------------------

def case_enable_disable():
    """enable -> disable (202) -> the hook is gone within a second."""
    control("POST", "reset")
    db = os.path.join(T, "ed.db")
    s = Serve(db)
    try:
        status, body = s.json("POST", "/v1/instances", enable_body("e1"))
        check("enable answers 201", status, 201)
        check("enable registered", body["instance"]["state"], "registered")
        hook = body["instance"]["registration"]["id"]
        status, again = s.json("POST", "/v1/instances", enable_body("e1"))
        check("enable again with the same body: 200, nothing run", (status, again["state"]),
              (200, "registered"))
        other = enable_body("e1", repo="other")
        status, _ = s.json("POST", "/v1/instances", other)
        check("enable again with another body: 409", status, 409)
        check("one hook at the provider", hooks("hello"), [hook])
        t0 = time.time()
        status, body = s.json("POST", "/v1/instances/e1/disable", {"reason": "user"})
        check("disable answers 202 at once", (status, body["result"]), (202, "queued"))
        gone = wait_for(lambda: hooks("hello") == [], 1.0)
        took = time.time() - t0
        if gone:
            ok("hook gone at the provider within a second (%.0f ms)" % (took * 1000))
        else:
            bad("hook gone within a second", "still there after %.2f s" % took)
        wait_for(lambda: s.json("GET", "/v1/instances/e1")[1]["state"] == "off", 2)
        status, inst = s.json("GET", "/v1/instances/e1")
        check("GET instance: off, desired off", (status, inst["state"], inst["desired"]),
              (200, "off", "off"))
        status, hist = s.json("GET", "/v1/instances/e1/history")
        check("history: enable, register, disable, deregister",
              [h["action"] for h in hist], ["enable", "register", "disable", "deregister"])
        status, lst = s.json("GET", "/v1/instances?state=off&connector=github&event=push")
        check("list filtered by state, connector, event", [i["id"] for i in lst], ["e1"])
        check("no secret in any answer", "test-token" in json.dumps([inst, hist, lst]), False)
    finally:
        check("SIGTERM: exit 0", s.stop(), 0)


def case_retry_on_time():
    """A retry scheduled 1 s later happens without any other command."""
    control("POST", "reset")
    db = os.path.join(T, "retry.db")
    seed("retry", 1, db)
    hook = hooks("retry")[0]
    control("POST", "script", {"method": "DELETE", "path": "/repos/octo/retry/hooks/%d" % hook,
                               "responses": [{"status": 503, "headers": {"Retry-After": "1"},
                                              "body": {"message": "maintenance"}}]})
    s = Serve(db)
    try:
        status, _ = s.json("POST", "/v1/instances/retry-00000/disable")
        check("disable of a hook the provider refuses for now: 202", status, 202)
        wait_for(lambda: db_rows(db, "SELECT attempts FROM instances")[0][0] == 1, 2)
        state, nxt = db_rows(db, "SELECT state, next_attempt_at FROM instances")[0]
        check("after the 503: deregistering, next attempt scheduled", state, "deregistering")
        t_sched = nxt
        gone = wait_for(lambda: hooks("retry") == [], 3.0)
        check("the scheduled retry ran on its own: hook gone", gone, True)
        # the outcome is committed just after the provider answered
        wait_for(lambda: db_rows(db, "SELECT state FROM instances")[0][0] == "off", 1)
        at = db_rows(db, "SELECT at FROM history WHERE action='deregister' "
                         "AND outcome='done'")
        late = at[0][0] - t_sched if at else None
        if late is not None and -0.05 <= late < 0.6:
            ok("retry ran on time (%.0f ms after it was due)" % (late * 1000))
        else:
            bad("retry ran on time", "late by %r s" % late)
        _, body = s.json("GET", "/v1/instances/retry-00000")
        check("instance off after the retry", body["state"], "off")
    finally:
        s.stop()


def case_pickup():
    """Intents from another process are picked up within 250 ms, also while
    a slow flow is in flight."""
    control("POST", "reset")
    db = os.path.join(T, "pickup.db")
    ids = seed("pickup", 3, db)
    control("POST", "script", {"method": "DELETE", "path": "/repos/octo/pickup/hooks/%d" % ids[0],
                               "responses": [{"delay_ms": 3000, "pass": True}]})
    s = Serve(db)
    try:
        s.json("POST", "/v1/instances/pickup-00000/disable")
        time.sleep(0.3)                 # its DELETE now hangs for 3 s
        for n in (1, 2):
            iid = "pickup-%05d" % n
            subprocess.run([UNHOOK, "--db", db, "disable", iid, "--no-wait"], check=True,
                           stdout=subprocess.DEVNULL)
        wait_for(lambda: len(hooks("pickup")) == 1, 2)
        asked = dict(db_rows(db, "SELECT instance_id, at FROM history WHERE action='disable'"))
        sent = {r["path"].rsplit("/", 1)[1]: r["time"] for r in control("GET", "requests")
                if r["method"] == "DELETE"}
        lag = max(sent[str(ids[n])] - asked["pickup-%05d" % n] for n in (1, 2))
        if lag < 0.25:
            ok("--no-wait from another process: DELETE sent %.0f ms after the intent, "
               "a slow flow still in flight" % (lag * 1000))
        else:
            bad("picked up within 250 ms", "lag %r s" % lag)
        check("the slow flow is still in flight", hooks("pickup"), [ids[0]])
    finally:
        check("SIGTERM with a slow flow in flight: exit 0", s.stop(), 0)
    check("the slow flow was finished, not cut off",
          (hooks("pickup"), db_rows(db, "SELECT state FROM instances WHERE id='pickup-00000'")),
          ([], [("off",)]))


def case_no_wait():
    """disable --no-wait records the intent only; serve does the rest."""
    control("POST", "reset")
    db = os.path.join(T, "nowait.db")
    seed("nowait", 3, db)
    r = subprocess.run([UNHOOK, "--db", db, "disable", "nowait-00000", "--no-wait"],
                       capture_output=True, text=True)
    check("disable --no-wait: exit 0, 'queued'", (r.returncode, r.stdout.strip()),
          (0, "nowait-00000: queued"))
    check("nothing sent before serve runs", len(hooks("nowait")), 3)
    r = subprocess.run([UNHOOK, "--db", db, "disable", "--all", "--no-wait"],
                       capture_output=True, text=True)
    check("disable --all --no-wait: exit 0, counts", (r.returncode, r.stdout.strip()),
          (0, "queued 2"))
    rows = db_rows(db, "SELECT instance_id, action FROM history WHERE action = 'disable' "
                       "ORDER BY instance_id")
    check("each queued instance has its 'disable' line of history, one or all",
          [r[0] for r in rows], ["nowait-00000", "nowait-00001", "nowait-00002"])
    s = Serve(db)
    try:
        check("serve picks the queued intents up", wait_for(lambda: hooks("nowait") == [], 2),
              True)
    finally:
        s.stop()


def case_sigterm_mid_bulk():
    """SIGTERM in the middle of a bulk disable: exit 0, no claim held by the
    dead process, no flow cut off (every DELETE answered and recorded)."""
    control("POST", "reset")
    db = os.path.join(T, "term.db")
    seed("term", 300, db)
    control("POST", "script", {"prefix": "/repos/octo/term/hooks/",
                               "responses": [{"delay_ms": 150, "pass": True}] * 300})
    s = Serve(db, "--concurrency", "8")
    try:
        status, body = s.json("POST", "/v1/disable", {"connector": "github", "event": "push"})
        check("bulk disable: 202 with the count", (status, body["queued"]), (202, 300))
        wait_for(lambda: len(hooks("term")) < 290, 5)
        time.sleep(0.3)
    finally:
        rc = s.stop()
    check("SIGTERM mid-bulk: exit 0", rc, 0)
    now = time.time()
    held = db_rows(db, "SELECT count(*) FROM claims WHERE lease_end > ?", now)[0][0]
    check("no instance left claimed by the stopped process", held, 0)
    reqs = control("GET", "requests")
    dropped = [r for r in reqs if r["method"] == "DELETE" and r["status"] is None]
    check("no request cut off", len(dropped), 0)
    left = set(hooks("term"))
    rows = db_rows(db, "SELECT state, registration FROM instances")
    off = sum(1 for st, _ in rows if st == "off")
    pending = [json.loads(reg)["id"] for st, reg in rows if st == "deregistering"]
    if 0 < off < 300:
        ok("stopped mid-bulk (%d of 300 off)" % off)
    else:
        bad("stopped mid-bulk", "%d off" % off)
    check("every hook the provider deleted is recorded off (none left deregistering)",
          all(h in left for h in pending) and len(left) == len(pending), True)
    s = Serve(db, "--concurrency", "16")
    try:
        wait_for(lambda: hooks("term") == [], 20)
    finally:
        s.stop()
    counts = control("GET", "stats")["delete_counts"]
    twice = sum(1 for v in counts.values() if v > 1)
    check("a second serve finishes the rest, nothing deleted twice",
          (hooks("term"), twice), ([], 0))


def case_two_processes():
    """Two serve processes on one database: 2,000 instances, none deleted twice."""
    control("POST", "reset")
    db = os.path.join(T, "two.db")
    ids = seed("two", 2000, db)
    a = Serve(db, "--concurrency", "16")
    b = Serve(db, "--concurrency", "16")
    t0 = time.time()
    try:
        status, body = a.json("POST", "/v1/disable", {"all": True})
        check("bulk disable of 2,000: 202", (status, body["queued"]), (202, 2000))
        done = wait_for(lambda: db_rows(db, "SELECT count(*) FROM instances WHERE "
                                            "state='off'")[0][0] == 2000, 60, 0.1)
        took = time.time() - t0
        check("all 2,000 off (%.1f s)" % took, done, True)
    finally:
        ra, rb = a.stop(), b.stop()
    check("both exit 0", (ra, rb), (0, 0))
    st = control("GET", "stats")
    counts = st["delete_counts"]
    check("every hook deleted exactly once",
          sum(1 for i in ids if counts.get(str(i), 0) == 1), 2000)
    check("provider: 2,000 deletes, none 404", (st["deletes_ok"], st["deletes_404"]), (2000, 0))
    by = {}
    for line in (a.text() + b.text()).splitlines():
        m = re.search(r" two-\d+: deregister done", line)
        if m:
            by[line in a.text()] = by.get(line in a.text(), 0) + 1
    if len(by) == 2:
        ok("both processes did part of the work (%s)" % sorted(by.values()))
    else:
        bad("both processes did part of the work", by)


def case_metrics_and_page():
    """/metrics parses and matches `list`; the status page in Chromium."""
    from prometheus_client.parser import text_string_to_metric_families
    control("POST", "reset")
    db = os.path.join(T, "page.db")
    ids = seed("page", 5, db)
    control("POST", "script", {"method": "DELETE", "path": "/repos/octo/page/hooks/%d" % ids[1],
                               "responses": [{"status": 400,
                                              "body": {"message": "hook is locked"}}]})
    s = Serve(db, "--log-format", "json")
    try:
        s.json("POST", "/v1/instances/page-00000/disable")
        s.json("POST", "/v1/instances/page-00001/disable")
        wait_for(lambda: db_rows(db, "SELECT count(*) FROM instances WHERE state IN "
                                     "('off','failed')")[0][0] == 2, 3)
        # the observer (metrics, log line) is told just after the commit
        wait_for(lambda: s.text().count('"action":"deregister"') == 2, 1)
        status, text, r = s.request("GET", "/metrics", token=None)
        check("/metrics: 200, Prometheus text", (status, r.getheader("Content-Type")),
              (200, "text/plain; version=0.0.4; charset=utf-8"))
        fams = {f.name: f for f in text_string_to_metric_families(text)}
        by_state = {smp.labels["state"]: smp.value for smp in fams["unhook_instances"].samples}
        lst = json.loads(subprocess.run([UNHOOK, "--db", db, "--json", "list"],
                                        capture_output=True, text=True, check=True).stdout)
        want = {st: float(sum(1 for i in lst if i["state"] == st))
                for st in ("registering", "registered", "deregistering", "off", "failed", "lost",
                           "expired")}
        check("unhook_instances matches `unhook list`", by_state, want)
        att = {(smp.labels["outcome"]): smp.value for smp in fams["unhook_attempts"].samples
               if smp.name == "unhook_attempts_total"}
        check("unhook_attempts_total by outcome", att, {"done": 1.0, "failed": 1.0})
        names = sorted(fams)
        for n in ("unhook_attempt_duration_seconds", "unhook_queue_lag_seconds",
                  "unhook_provider_responses", "unhook_retries_scheduled"):
            if n not in names:
                bad("metric " + n, "missing from " + ", ".join(names))
        ok("metric families: " + ", ".join(names))
        lines = [json.loads(l) for l in s.text().splitlines() if l.startswith("{")]
        att_lines = [l for l in lines if "action" in l]
        check("--log-format json: one object per attempt",
              sorted((l["instance"], l["outcome"]) for l in att_lines),
              [("page-00000", "done"), ("page-00001", "failed")])
        fields = {"time", "instance", "connector", "event", "action", "outcome", "status",
                  "duration", "attempt", "error"}
        check("attempt lines carry the fields", all(fields <= set(l) for l in att_lines), True)
        check("no secret in the logs", "test-token" in s.text(), False)
        page(s, db)
    finally:
        s.stop()


def chromium(*args):
    exe = next((p for p in ("chromium", "chromium-browser", "google-chrome")
                if subprocess.run(["sh", "-c", "command -v " + p],
                                  capture_output=True).returncode == 0), None)
    if not exe:
        return None
    prof = tempfile.mkdtemp(prefix="chromium-", dir=T)
    return subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu",
                           "--no-first-run", "--user-data-dir=" + prof,
                           "--disable-dev-shm-usage"] + list(args),
                          capture_output=True, text=True, timeout=60)


def page(s, db):
    url = "http://127.0.0.1:%d/" % s.port
    r = chromium("--dump-dom", url)
    if r is None:
        bad("status page in Chromium", "chromium is not installed")
        return
    dom = r.stdout
    failed_n = db_rows(db, "SELECT count(*) FROM instances WHERE state='failed'")[0][0]
    m = re.search(r'id="count-failed"><b>(\d+)</b>', dom)
    check("page (Chromium DOM): failed count", m and int(m.group(1)), failed_n)
    m = re.search(r'id="count-off"><b>(\d+)</b>', dom)
    check("page: off count", m and int(m.group(1)), 1)
    check("page: the failed instance with its last error and a retry form",
          ("page-00001" in dom, "hook is locked" in dom,
           'action="/instances/page-00001/retry"' in dom), (True, True, True))
    check("page: an inline SVG chart", "<svg" in dom and "<rect" in dom, True)
    check("page: link to the history", 'href="/instances/page-00001"' in dom, True)
    check("page: no script, no secret", ("<script" in dom, "test-token" in dom), (False, False))
    shot = os.path.join(OUT, "status-page.png")
    r = chromium("--screenshot=" + shot, "--window-size=420,900", "--hide-scrollbars", url)
    check("screenshot saved (phone width)", os.path.exists(shot) and os.path.getsize(shot) > 1000,
          True)
    status, html, _ = s.request("GET", "/instances/page-00001", token=None)
    check("instance page with its history", (status, "deregister" in html), (200, True))
    # the retry form: wrong token refused, right token re-queues and redirects
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _, _ = s.request("POST", "/instances/page-00001/retry", "token=nope",
                             token=None, headers=form)
    check("retry form with a wrong token: 401", status, 401)
    control("DELETE", "script")
    status, _, r = s.request("POST", "/instances/page-00001/retry", "token=" + TOKEN,
                             token=None, headers=form)
    check("retry form: 303 back to the page", (status, r.getheader("Location")), (303, "/"))
    check("the retried instance is deregistered",
          wait_for(lambda: db_rows(db, "SELECT state FROM instances WHERE id='page-00001'")
                   [0][0] == "off", 2), True)


def case_bad_input():
    """Each bad request: its status and message; the store unchanged."""
    control("POST", "reset")
    db = os.path.join(T, "bad.db")
    seed("bad", 2, db)
    s = Serve(db, "--max-body", "1024")
    try:
        before = store_dump(db)
        cases = [
            ("missing token", "GET", "/v1/instances", None, None, 401, "missing bearer token"),
            ("invalid token", "GET", "/v1/instances", None, "wrong-token", 401, "invalid token"),
            ("invalid token on a write", "POST", "/v1/instances/bad-00000/disable", None,
             "x" * 27, 401, "invalid token"),
            ("oversized body", "POST", "/v1/instances", "{" + " " * 2000 + "}", TOKEN, 413,
             "larger than 1024 bytes"),
            ("malformed JSON", "POST", "/v1/instances", '{"id": "x",', TOKEN, 400,
             "malformed JSON"),
            ("not an object", "POST", "/v1/disable", "[1]", TOKEN, 400, "must be a JSON object"),
            ("text after the object", "POST", "/v1/instances/bad-00000/disable",
             '{"reason":"a"} x', TOKEN, 400, "text after the object"),
            ("duplicate field", "POST", "/v1/instances/bad-00000/disable",
             '{"reason":"a","reason":"b"}', TOKEN, 400, "duplicate field 'reason'"),
            ("unknown field", "POST", "/v1/instances/bad-00000/disable", '{"reson":"x"}',
             TOKEN, 400, "unknown field 'reson'"),
            ("unknown field on enable", "POST", "/v1/instances",
             json.dumps(dict(enable_body("n1"), colour="red")), TOKEN, 400,
             "unknown field 'colour'"),
            ("wrong type", "POST", "/v1/instances", json.dumps(dict(enable_body("n1"), id=5)),
             TOKEN, 400, "field 'id' must be a non-empty string"),
            ("missing required", "POST", "/v1/instances", '{"id":"n1"}', TOKEN, 400,
             "are required"),
            ("unknown connector", "POST", "/v1/instances",
             json.dumps(dict(enable_body("n1"), connector="nope")), TOKEN, 400, "nope"),
            ("unknown id", "GET", "/v1/instances/nope", None, TOKEN, 404, "no instance 'nope'"),
            ("unknown id: history", "GET", "/v1/instances/nope/history", None, TOKEN, 404,
             "no instance 'nope'"),
            ("unknown id: disable", "POST", "/v1/instances/nope/disable", None, TOKEN, 404,
             "no instance 'nope'"),
            ("unknown id: retry", "POST", "/v1/instances/nope/retry", None, TOKEN, 404,
             "no instance 'nope'"),
            ("retry of an instance that is not failed", "POST",
             "/v1/instances/bad-00000/retry", None, TOKEN, 409, "is not failed"),
            ("bulk disable without a filter", "POST", "/v1/disable", "{}", TOKEN, 400,
             "give a filter"),
            ("unknown state", "GET", "/v1/instances?state=gone", None, TOKEN, 400,
             "unknown state 'gone'"),
            ("unknown query parameter", "GET", "/v1/instances?color=red", None, TOKEN, 400,
             "unknown query parameter 'color'"),
            ("wrong method", "DELETE", "/v1/instances/bad-00000", None, TOKEN, 405,
             "method DELETE not allowed here (allowed: GET)"),
            ("wrong method: disable", "GET", "/v1/instances/bad-00000/disable", None, TOKEN, 405,
             "allowed: POST"),
            ("wrong method: list", "PUT", "/v1/instances", "{}", TOKEN, 405, "allowed: GET, POST"),
            ("unknown endpoint", "GET", "/v1/nothing", None, TOKEN, 404, "no such endpoint"),
        ]
        for name, method, path, body, tok, want, msg in cases:
            status, data, r = s.request(method, path, body, token=tok,
                                        headers={"Content-Type": "application/json"})
            try:
                err = json.loads(data)["error"]
            except (ValueError, KeyError):
                err = data
            if status == want and msg in err:
                ok("%s: %d %s" % (name, status, err))
            else:
                bad(name, "got %d %r, want %d with %r" % (status, err, want, msg))
            if want == 405 and not r.getheader("Allow"):
                bad(name + ": Allow header", "missing")
            if want == 401 and r.getheader("WWW-Authenticate") != 'Bearer realm="unhook"':
                bad(name + ": WWW-Authenticate", r.getheader("WWW-Authenticate"))
        check("nothing changed in the store", store_dump(db) == before, True)
        check("no hook touched at the provider", len(hooks("bad")), 2)
    finally:
        s.stop()
    r = subprocess.run([UNHOOK, "--db", db, "serve", "--listen", "0.0.0.0:%d" % free_port()],
                       capture_output=True, text=True, timeout=10,
                       env={k: v for k, v in os.environ.items() if k != "UNHOOK_API_TOKEN"})
    check("non-loopback --listen without a token: refused",
          (r.returncode, "refusing to listen on 0.0.0.0" in r.stderr), (2, True))
    check("... and not first announced as open to local clients",
          "open to local clients" in r.stderr, False)
    short = os.path.join(T, "short-token")
    with open(short, "w") as f:
        f.write("abc\n")
    os.chmod(short, 0o600)
    r = subprocess.run([UNHOOK, "--db", db, "serve", "--token-file", short],
                       capture_output=True, text=True, timeout=10)
    check("a short token is refused", (r.returncode, "at least 16" in r.stderr), (2, True))
    shared = os.path.join(T, "shared-token")
    with open(shared, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(shared, 0o644)
    r = subprocess.run([UNHOOK, "--db", db, "serve", "--listen", "127.0.0.1:0",
                        "--token-file", shared], capture_output=True, text=True, timeout=10)
    check("a token file others may read is refused",
          (r.returncode, "readable by others" in r.stderr), (2, True))


def case_sighup_and_ready():
    """/readyz follows the connectors; SIGHUP reloads them; SIGINT stops."""
    control("POST", "reset")
    db = os.path.join(T, "hup.db")
    seed("hup", 2, db)
    conns = os.path.join(T, "conns")
    os.makedirs(conns, exist_ok=True)
    subprocess.run(["cp", "-R", os.path.join(ROOT, "scripts", "connectors", "generic"),
                    os.path.join(conns, "mine")], check=True)
    with open(os.path.join(T, "mine.jsonl"), "w") as f:
        f.write(json.dumps({"id": "mine-1", "connector": "mine", "event": "hook",
                            "options": {"collection": "/api/x"}, "connection": CONN,
                            "registration": {"id": "hk_1"}, "state": "failed",
                            "desired": "off"}) + "\n")
    subprocess.run([UNHOOK, "--db", db, "--connectors", conns, "import",
                    os.path.join(T, "mine.jsonl")], check=True, stdout=subprocess.DEVNULL)
    s = Serve(db, env={"UNHOOK_CONNECTORS": conns})
    try:
        check("/readyz: 200 once the worker reached the store",
              wait_for(lambda: s.get("/readyz", token=None)[0] == 200, 2), True)
        os.rename(os.path.join(conns, "mine"), os.path.join(conns, "gone"))
        status, body, _ = s.request("GET", "/readyz", token=None)
        check("/readyz with a connector gone: 503 naming it", (status, body.strip()),
              (503, "not ready: connector 'mine' not found (searched --connectors, "
               "UNHOOK_CONNECTORS and the bundled connectors)"))
        os.rename(os.path.join(conns, "gone"), os.path.join(conns, "mine"))
        s.p.send_signal(signal.SIGHUP)
        check("SIGHUP: connectors reloaded", wait_for(lambda: "reloaded" in s.text(), 2), True)
        s.json("POST", "/v1/instances/hup-00000/disable")
        check("still working after SIGHUP", wait_for(lambda: len(hooks("hup")) == 1, 2), True)
    finally:
        check("SIGINT: exit 0", s.stop(signal.SIGINT), 0)



def case_odd_ids_reach():
    """Ids holding '/', '?', '#' or a space are reached through the API
    (percent-encoded) and linked from the status page."""
    from urllib.parse import quote
    control("POST", "reset")
    db = os.path.join(T, "odd.db")
    s = Serve(db)
    try:
        ids = ["team/a", "q?x", "h#1", "sp ace"]
        for iid in ids:
            check("enable %r: 201" % iid,
                  s.json("POST", "/v1/instances", enable_body(iid, repo="odd"))[0], 201)
        for iid in ids:
            p = "/v1/instances/" + quote(iid, safe="")
            status, inst = s.json("GET", p)
            check("GET %r" % iid, (status, inst and inst.get("id")), (200, iid))
            check("history of %r" % iid, s.json("GET", p + "/history")[0], 200)
        control("POST", "script", {"method": "DELETE", "prefix": "/repos/octo/odd/hooks/",
                                   "responses": [{"status": 400, "body": "locked"}]})
        check("disable 'team/a' (slash not encoded): 202",
              s.json("POST", "/v1/instances/team/a/disable")[0], 202)
        check("... dead-lettered", wait_for(
            lambda: s.json("GET", "/v1/instances/team%2Fa")[1]["state"] == "failed", 3), True)
        _, html, _ = s.request("GET", "/", token=None)
        check("the page links the dead letter percent-encoded",
              'href="/instances/team%2Fa"' in html and
              'action="/instances/team%2Fa/retry"' in html, True)
        check("its page answers", s.request("GET", "/instances/team%2Fa", token=None)[0], 200)
        status, _, _ = s.request("POST", "/instances/team%2Fa/retry", "token=" + TOKEN,
                                 token=None, headers={"Content-Type":
                                                      "application/x-www-form-urlencoded"})
        check("its retry form: 303", status, 303)
        check("retried: off", wait_for(
            lambda: s.json("GET", "/v1/instances/team%2Fa")[1]["state"] == "off", 3), True)
    finally:
        check("SIGTERM: exit 0", s.stop(), 0)


def case_connection_edited():
    """A connection file edited while serve runs is read again at the next
    attempt a second later: a wrong token dead-letters, the repaired file lets retry work."""
    control("POST", "reset")
    db = os.path.join(T, "edit.db")
    conn = os.path.join(T, "edited.json")

    def write(token):
        with open(conn, "w") as f:
            f.write(json.dumps({"base_url": URL, "auth": {"type": "bearer", "token": token}}))
        os.chmod(conn, 0o600)

    write("test-token")
    s = Serve(db)
    try:
        body = dict(enable_body("ed1", repo="edit"), connection=conn)
        check("enable with the file as first written: 201",
              s.json("POST", "/v1/instances", body)[0], 201)
        write("revoked-token-0123")
        time.sleep(1.1)     # a file in use is looked at once a second
        s.json("POST", "/v1/instances/ed1/disable")
        check("the edited (wrong) token is used: 401, dead letter",
              wait_for(lambda: s.json("GET", "/v1/instances/ed1")[1]["state"] == "failed", 3),
              True)
        write("test-token")
        time.sleep(1.1)
        check("retry: 202", s.json("POST", "/v1/instances/ed1/retry")[0], 202)
        check("the repaired file is used: the hook is gone",
              wait_for(lambda: hooks("edit") == [], 3), True)
        check("no secret in the log", "revoked-token-0123" in s.text(), False)
    finally:
        check("SIGTERM: exit 0", s.stop(), 0)



# ---- renewal of expiring subscriptions ---------------------------------------

def graph_connector(expired="gone"):
    """The Graph-style connector of scripts/README.md, as the docs show it
    (expired="call": the same without the event's expired choice)."""
    d = os.path.join(T, "docs")
    if not os.path.isdir(d):
        subprocess.run(["lua5.4", os.path.join(ROOT, "tests", "e2e", "docblocks.lua"),
                        os.path.join(ROOT, "scripts", "README.md"), d], check=True,
                       stdout=subprocess.DEVNULL)
    if expired == "gone":
        return os.path.join(d, "graph")
    call = os.path.join(T, "graph-call")
    if not os.path.isdir(call):
        subprocess.run(["cp", "-r", os.path.join(d, "graph"), call], check=True)
        path = os.path.join(call, "connector.lua")
        with open(path) as f:
            src = f.read()
        assert 'expired = "gone",' in src
        with open(path, "w") as f:
            f.write(src.replace('expired = "gone",', ""))
    return call


def subs():
    return control("GET", "subscriptions")["subscriptions"]


def graph_body(iid, expired="gone"):
    return {"id": iid, "connector": graph_connector(expired), "event": "new_mail",
            "options": {"notification_url": "https://example.test/" + iid},
            "connection": CONN}


def cli(db, *args):
    return subprocess.run([UNHOOK, "--db", db] + list(args), capture_output=True, text=True)


def metric_values(s):
    from prometheus_client.parser import text_string_to_metric_families
    _, text, _ = s.request("GET", "/metrics", token=None)
    out = {}
    for fam in text_string_to_metric_families(text):
        for smp in fam.samples:
            out[(smp.name, tuple(sorted(smp.labels.items())))] = smp.value
    return out


def case_renewal():
    """Subscriptions that expire after 3 s are kept alive by serve across
    three renewals, then deregistered."""
    control("POST", "reset")
    control("POST", "subscriptions", {"lifetime": 3})
    db = os.path.join(T, "renew.db")
    s = Serve(db)
    try:
        status, body = s.json("POST", "/v1/instances", graph_body("m1"))
        inst = body["instance"]
        check("enable: 201, registered, its expiry stored",
              (status, inst["state"], "expires_at" in inst), (201, "registered", True))
        sid = inst["registration"]["id"]
        check("a renewal is scheduled before the expiry",
              0 < inst["next_attempt_at"] < inst["expires_at"], True)
        t0 = time.time()
        renewed = wait_for(lambda: subs()[sid]["renewals"] >= 3, 10, step=0.1)
        check("three renewals by serve alone (%.1f s)" % (time.time() - t0), renewed, True)
        sub = subs()[sid]
        check("the subscription never lapsed: no request came after its expiry",
              (sub["lapsed"], sub["late"]), (False, 0))
        wait_for(lambda: db_rows(db, "SELECT count(*) FROM history WHERE action='renew'")[0][0]
                 >= 3, 2)
        rows = db_rows(db, "SELECT outcome, registration FROM history WHERE action='renew' "
                           "ORDER BY seq")
        check("a history row per renewal, done",
              [o for o, _ in rows][:3], ["done", "done", "done"])
        exps = [json.loads(reg)["expirationDateTime"] for _, reg in rows]
        check("each renewal's row keeps its new registration data (later expiries)",
              exps == sorted(set(exps)) and len(exps) >= 3, True)
        st, reg, exp_at = db_rows(db, "SELECT state, registration, expires_at FROM instances")[0]
        sub = subs()[sid]
        check("stored: registered, the newest registration data and its expiry",
              (st, json.loads(reg)["expirationDateTime"] == exps[-1] or
               sub["renewals"] > len(exps), abs(exp_at - sub["expires_at"]) < 0.01 or
               sub["renewals"] > len(exps)), ("registered", True, True))
        m = metric_values(s)
        renews = sum(v for (n, lab), v in m.items() if n == "unhook_attempts_total" and
                     ("action", "renew") in lab and ("outcome", "done") in lab)
        check("/metrics: renew attempts counted, one renewal scheduled, none lapsed",
              (renews >= 3, m.get(("unhook_renewals_scheduled", ())),
               m.get(("unhook_subscriptions_lapsed", ()))), (True, 1.0, 0.0))
        status, body = s.json("POST", "/v1/instances/m1/disable")
        check("disable: 202", status, 202)
        check("deregistered: the subscription deleted at the provider",
              wait_for(lambda: subs()[sid]["deleted"], 2), True)
        wait_for(lambda: s.json("GET", "/v1/instances/m1")[1]["state"] == "off", 2)
        _, inst = s.json("GET", "/v1/instances/m1")
        check("instance off, no expiry left", (inst["state"], "expires_at" in inst),
              ("off", False))
        check("deleted once, never lapsed", (subs()[sid]["deletes"], subs()[sid]["late"]),
              (1, 0))
    finally:
        check("SIGTERM: exit 0", s.stop(), 0)


def case_renewal_by_resume():
    """resume runs a renewal that has come due (and does not wait for the next)."""
    control("POST", "reset")
    control("POST", "subscriptions", {"lifetime": 2})
    db = os.path.join(T, "resume-renew.db")
    b = graph_body("m3")
    r = cli(db, "enable", "m3", "--connector", b["connector"], "--event", "new_mail",
            "--option", "notification_url=https://example.test/m3", "--connection", CONN)
    check("enable: registered", (r.returncode, r.stdout.strip()), (0, "m3: registered"))
    r = cli(db, "resume")
    check("resume before the renewal is due: nothing to do", (r.returncode, r.stdout.strip()),
          (0, "nothing to do"))
    time.sleep(1.2)
    t0 = time.time()
    r = cli(db, "resume", "--wait")
    check("resume once it is due: renewed, and it returns at once",
          (r.returncode, "renewed 1" in r.stdout, time.time() - t0 < 1.0), (0, True, True))
    check("the provider saw one renewal", [v["renewals"] for v in subs().values()], [1])


def case_renewal_lapsed():
    """A renewal refused until the subscription lapsed: expired in list, show
    and /metrics; enabled again it subscribes anew; turning it off follows
    the event's expired choice."""
    control("POST", "reset")
    control("POST", "subscriptions", {"lifetime": 2})
    db = os.path.join(T, "lapse.db")
    for iid, expired in (("gone1", "gone"), ("call1", "call"), ("again1", "gone"),
                         ("again2", "gone")):
        b = graph_body(iid, expired)
        r = cli(db, "enable", iid, "--connector", b["connector"], "--event", "new_mail",
                "--option", "notification_url=https://example.test/" + iid, "--connection", CONN)
        check("enable %s: registered" % iid, r.returncode, 0)
    sids = sorted(subs())
    for sid in sids:
        control("POST", "script", {"method": "PATCH", "path": "/v1.0/subscriptions/" + sid,
                                   "responses": [{"status": 503, "body": {"error": "busy"}}] * 30})
    s = Serve(db)
    try:
        lapsed = wait_for(lambda: [r[0] for r in db_rows(db, "SELECT state FROM instances")]
                          == ["expired"] * 4, 6, step=0.05)
        check("renewals refused until the expiry: all expired", lapsed, True)
        hist = db_rows(db, "SELECT outcome, message FROM history WHERE instance_id='gone1' "
                           "AND action='renew' ORDER BY seq")
        check("renewal retried like any attempt, then found lapsed",
              ([o for o, _ in hist][:1], hist[-1][0] if hist else None,
               "lapsed" in (hist[-1][1] or "") if hist else None), (["retry"], "gone", True))
        check("no request about a subscription after it lapsed",
              [v["late"] for v in subs().values()], [0] * 4)
        r = cli(db, "list", "--state", "expired")
        check("list --state expired", sorted(l.split()[0] for l in r.stdout.splitlines()[1:]),
              ["again1", "again2", "call1", "gone1"])
        r = cli(db, "show", "gone1")
        check("show: expires ... (lapsed)", re.search(r"^expires: \S+ \(lapsed\)$", r.stdout,
                                                      re.M) is not None, True)
        m = metric_values(s)
        check("/metrics: 4 expired, 4 lapsed",
              (m.get(("unhook_instances", (("state", "expired"),))),
               m.get(("unhook_subscriptions_lapsed", ()))), (4.0, 4.0))
        status, body = s.json("POST", "/v1/instances", graph_body("again1"))
        check("POST /v1/instances of an expired instance: subscribed anew",
              (status, body["instance"]["state"], body["instance"]["registration"]["id"] in sids),
              (201, "registered", False))
        r = cli(db, "enable", "--again", "again2")
        check("enable --again of an expired instance: subscribed anew",
              (r.returncode, r.stdout.strip()), (0, "again2: registered"))
        deletes_before = [subs()[x]["deletes"] for x in sids]
        for iid in ("gone1", "call1"):
            status, _ = s.json("POST", "/v1/instances/%s/disable" % iid)
            check("disable %s: 202" % iid, status, 202)
        off = wait_for(lambda: db_rows(db, "SELECT state FROM instances WHERE id IN "
                                           "('gone1', 'call1')") == [("off",), ("off",)], 3)
        check("both off", off, True)
        by_id = dict(db_rows(db, "SELECT json_extract(registration, '$.id'), instance_id "
                                 "FROM history WHERE action='register'"))
        deletes = {by_id[x]: subs()[x]["deletes"] - d for x, d in zip(sids, deletes_before)}
        check('expired = "gone": no request; "call": the provider is called anyway',
              deletes, {"gone1": 0, "call1": 1, "again1": 0, "again2": 0})
        out = dict(db_rows(db, "SELECT instance_id, outcome FROM history "
                               "WHERE action='deregister'"))
        check("both recorded already gone", out, {"gone1": "gone", "call1": "gone"})
    finally:
        s.stop()

def case_foreign():
    """Another site's page in the operator's browser changes nothing."""
    control("POST", "reset")
    db = os.path.join(T, "foreign.db")
    seed("foreign", 2, db)
    s = Serve(db, token=None)      # the default: loopback, no token, /v1 open
    evil = {"Origin": "https://evil.example"}
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    try:
        before = store_dump(db)
        cases = [
            # fetch(..., {mode: "no-cors", method: "POST", body: ...}): a
            # "simple" request, sent without a preflight
            ("bulk disable from another origin", "POST", "/v1/disable", '{"all": true}',
             dict(evil, **{"Content-Type": "text/plain"}), "cross-origin"),
            ("enable from another origin", "POST", "/v1/instances",
             json.dumps(dict(enable_body("evil"), options={"owner": "octo", "repo": "foreign",
                                                           "url": "https://evil.example/"})),
             dict(evil, **{"Content-Type": "text/plain"}), "cross-origin"),
            ("disable, Sec-Fetch-Site: cross-site", "POST",
             "/v1/instances/foreign-00000/disable", None, {"Sec-Fetch-Site": "cross-site"},
             "cross-site"),
            ("disable, Origin: null", "POST", "/v1/instances/foreign-00000/disable", None,
             {"Origin": "null"}, "cross-origin"),
            ("Sec-Fetch-Site: same-site", "POST", "/v1/instances/foreign-00000/disable", None,
             {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:%d" % s.port},
             "cross-site"),
            ("another origin on this machine", "POST", "/v1/instances/foreign-00000/disable",
             None, {"Origin": "http://localhost:3000"}, "cross-origin"),
            ("the retry form from another origin", "POST", "/instances/foreign-00000/retry",
             "token=", dict(evil, **form), "cross-origin"),
            # DNS rebinding: a name of the attacker's that resolves to 127.0.0.1
            ("a rebound name reads /v1", "GET", "/v1/instances", None,
             {"Host": "evil.example:%d" % s.port}, "loopback Host"),
            ("a rebound name reads the status page", "GET", "/", None,
             {"Host": "evil.example:%d" % s.port}, "loopback Host"),
            ("a rebound name posts with its own Origin", "POST", "/v1/disable", '{"all": true}',
             {"Host": "rebind.example:%d" % s.port,
              "Origin": "http://rebind.example:%d" % s.port}, "loopback Host"),
        ]
        for name, method, path, body, headers, msg in cases:
            status, data, _ = s.request(method, path, body, token=None, headers=headers)
            check("%s: 403 (%s)" % (name, msg), (status, msg in data), (403, True))
        check("nothing changed in the store", store_dump(db) == before, True)
        check("both hooks still at the provider", len(hooks("foreign")), 2)
        origin = "http://127.0.0.1:%d" % s.port
        status, _, _ = s.request("GET", "/v1/instances", token=None,
                                 headers={"Host": "localhost:%d" % s.port})
        check("Host: localhost is served", status, 200)
        status, _, _ = s.request("POST", "/v1/instances/foreign-00000/disable", token=None,
                                 headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"})
        check("a write from the service's own origin: 202", status, 202)
        status, _, _ = s.request("POST", "/v1/instances/foreign-00000/disable", token=None,
                                 headers={"Origin": "https://unhook.example",
                                          "Sec-Fetch-Site": "same-origin"})
        check("behind a proxy that rewrites Host, Sec-Fetch-Site: same-origin: 202",
              status, 202)
        status, _, _ = s.request("POST", "/v1/instances/foreign-00001/disable", token=None)
        check("a write with neither Origin nor Sec-Fetch-Site (curl): 202", status, 202)
    finally:
        s.stop()
    s = Serve(db)
    try:
        status, _, _ = s.request("GET", "/v1/instances",
                                 headers={"Host": "unhook.internal.example"})
        check("with a token, any Host (a proxy in front): 200", status, 200)
        status, _, _ = s.request("POST", "/v1/disable", '{"all": true}', headers=evil)
        check("with a token, a write from another origin: 403 all the same", status, 403)
        status, _, _ = s.request("GET", "/v1/instances", token=None,
                                 headers={"Authorization": "bearer " + TOKEN})
        check("the scheme 'bearer' in lower case is accepted", status, 200)
    finally:
        s.stop()


def case_odd_ids():
    """Ids holding '/', '?', '#', '%' or markup, or long ones: links, forms
    and routes name that instance and no other."""
    control("POST", "reset")
    db = os.path.join(T, "odd.db")
    wrong = os.path.join(T, "wrong-conn.json")
    with open(wrong, "w") as f:
        f.write(json.dumps({"base_url": URL, "auth": {"type": "bearer", "token": "wrong"}}))
    os.chmod(wrong, 0o600)
    long = "L" * 300        # enable takes it: the API must reach it too
    ids = ["a/b", "q?x#y", "%41", "<i>\"x\"</i>", "A", long]
    s = Serve(db)
    try:
        for iid in ids:      # refused by the provider (401): dead letters
            status, _ = s.json("POST", "/v1/instances", dict(enable_body(iid), connection=wrong))
        status, html, r = s.request("GET", "/", token=None)
        csp = r.getheader("Content-Security-Policy") or ""
        check("the page: no script, not framed by another site (CSP, X-Frame-Options)",
              ("default-src 'none'" in csp, "frame-ancestors 'none'" in csp,
               r.getheader("X-Frame-Options")), (True, True, "DENY"))
        hrefs = re.findall(r'<a href="(/instances/[^"]*)"', html)
        actions = re.findall(r'action="(/instances/[^"]*)"', html)
        check("links: each id percent-encoded", sorted(hrefs),
              sorted("/instances/" + urllib.parse.quote(i, safe="") for i in ids))
        check("forms: each id percent-encoded", sorted(actions),
              sorted("/instances/" + urllib.parse.quote(i, safe="") + "/retry" for i in ids))
        check("no markup from an id", "<i>" in html, False)
        for iid in ids:
            q = urllib.parse.quote(iid, safe="")
            status, page_html, _ = s.request("GET", "/instances/" + q, token=None)
            check("the link of %r opens its page" % iid,
                  (status, "<h1>%s</h1>" % html_escape(iid) in page_html), (200, True))
            status, inst = s.json("GET", "/v1/instances/" + q)
            check("GET /v1/instances/%s: that instance" % q, (status, inst and inst.get("id")),
                  (200, iid))
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        status, _, _ = s.request("POST", "/instances/%2541/retry", "token=" + TOKEN,
                                 token=None, headers=form)
        states = dict(db_rows(db, "SELECT id, state FROM instances"))
        check("retry form of '%41' re-queues '%41', not 'A'",
              (status, states["%41"] != "failed", states["A"]), (303, True, "failed"))
        status, body = s.json("POST", "/v1/instances/a%2Fb/disable")
        check("disable of 'a/b' through the API", (status, body and body.get("id")),
              (202, "a/b"))
        status, hist = s.json("GET", "/v1/instances/a%2Fb/history")
        check("history of 'a/b'", (status, hist[0]["instance_id"]), (200, "a/b"))
        status, body = s.json("POST", "/v1/instances/%s/disable" % long)
        check("disable of a 300-byte id", (status, body and body.get("id")), (202, long))
    finally:
        s.stop()


def case_http_log():
    """--log-format json: the HTTP library's own messages are JSON lines."""
    s = Serve(os.path.join(T, "log.db"), "--log-format", "json")
    try:
        # a client that hangs up mid-request: the library says so
        c = socket.create_connection(("127.0.0.1", s.port))
        c.sendall(b"POST /v1/instances HTTP/1.1\r\nHost: localhost\r\n"
                  b"Content-Length: 9\r\n\r\n{")
        c.close()
        wait_for(lambda: "closed" in s.text(), 2)
        lines = s.text().splitlines()
        plain = [l for l in lines if not l.startswith("{") and not l.startswith("unhook: serve: ")]
        check("no plain line from the HTTP library", plain, [])
        check("its message as a JSON line", any(l.startswith("{") and "closed" in l
                                                for l in lines), True)
    finally:
        s.stop()


def case_healthz_during_enable():
    """/healthz answers at once while an enable waits for a slow provider."""
    import threading
    control("POST", "reset")
    s = Serve(os.path.join(T, "live.db"))
    try:
        control("POST", "script", {"method": "POST", "path": "/repos/octo/live/hooks",
                                   "responses": [{"delay_ms": 2000, "pass": True}]})
        done = []
        body = enable_body("live1", repo="live")
        th = threading.Thread(target=lambda: done.append(s.json("POST", "/v1/instances", body)))
        th.start()
        time.sleep(0.3)
        t0 = time.time()
        status, _, _ = s.request("GET", "/healthz", token=None)
        took = time.time() - t0
        th.join(10)
        check("enable finished: 201", done and done[0][0], 201)
        if status == 200 and took < 0.5:
            ok("/healthz during a 2 s enable: 200 in %.0f ms" % (took * 1000))
        else:
            bad("/healthz during an enable", "%d after %.2f s" % (status, took))
    finally:
        control("DELETE", "script")
        s.stop()


def case_text_log():
    """A text log line stays one line, whatever the id holds."""
    control("POST", "reset")
    s = Serve(os.path.join(T, "textlog.db"))
    forged = "[info] 2000-01-01T00:00:00Z prod-hook: deregister done -> off"
    try:
        status, _ = s.json("POST", "/v1/instances", enable_body("x\n" + forged))
        check("enable of an id holding a newline", status, 201)
        wait_for(lambda: "register done" in s.text(), 2)
        lines = s.text().splitlines()
        check("no forged line in the log", [l for l in lines if l.startswith(forged)], [])
        check("the newline written as \\n", any("x\\n" + forged in l for l in lines), True)
    finally:
        s.stop()


def case_renewal_absurd_expiry():
    """A provider's expiry past any date (1e300) or in epoch milliseconds:
    the answers stay JSON, the subscription is kept, not renewed, and the
    log says why."""
    control("POST", "reset")
    s = Serve(os.path.join(T, "absurd.db"))
    try:
        ms = int(time.time() * 1000) + 3 * 86400 * 1000
        control("POST", "script", {"method": "POST", "path": "/v1.0/subscriptions",
                                   "responses": [
                                       {"status": 201, "body": {"id": "sub-far",
                                                                "expirationDateTime": 1e300}},
                                       {"status": 201, "body": {"id": "sub-ms",
                                                                "expirationDateTime": ms}}]})
        for iid in ("far", "ms"):
            status, body = s.json("POST", "/v1/instances", graph_body(iid))
            inst = body and body.get("instance") or {}
            check("%s: registered, no expiry taken, no renewal scheduled" % iid,
                  (status, inst.get("state"), "expires_at" in inst, inst.get("next_attempt_at")),
                  (201, "registered", False, 0))
            if inst.get("state") != "registered":     # what to look at when it is not
                print("   %s: %s\n   serve's log:\n%s" % (iid, json.dumps(inst), s.text()[-3000:]))
        status, data, _ = s.request("GET", "/v1/instances")
        try:
            n = len(json.loads(data))
        except ValueError as e:
            n = "not JSON: %s" % e
        check("GET /v1/instances: valid JSON with both", (status, n), (200, 2))
        check("the log says why each is not renewed",
              s.text().count("after the year 9999 (epoch milliseconds?"), 2)
    finally:
        control("DELETE", "script")
        s.stop()


def html_escape(v):
    return (v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


CASES = [case_enable_disable, case_retry_on_time, case_pickup, case_no_wait, case_bad_input,
         case_metrics_and_page, case_sighup_and_ready, case_connection_edited,
         case_odd_ids_reach, case_sigterm_mid_bulk,
         case_two_processes, case_renewal, case_renewal_by_resume, case_renewal_lapsed,
         case_foreign, case_odd_ids, case_http_log,
         case_healthz_during_enable, case_text_log, case_renewal_absurd_expiry]


def main():
    with open(CONN, "w") as f:
        f.write(json.dumps({"base_url": URL, "auth": {"type": "bearer",
                                                      "token": "test-token"}}))
    os.chmod(CONN, 0o600)
    only = sys.argv[2:]
    for case in CASES:
        if only and case.__name__[5:] not in only:
            continue
        print("--", case.__name__[5:], "--", case.__doc__.splitlines()[0] if case.__doc__
              else "", flush=True)
        t0 = time.time()
        try:
            case()
        except Exception as e:  # a broken case is a failure, not a crash of the suite
            import traceback
            traceback.print_exc()
            bad(case.__name__, repr(e))
        print("   (%.1f s)" % (time.time() - t0), flush=True)
    print("serve: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
