#!/bin/sh
# make bench: unhook's bulk deregistration against a raw libcurl program,
# both talking to nginx on loopback (DELETE -> 204, keep-alive).
#
#   sh tests/bench/run.sh            # N=20000 C=32, then the per-flow run
#   N=2000 C=32 sh tests/bench/run.sh
#
# Environment: N (instances, default 20000), C (concurrency, default 32),
# MICRO_N (per-flow run, one at a time, default 2000; 0 skips it),
# UNHOOK (the binary, default build/unhook), KEEP=1 keeps the temp folder,
# LIMIT (seconds any one step may take, default 60 + N/200).
#
# PROFILE=callgrind runs `unhook disable --all` of the bulk case under
# valgrind's callgrind instead of timing it (N defaults to 2000 then),
# keeps build/bench/callgrind.out and prints the top functions by
# inclusive cost.
# See tests/bench/README.md for how to read the output.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PROFILE=${PROFILE:-}
if [ "$PROFILE" = callgrind ]; then N=${N:-2000}; fi
if [ -n "$PROFILE" ]; then MICRO_N=0; fi
N=${N:-20000}
C=${C:-32}
MICRO_N=${MICRO_N:-2000}
UNHOOK=${UNHOOK:-$ROOT/build/unhook}
CONNECTORS=$ROOT/scripts/connectors   # the bundled github connector
TIME=/usr/bin/time

die() { echo "bench: $*" >&2; exit 1; }

case "$N$C$MICRO_N" in *[!0-9]*) die "N, C and MICRO_N must be integers" ;; esac
[ "$N" -ge 1 ] && [ "$C" -ge 1 ] || die "N and C must be positive"
LIMIT=${LIMIT:-$((60 + N / 200))}   # seconds any one timed step may take
[ -x "$UNHOOK" ] || die "$UNHOOK not built (make all)"
case "$PROFILE" in
"") ;;
callgrind) command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null \
               || die "PROFILE=callgrind needs valgrind (apt-get install valgrind)" ;;
perf) command -v perf >/dev/null || die "PROFILE=perf needs perf (apt-get install linux-perf)" ;;
*) die "PROFILE must be callgrind or perf" ;;
esac

# ---- tools: nginx-light and GNU time, installed when missing (as root) ----
install_pkgs() {
    [ "$(id -u)" = 0 ] || die "need $* installed (apt-get install $*; not root)"
    echo "bench: installing $*"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
NGINX=$(command -v nginx 2>/dev/null || true)
[ -n "$NGINX" ] || { [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx; } || true
if [ -z "$NGINX" ]; then
    install_pkgs nginx-light
    NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
fi
[ -x "$NGINX" ] || die "nginx not found after installing nginx-light"
[ -x "$TIME" ] || install_pkgs time
[ -x "$TIME" ] || die "$TIME not found after installing time"
command -v python3 >/dev/null || die "python3 is needed"

# ---- the raw libcurl program ----
mkdir -p build/bench
RAW=$ROOT/build/bench/raw
if [ ! -x "$RAW" ] || [ tests/bench/raw.c -nt "$RAW" ]; then
    # shellcheck disable=SC2046
    cc -O2 -Wall -Wextra -o "$RAW" tests/bench/raw.c $(pkg-config --cflags --libs libcurl) \
        || die "cannot build $RAW"
fi

# ---- temp folder and nginx, both gone at exit ----
T=$(mktemp -d "${TMPDIR:-/tmp}/unhook-bench.XXXXXX")
NGINX_PID=
CHILD=
cleanup() {
    if [ -n "$CHILD" ]; then
        kill "$CHILD" 2>/dev/null || true
        wait "$CHILD" 2>/dev/null || true
    fi
    if [ -n "$NGINX_PID" ]; then
        kill "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    if [ "${KEEP:-}" = 1 ]; then echo "bench: kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
NG=$T/nginx
mkdir -p "$NG/conf" "$NG/logs" "$NG/tmp"
sed -e "s|@PORT@|$PORT|g" -e "s|@PREFIX@|$NG|g" tests/bench/nginx.conf >"$NG/conf/nginx.conf"
"$NGINX" -e "$NG/logs/error.log" -p "$NG" -c conf/nginx.conf &
NGINX_PID=$!
BASE=http://127.0.0.1:$PORT
i=0
until python3 - "$BASE" <<'EOF' 2>/dev/null
import sys, urllib.request
r = urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/repos/o/r/hooks/0", method="DELETE"), timeout=1)
sys.exit(0 if r.status == 204 else 1)
EOF
do
    i=$((i + 1))
    kill -0 "$NGINX_PID" 2>/dev/null || { cat "$NG/logs/error.log" >&2; die "nginx did not start"; }
    [ $i -lt 50 ] || die "nginx does not answer on $BASE"
    sleep 0.1
done

printf '{"base_url": "%s", "auth": {"type": "bearer", "token": "bench-token"}}\n' "$BASE" >"$T/conn.json" && chmod 600 "$T/conn.json"

# timed FILE CMD...: run CMD under GNU time (bounded by timeout), write
# "wall user sys maxrss_kb" to FILE, keep CMD's output in FILE.out; RC
# is CMD's exit status (124: killed after $LIMIT s).
timed() {
    out=$1
    shift
    RC=0
    t0=$(date +%s%N)
    # in the background, so that a signal reaches the trap at once and
    # cleanup can stop the command
    timeout "$LIMIT" "$TIME" -f '%e %U %S %M' -o "$out.time" "$@" >"$out.out" 2>&1 &
    CHILD=$!
    wait "$CHILD" || RC=$?
    CHILD=
    t1=$(date +%s%N)
    if [ $RC -ne 0 ]; then
        tail -n 20 "$out.out" >&2
        echo "bench: FAILED: '$*' exited $RC" >&2
    fi
    # GNU time's %e has 10 ms steps: the wall time is measured here
    # instead (in ns), user, sys and RSS come from GNU time.
    tail -n 1 "$out.time" | awk -v ns=$((t1 - t0)) '{ printf "%.4f %s %s %s\n", ns / 1e9, $2, $3, $4 }' >"$out"
}

# bench_case NAME N C: import N instances, disable them all with
# concurrency C under unhook, the same requests under raw, check states.
bench_case() {
    name=$1 n=$2 c=$3
    db=$T/$name.db
    python3 - "$T/$name.jsonl" "$n" "$T/conn.json" <<'EOF'
import json, sys
path, n, conn = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, "w") as f:
    for i in range(1, n + 1):
        f.write(json.dumps({"id": "bench-%07d" % i, "connector": "github", "event": "push",
                            "options": {"owner": "o", "repo": "r"}, "connection": conn,
                            "registration": {"id": i}}) + "\n")
EOF
    echo "bench: $name: importing $n instances" >&2
    timed "$T/$name.import" "$UNHOOK" --connectors "$CONNECTORS" --db "$db" import "$T/$name.jsonl"
    [ $RC -eq 0 ] || die "$name: import failed"
    echo "bench: $name: raw libcurl, $n DELETEs, $c in flight" >&2
    timed "$T/$name.raw" "$RAW" "$BASE/repos/o/r/hooks" "$n" "$c"
    [ $RC -eq 0 ] || die "$name: the raw program failed"
    echo "bench: $name: unhook disable --all --concurrency $c" >&2
    if [ "$PROFILE" = callgrind ]; then
        set -- valgrind --tool=callgrind --callgrind-out-file="$ROOT/build/bench/callgrind.out"
        LIMIT=$((LIMIT * 20))
    elif [ "$PROFILE" = perf ]; then
        set -- perf record -q -F 4000 -g -o "$ROOT/build/bench/perf.data"
    else
        set --
    fi
    timed "$T/$name.unhook" "$@" "$UNHOOK" --connectors "$CONNECTORS" --db "$db" disable --all --concurrency "$c"
    urc=$RC
    # every instance must have ended off, with a history line saying so
    python3 - "$db" "$n" <<'EOF' || die "$name: not every instance ended off (see above)"
import sqlite3, sys
db, n = sqlite3.connect(sys.argv[1]), int(sys.argv[2])
rows = dict(db.execute("SELECT state, count(*) FROM instances GROUP BY state").fetchall())
if rows != {"off": n}:
    print("bench: FAILED: states %r, want {'off': %d}" % (rows, n), file=sys.stderr)
    for r in db.execute("SELECT id, state, last_error FROM instances WHERE state != 'off' LIMIT 5"):
        print("  %s %s %s" % r, file=sys.stderr)
    sys.exit(1)
done = db.execute("SELECT count(DISTINCT instance_id) FROM history"
                  " WHERE action = 'deregister' AND outcome = 'done'").fetchone()[0]
if done != n:
    print("bench: FAILED: %d instances have a 'deregister done' history line, want %d"
          % (done, n), file=sys.stderr)
    sys.exit(1)
EOF
    [ $urc -eq 0 ] || die "$name: unhook disable --all exited $urc"
    echo "$name $n $c $(cat "$T/$name.unhook") $(cat "$T/$name.raw") $(cat "$T/$name.import")" >>"$T/results"
}

bench_case bulk "$N" "$C"
if [ "$PROFILE" = callgrind ]; then
    echo "bench: callgrind of unhook disable --all, N=$N C=$C: build/bench/callgrind.out"
    grep -h "refs:" "$T/bulk.unhook.out" | sed 's/^==[0-9]*== *//'
    callgrind_annotate --inclusive=yes --auto=no build/bench/callgrind.out 2>/dev/null \
        | python3 -c '
import re, sys
top, root, seen = int(sys.argv[1]), sys.argv[2] + "/", set()
print("top functions by inclusive cost (instructions; left out: the chain from main")
print("to the engine call, recursion, and ???:0x... lines, internals of a stripped liblua):")
for line in sys.stdin:
    m = re.match(r"^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(\S+)", line)
    if not m:
        continue
    ir, pct, where = m.groups()
    where = where.replace(root, "")
    fn = where.split(":")[-1]
    if ("PROGRAM" in line or "???:0x" in where or "'"'"'" in fn or fn == "main" or "below main" in line
            or fn.startswith(("cmd_", "__libc_start")) or where in seen):
        continue
    seen.add(where)
    print("%15s %6s%%  %s" % (ir, pct, where))
    top -= 1
    if top == 0:
        break
' "${TOP:-25}" "$ROOT"
    exit 0
fi
if [ "$PROFILE" = perf ]; then
    echo "bench: perf profile of unhook disable --all, N=$N C=$C: build/bench/perf.data"
    perf report -i build/bench/perf.data --no-children --percent-limit 0.7 --stdio \
        -g none --sort dso,symbol 2>/dev/null | grep -v '^#' | grep -v '^$' | head -"${TOP:-40}"
    exit 0
fi
[ "$MICRO_N" -gt 0 ] && bench_case perflow "$MICRO_N" 1

# ---- the table ----
python3 - "$T/results" "$NGINX" <<'EOF'
import os, platform, subprocess, sys

def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()

cases = []
for line in open(sys.argv[1]):
    f = line.split()
    name, n, c = f[0], int(f[1]), int(f[2])
    uw, uu, us, um = float(f[3]), float(f[4]), float(f[5]), int(f[6])
    rw, ru, rs, rm = float(f[7]), float(f[8]), float(f[9]), int(f[10])
    iw = float(f[11])
    cases.append(dict(
        title="%s N=%d C=%d" % ("bulk" if name == "bulk" else "per-flow", n, c),
        rows=[
            ("unhook wall (s)", "%.3f" % uw),
            ("raw libcurl wall (s)", "%.3f" % rw),
            ("ratio unhook/raw", "%.2f" % (uw / rw if rw > 0 else float("inf"))),
            ("deregistrations/s", "%.0f" % (n / uw if uw > 0 else 0)),
            ("raw requests/s", "%.0f" % (n / rw if rw > 0 else 0)),
            ("wall per deregistration (us)", "%.1f" % (uw / n * 1e6)),
            ("wall per raw request (us)", "%.1f" % (rw / n * 1e6)),
            ("unhook CPU per dereg (us)", "%.1f" % ((uu + us) / n * 1e6)),
            ("raw CPU per request (us)", "%.1f" % ((ru + rs) / n * 1e6)),
            ("engine CPU beyond raw (us)", "%.1f" % (((uu + us) - (ru + rs)) / n * 1e6)),
            ("unhook peak RSS (MiB)", "%.1f" % (um / 1024)),
            ("raw peak RSS (MiB)", "%.1f" % (rm / 1024)),
            ("import wall (s, not in ratio)", "%.3f" % iw),
        ]))

def ver(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except Exception:
        return "?"

print()
print("machine: %s, %d CPUs, Linux %s" % (cpu_model(), os.cpu_count(), platform.release()))
print("         libcurl %s, SQLite %s, %s" % (ver(["pkg-config", "--modversion", "libcurl"]),
      ver(["pkg-config", "--modversion", "sqlite3"]),
      ver([sys.argv[2], "-v"]).replace("nginx version: ", "")))
print("CPU = user + sys time of the whole process (GNU time); RSS = peak resident set")
print()
w0 = max(len(r[0]) for c in cases for r in c["rows"])
w = [max(len(c["title"]), max(len(r[1]) for r in c["rows"])) for c in cases]
print("%-*s" % (w0, "") + "".join("  %*s" % (wi, c["title"]) for wi, c in zip(w, cases)))
print("-" * w0 + "".join("  " + "-" * wi for wi in w))
for k in range(len(cases[0]["rows"])):
    print("%-*s" % (w0, cases[0]["rows"][k][0])
          + "".join("  %*s" % (wi, c["rows"][k][1]) for wi, c in zip(w, cases)))
print()
print("every instance ended off, each with a 'deregister done' history line")

# the targets of issue 7, for the bulk run
b = next((c for c in cases if c["title"].startswith("bulk")), None)
if b:
    v = dict(b["rows"])
    def verdict(ok):
        return "met" if ok else "MISSED"
    ratio, extra = float(v["ratio unhook/raw"]), float(v["engine CPU beyond raw (us)"])
    rss = float(v["unhook peak RSS (MiB)"])
    n = int(b["title"].split("N=")[1].split()[0])
    print("targets of issue 7 (set for N=20000 C=32 on 2 cores; this run: %s):"
          % b["title"].split(" ", 1)[1])
    print("  wall ratio <= 1.5 (aim 1.2):            %-6s (%.2f)" % (verdict(ratio <= 1.5), ratio))
    print("  engine CPU beyond raw <= 30 us/dereg:   %-6s (%.1f us)" % (verdict(extra <= 30), extra))
    if n >= 100000:
        print("  peak RSS <= 64 MiB at N=100000:         %-6s (%.1f MiB at N=%d)" % (verdict(rss <= 64), rss, n))
    else:
        print("  peak RSS <= 64 MiB at N=100000:         not measured (N=%d: %.1f MiB; run with N=100000)" % (n, rss))
sys.stdout.flush()
EOF
