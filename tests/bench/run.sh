#!/bin/sh
# make bench: unhook's bulk deregistration against a raw libcurl program
# (tests/bench/raw.c), the same requests at the same concurrency, and the
# targets of issue 17.  Two providers on loopback: nginx (DELETE -> 204 at
# once, keep-alive) and tests/bench/slow.c (DELETE -> 204 after DELAY_MS).
#
#   sh tests/bench/run.sh                  # every case (a few minutes)
#   N=2000 LATENCY=0 BIG_N=0 WIDE_C=0 sh tests/bench/run.sh   # quick
#
# Cases (each: import, then ROUNDS times raw and unhook disable --all in
# turn, checking every state; each figure the median of its rounds):
#   bulk      N (20000) at C (32) against nginx
#   per-flow  MICRO_N (2000) at C=1 against nginx            MICRO_N=0 skips
#   latency   LAT_N (20000) at LAT_C (256), DELAY_MS (20) ms  LATENCY=0 skips
#   big       BIG_N (100000) at C against nginx: peak RSS     BIG_N=0 skips
#   wide      WIDE_N (10000) at WIDE_C (1024), WIDE_DELAY_MS (200) ms,
#             peak RSS                                      WIDE_C=0 skips
#
# ROUNDS (3; 1 for big and wide, whose figure is a peak RSS): a run of
# this VM's guest moves 5-20 % with its neighbours' load, raw libcurl's as
# much as unhook's; rounds taken in turn and their medians keep one slow
# moment from deciding a ratio.
# UNHOOK (the binary, default build/unhook), KEEP=1 keeps the temp folder,
# LIMIT (seconds any one step may take, default 60 + n/200 for a case of n).
#
# PROFILE=callgrind|perf runs `unhook disable --all` of one case (the bulk
# case, or PROFILE_CASE=latency) under valgrind's callgrind or perf instead
# of timing it (its N defaults to 2000 under callgrind), keeps
# build/bench/callgrind.out or build/bench/perf.data and prints the top
# functions.  See tests/bench/README.md for how to read the output.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PROFILE=${PROFILE:-}
PROFILE_CASE=${PROFILE_CASE:-bulk}
if [ "$PROFILE" = callgrind ]; then
    if [ "$PROFILE_CASE" = latency ]; then LAT_N=${LAT_N:-2000}; else N=${N:-2000}; fi
fi
N=${N:-20000}
C=${C:-32}
MICRO_N=${MICRO_N:-2000}
LATENCY=${LATENCY:-1}
LAT_N=${LAT_N:-20000}
LAT_C=${LAT_C:-256}
DELAY_MS=${DELAY_MS:-20}
WIDE_DELAY_MS=${WIDE_DELAY_MS:-200}
BIG_N=${BIG_N:-100000}
WIDE_C=${WIDE_C:-1024}
WIDE_N=${WIDE_N:-10000}
ROUNDS=${ROUNDS:-3}
USER_LIMIT=${LIMIT:-}
UNHOOK=${UNHOOK:-$ROOT/build/unhook}
CONNECTORS=$ROOT/scripts/connectors   # the bundled github connector
TIME=/usr/bin/time

die() { echo "bench: $*" >&2; exit 1; }

case "$N$C$MICRO_N$LATENCY$LAT_N$LAT_C$DELAY_MS$BIG_N$WIDE_C$WIDE_N$WIDE_DELAY_MS$ROUNDS${USER_LIMIT:-0}" in
*[!0-9]*) die "N, C, MICRO_N, LATENCY, LAT_N, LAT_C, DELAY_MS, BIG_N, WIDE_C, WIDE_N, WIDE_DELAY_MS, ROUNDS and LIMIT must be integers" ;;
esac
[ "$ROUNDS" -ge 1 ] || die "ROUNDS must be positive"
[ "$N" -ge 1 ] && [ "$C" -ge 1 ] || die "N and C must be positive"
[ "$LATENCY" = 0 ] || { [ "$LAT_N" -ge 1 ] && [ "$LAT_C" -ge 1 ]; } || die "LAT_N and LAT_C must be positive"
[ "$WIDE_C" = 0 ] || [ "$WIDE_N" -ge 1 ] || die "WIDE_N must be positive"
[ "$DELAY_MS" -ge 1 ] && [ "$WIDE_DELAY_MS" -ge 1 ] || die "DELAY_MS and WIDE_DELAY_MS must be positive"
[ -x "$UNHOOK" ] || die "$UNHOOK not built (make all)"
case "$PROFILE" in
"") ;;
callgrind) command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null \
               || die "PROFILE=callgrind needs valgrind (apt-get install valgrind)" ;;
perf) command -v perf >/dev/null || die "PROFILE=perf needs perf (apt-get install linux-perf)" ;;
*) die "PROFILE must be callgrind or perf" ;;
esac
case "$PROFILE_CASE" in
bulk | latency) ;;
*) die "PROFILE_CASE must be bulk or latency" ;;
esac
if [ -n "$PROFILE" ]; then
    # one case, profiled: the others are not run
    MICRO_N=0 BIG_N=0 WIDE_C=0
    if [ "$PROFILE_CASE" = latency ]; then LATENCY=1; else LATENCY=0; fi
fi

# every client holds one socket a request in flight, the provider one a
# client connection: raise the soft limit on open files to fit the
# widest case (C=1024 needs more than the usual 1024)
widest=$C
[ "$LATENCY" = 0 ] || [ "$LAT_C" -le "$widest" ] || widest=$LAT_C
[ "$WIDE_C" -le "$widest" ] || widest=$WIDE_C
need=$((2 * widest + 256))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
    ulimit -n "$need" 2>/dev/null || die "need $need open files for C=$widest (ulimit -n is $(ulimit -n), hard limit $(ulimit -Hn))"
fi

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

# ---- the raw libcurl program and the slow providers ----
mkdir -p build/bench
RAW=$ROOT/build/bench/raw
SLOW=$ROOT/build/bench/slow
if [ ! -x "$RAW" ] || [ tests/bench/raw.c -nt "$RAW" ]; then
    # shellcheck disable=SC2046
    cc -O2 -Wall -Wextra -o "$RAW" tests/bench/raw.c $(pkg-config --cflags --libs libcurl) \
        || die "cannot build $RAW"
fi
if [ ! -x "$SLOW" ] || [ tests/bench/slow.c -nt "$SLOW" ]; then
    cc -O2 -Wall -Wextra -o "$SLOW" tests/bench/slow.c || die "cannot build $SLOW"
fi

# ---- temp folder and the providers, all gone at exit ----
T=$(mktemp -d "${TMPDIR:-/tmp}/unhook-bench.XXXXXX")
NGINX_PID=
SLOW_PID=
WSLOW_PID=
CHILD=
cleanup() {
    for p in $CHILD $NGINX_PID $SLOW_PID $WSLOW_PID; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
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
NGINX_URL=http://127.0.0.1:$PORT

# up BASE PID NAME: wait until BASE answers a DELETE with 204
up() {
    i=0
    until python3 - "$1" <<'EOF' 2>/dev/null
import sys, urllib.request
r = urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/repos/o/r/hooks/0", method="DELETE"), timeout=1)
sys.exit(0 if r.status == 204 else 1)
EOF
    do
        i=$((i + 1))
        kill -0 "$2" 2>/dev/null || die "$3 did not start"
        [ $i -lt 50 ] || die "$3 does not answer on $1"
        sleep 0.1
    done
}
up "$NGINX_URL" "$NGINX_PID" nginx || { cat "$NG/logs/error.log" >&2; exit 1; }
printf '{"base_url": "%s", "auth": {"type": "bearer", "token": "bench-token"}}\n' "$NGINX_URL" >"$T/nginx.conn.json"
chmod 600 "$T/nginx.conn.json"

# start_slow NAME DELAY_MS: a slow provider writing $T/NAME.stats, with its
# connection file $T/NAME.conn.json; sets STARTED_PID and STARTED_URL
start_slow() {
    "$SLOW" "$2" "$T/$1.port" "$T/$1.stats" &
    STARTED_PID=$!
    i=0
    while [ ! -s "$T/$1.port" ]; do
        i=$((i + 1))
        kill -0 "$STARTED_PID" 2>/dev/null && [ $i -lt 50 ] || die "the slow provider did not start"
        sleep 0.1
    done
    STARTED_URL=http://127.0.0.1:$(cat "$T/$1.port")
    up "$STARTED_URL" "$STARTED_PID" "the slow provider"
    printf '{"base_url": "%s", "auth": {"type": "bearer", "token": "bench-token"}}\n' "$STARTED_URL" >"$T/$1.conn.json"
    chmod 600 "$T/$1.conn.json"
}
SLOW_URL=''
WSLOW_URL=''
if [ "$LATENCY" != 0 ]; then
    start_slow slow "$DELAY_MS"
    SLOW_PID=$STARTED_PID SLOW_URL=$STARTED_URL
fi
if [ "$WIDE_C" != 0 ]; then
    start_slow wslow "$WIDE_DELAY_MS"
    WSLOW_PID=$STARTED_PID WSLOW_URL=$STARTED_URL
fi

# cpu_of PID...: CPU seconds (user + sys) the processes have used so far,
# each with its live children (nginx: the master and its worker)
cpu_of() {
    for p in "$@"; do
        cat "/proc/$p/stat" 2>/dev/null || true
        for k in $(cat "/proc/$p/task/$p/children" 2>/dev/null); do
            cat "/proc/$k/stat" 2>/dev/null || true
        done
    done | awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); t += $12 + $13 } END { printf "%.2f", t / hz }'
}

# timed FILE PROVIDER_PID CMD...: run CMD under GNU time (bounded by
# timeout), write "wall user sys maxrss_kb t0_ns t1_ns provider_cpu_s" to
# FILE, keep CMD's output in FILE.out; RC is CMD's exit status (124:
# killed after $LIMIT s).
timed() {
    out=$1 ppid=$2
    shift 2
    RC=0
    p0=$(cpu_of "$ppid")
    t0=$(date +%s%N)
    # in the background, so that a signal reaches the trap at once and
    # cleanup can stop the command
    timeout "$LIMIT" "$TIME" -f '%e %U %S %M' -o "$out.time" "$@" >"$out.out" 2>&1 &
    CHILD=$!
    wait "$CHILD" || RC=$?
    CHILD=
    t1=$(date +%s%N)
    p1=$(cpu_of "$ppid")
    if [ $RC -ne 0 ]; then
        tail -n 20 "$out.out" >&2
        echo "bench: FAILED: '$*' exited $RC" >&2
    fi
    # GNU time's %e has 10 ms steps: the wall time is measured here
    # instead (in ns), user, sys and RSS come from GNU time.
    tail -n 1 "$out.time" | awk -v ns=$((t1 - t0)) -v t0="$t0" -v t1="$t1" -v p="$p0 $p1" \
        '{ split(p, c, " "); printf "%.4f %s %s %s %s %s %.2f\n", ns / 1e9, $2, $3, $4, t0, t1, c[2] - c[1] }' >"$out"
}

# median FILE...: of lines "wall user sys maxrss t0 t1 provider_cpu" (one
# round each), the median of each of wall, user, sys and maxrss, with t0,
# t1 and the provider's CPU of the round whose wall is the median.
median() {
    python3 - "$@" <<'EOF'
import sys
rows = [open(p).read().split() for p in sys.argv[1:]]
mid = lambda xs: sorted(xs, key=float)[(len(xs) - 1) // 2]
by_wall = sorted(rows, key=lambda r: float(r[0]))[(len(rows) - 1) // 2]
print(" ".join([mid([r[k] for r in rows]) for k in range(4)] + by_wall[4:7]))
EOF
}

# bench_case NAME N C PROVIDER [ROUNDS]: import N instances against
# PROVIDER (nginx, slow: DELAY_MS, or wslow: WIDE_DELAY_MS), then ROUNDS
# times (default $ROUNDS): send the same N DELETEs with raw at concurrency
# C, disable them all under unhook with concurrency C (on a copy of the
# imported database), check every state.
bench_case() {
    name=$1 n=$2 c=$3 prov=$4 rounds=${5:-$ROUNDS}
    db=$T/$name.db
    LIMIT=${USER_LIMIT:-$((60 + n / 200))}
    case $prov in
    slow) url=$SLOW_URL ppid=$SLOW_PID delay=$DELAY_MS ;;
    wslow) url=$WSLOW_URL ppid=$WSLOW_PID delay=$WIDE_DELAY_MS ;;
    *) url=$NGINX_URL ppid=$NGINX_PID delay=0 ;;
    esac
    python3 - "$T/$name.jsonl" "$n" "$T/$prov.conn.json" <<'EOF'
import json, sys
path, n, conn = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, "w") as f:
    for i in range(1, n + 1):
        f.write(json.dumps({"id": "bench-%07d" % i, "connector": "github", "event": "push",
                            "options": {"owner": "o", "repo": "r"}, "connection": conn,
                            "registration": {"id": i}}) + "\n")
EOF
    echo "bench: $name: importing $n instances" >&2
    timed "$T/$name.import" "$ppid" "$UNHOOK" --connectors "$CONNECTORS" --db "$db.orig" import "$T/$name.jsonl"
    [ $RC -eq 0 ] || die "$name: import failed"
    [ "${KEEP:-}" = 1 ] || rm -f "$T/$name.jsonl"
    # the imported file whole, its WAL copied in: each round starts from it
    python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA wal_checkpoint(TRUNCATE)")' "$db.orig"
    if [ -n "$PROFILE" ]; then
        rounds=1
    fi
    r=1
    while [ "$r" -le "$rounds" ]; do
        rm -f "$db" "$db-wal" "$db-shm"
        cp "$db.orig" "$db"
        echo "bench: $name: round $r of $rounds: raw libcurl, $n DELETEs, $c in flight ($prov)" >&2
        timed "$T/$name.raw.$r" "$ppid" "$RAW" "$url/repos/o/r/hooks" "$n" "$c"
        [ $RC -eq 0 ] || die "$name: the raw program failed"
        echo "bench: $name: round $r of $rounds: unhook disable --all --concurrency $c ($prov)" >&2
        if [ "$PROFILE" = callgrind ]; then
            set -- valgrind --tool=callgrind --callgrind-out-file="$ROOT/build/bench/callgrind.out"
            LIMIT=$((LIMIT * 20))
        elif [ "$PROFILE" = perf ]; then
            set -- perf record -q -F 4000 -g -o "$ROOT/build/bench/perf.data"
        else
            set --
        fi
        timed "$T/$name.unhook.$r" "$ppid" "$@" "$UNHOOK" --connectors "$CONNECTORS" --db "$db" disable --all --concurrency "$c"
        cp "$T/$name.unhook.$r.out" "$T/$name.unhook.out"
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
        r=$((r + 1))
    done
    [ "${KEEP:-}" = 1 ] || rm -f "$db" "$db-wal" "$db-shm" "$db.orig"
    us= rs= r=1
    while [ "$r" -le "$rounds" ]; do
        us="$us $T/$name.unhook.$r" rs="$rs $T/$name.raw.$r" r=$((r + 1))
    done
    # shellcheck disable=SC2086 # the lists of files, split on purpose
    echo "$name $n $c $prov $delay $(median $us) $(median $rs) $(cat "$T/$name.import") $rounds" >>"$T/results"
}

if [ -n "$PROFILE" ]; then
    if [ "$PROFILE_CASE" = latency ]; then
        what="N=$LAT_N C=$LAT_C, ${DELAY_MS} ms provider"
        bench_case latency "$LAT_N" "$LAT_C" slow
    else
        what="N=$N C=$C, nginx"
        bench_case bulk "$N" "$C" nginx
    fi
fi
if [ "$PROFILE" = callgrind ]; then
    echo "bench: callgrind of unhook disable --all, $what: build/bench/callgrind.out"
    grep -h "refs:" "$T/$PROFILE_CASE.unhook.out" | sed 's/^==[0-9]*== *//'
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
    echo "bench: perf profile of unhook disable --all, $what: build/bench/perf.data"
    perf report -i build/bench/perf.data --no-children --percent-limit 0.7 --stdio \
        -g none --sort dso,symbol 2>/dev/null | grep -v '^#' | grep -v '^$' | head -"${TOP:-40}"
    exit 0
fi

bench_case bulk "$N" "$C" nginx
[ "$MICRO_N" = 0 ] || bench_case perflow "$MICRO_N" 1 nginx
[ "$LATENCY" = 0 ] || bench_case latency "$LAT_N" "$LAT_C" slow
[ "$BIG_N" = 0 ] || bench_case big "$BIG_N" "$C" nginx 1
[ "$WIDE_C" = 0 ] || bench_case wide "$WIDE_N" "$WIDE_C" wslow 1

# ---- the table and the targets ----
python3 - "$T" "$NGINX" <<'EOF'
import os, platform, subprocess, sys

tmp, nginx = sys.argv[1], sys.argv[2]

def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()

def ver(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except Exception:
        return "?"

def samples_of(prov):
    """A slow provider's samples: unix ns, in flight, peak since the last, answered."""
    out = []
    path = os.path.join(tmp, prov + ".stats")
    if os.path.exists(path):
        for line in open(path):
            f = line.split()
            if len(f) == 4:
                out.append(tuple(int(x) for x in f))
    return out

def provider_view(samples, delay, t0, t1, c):
    """In flight at a slow provider while a client ran from t0 to t1 (ns):
    mean (Little's law: answered in the span x delay / span), peak, the
    mean of each twentieth of the span (no sample: nothing in flight), and
    when (s after the start) the first request and C in flight came."""
    span = [s for s in samples if t0 <= s[0] <= t1]
    if not span:
        return None
    before = [s for s in samples if s[0] < t0]
    a0 = before[-1][3] if before else 0
    mean = (span[-1][3] - a0) * delay / ((t1 - t0) / 1e9)
    bins = []
    for b in range(20):
        lo, hi = t0 + (t1 - t0) * b // 20, t0 + (t1 - t0) * (b + 1) // 20
        v = [s[1] for s in span if lo <= s[0] < hi]
        bins.append(sum(v) / len(v) if v else 0.0)
    first = next(((s[0] - t0) / 1e9 for s in span if s[2] > 0), None)
    full = next(((s[0] - t0) / 1e9 for s in span if s[2] >= c), None)
    return mean, max(s[2] for s in span), bins, first, full

TITLES = {"bulk": "bulk", "perflow": "per-flow", "latency": "latency", "big": "big", "wide": "wide"}
cases = []
for line in open(os.path.join(tmp, "results")):
    f = line.split()
    name, n, c, prov, delay = f[0], int(f[1]), int(f[2]), f[3], int(f[4]) / 1000.0
    u = dict(zip("wall user sys rss t0 t1 pcpu".split(), map(float, f[5:12])))
    r = dict(zip("wall user sys rss t0 t1 pcpu".split(), map(float, f[12:19])))
    iw = float(f[19])
    rounds = int(f[26])
    case = dict(name=name, n=n, c=c, prov=prov, delay=delay, u=u, r=r, iw=iw,
                title="%s N=%d C=%d" % (TITLES[name], n, c))
    ucpu, rcpu = (u["user"] + u["sys"]) / n * 1e6, (r["user"] + r["sys"]) / n * 1e6
    case["ratio"] = u["wall"] / r["wall"] if r["wall"] > 0 else float("inf")
    case["tput"] = (n / u["wall"]) / (n / r["wall"]) if u["wall"] > 0 else 0.0
    case["extra"] = ucpu - rcpu
    case["urss"] = u["rss"] / 1024
    case["uview"] = case["rview"] = None
    if prov != "nginx":
        samples = samples_of(prov)
        case["uview"] = provider_view(samples, delay, int(u["t0"]), int(u["t1"]), c)
        case["rview"] = provider_view(samples, delay, int(r["t0"]), int(r["t1"]), c)
    def view(v):
        return "%.0f / %d" % (v[0], v[1]) if v else "-"
    def ramp(v):
        if not v:
            return "-"
        return "%.2f / %s" % (v[3], "%.2f" % v[4] if v[4] is not None else "never")
    case["rows"] = [
        ("provider", "nginx" if prov == "nginx" else "%d ms" % round(delay * 1000)),
        ("rounds (figures: medians)", "%d" % rounds),
        ("unhook wall (s)", "%.3f" % u["wall"]),
        ("raw libcurl wall (s)", "%.3f" % r["wall"]),
        ("ratio unhook/raw (wall)", "%.2f" % case["ratio"]),
        ("deregistrations/s", "%.0f" % (n / u["wall"])),
        ("raw requests/s", "%.0f" % (n / r["wall"])),
        ("throughput unhook/raw", "%.2f" % case["tput"]),
        ("provider bound, C/delay (req/s)", "%.0f" % (c / delay) if delay else "-"),
        ("wall per deregistration (us)", "%.1f" % (u["wall"] / n * 1e6)),
        ("wall per raw request (us)", "%.1f" % (r["wall"] / n * 1e6)),
        ("unhook CPU per dereg (us)", "%.1f" % ucpu),
        ("raw CPU per request (us)", "%.1f" % rcpu),
        ("engine CPU beyond raw (us)", "%.1f" % case["extra"]),
        ("unhook CPU / wall", "%.2f" % ((u["user"] + u["sys"]) / u["wall"])),
        ("provider CPU / wall, unhook run", "%.2f" % (u["pcpu"] / u["wall"])),
        ("provider CPU / wall, raw run", "%.2f" % (r["pcpu"] / r["wall"])),
        ("in flight, unhook run (mean/peak)", view(case["uview"])),
        ("in flight, raw run (mean/peak)", view(case["rview"])),
        ("unhook: 1st request / C in flight (s)", ramp(case["uview"])),
        ("raw: 1st request / C in flight (s)", ramp(case["rview"])),
        ("unhook peak RSS (MiB)", "%.1f" % case["urss"]),
        ("raw peak RSS (MiB)", "%.1f" % (r["rss"] / 1024)),
        ("import wall (s, not in ratio)", "%.3f" % iw),
    ]
    cases.append(case)

print()
print("machine: %s, %d CPUs, Linux %s, load average %s" % (
    cpu_model(), os.cpu_count(), platform.release(),
    " ".join(open("/proc/loadavg").read().split()[:3])))
print("         libcurl %s, SQLite %s, %s" % (ver(["pkg-config", "--modversion", "libcurl"]),
      ver(["pkg-config", "--modversion", "sqlite3"]),
      ver([nginx, "-v"]).replace("nginx version: ", "")))
print("CPU = user + sys time of the whole process (GNU time); RSS = peak resident set;")
print("in flight = DELETEs the slow provider holds (received, not answered yet)")
print("each case: raw and unhook in turn, each figure the median of its rounds")
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

for c in cases:
    if c["uview"] and c["rview"]:
        print()
        print("in flight at the provider, mean of each twentieth of the run (%s):" % c["title"])
        for who, v, wall in (("unhook", c["uview"], c["u"]["wall"]), ("raw", c["rview"], c["r"]["wall"])):
            print("  %-6s (%.2f s each) %s" % (who, wall / 20, " ".join("%.0f" % x for x in v[2])))

# ---- the targets of issue 17 ----
by = {c["name"]: c for c in cases}

def line(text, ok, value, note=""):
    print("  %-60s %-7s %s%s" % (text, ("met" if ok else "MISSED") if ok is not None else "-", value, note))

def differs(c, n, conc):
    parts = []
    if c["n"] != n:
        parts.append("N=%d" % c["n"])
    if c["c"] != conc:
        parts.append("C=%d" % c["c"])
    return "  (this run: %s)" % " ".join(parts) if parts else ""

def absent(text, why):
    print("  %-60s %-7s %s" % (text, "-", why))

print()
print("targets of issue 17 (set for a 2-core machine, ratios from one run: the medians of its rounds):")
b = by.get("bulk")
t = "bulk N=20000 C=32, nginx: wall unhook/raw <= 1.5 (aim 1.25)"
line(t, b["ratio"] <= 1.5, "%.2f" % b["ratio"], differs(b, 20000, 32))
t = "bulk N=20000 C=32, nginx: engine CPU beyond raw <= 30 us"
line(t, b["extra"] <= 30, "%.1f us" % b["extra"], differs(b, 20000, 32))
t = "per-flow C=1, nginx: latency unhook/raw <= 2"
p = by.get("perflow")
if p:
    line(t, p["ratio"] <= 2, "%.2f" % p["ratio"], "  (N=%d)" % p["n"])
else:
    absent(t, "not measured (MICRO_N=0)")
t = "latency N=20000 C=256, 20 ms: throughput unhook/raw >= 0.9"
l = by.get("latency")
if l:
    note = differs(l, 20000, 256) + ("" if round(l["delay"] * 1000) == 20 else "  (this run: %d ms)" % round(l["delay"] * 1000))
    line(t, l["tput"] >= 0.9, "%.2f" % l["tput"], note)
else:
    absent(t, "not measured (LATENCY=0)")
t = "peak RSS N=100000 C=32, nginx: <= 64 MiB"
g = by.get("big")
if g:
    line(t, g["urss"] <= 64, "%.1f MiB" % g["urss"], differs(g, 100000, 32))
else:
    absent(t, "not measured (BIG_N=0); the bulk run: %.1f MiB at N=%d" % (b["urss"], b["n"]))
t = "peak RSS C=1024 in flight: <= 128 MiB"
v = by.get("wide")
if v:
    peak = v["uview"][1] if v["uview"] else 0
    note = "  (N=%d%s, %d ms provider; it held %s)" % (
        v["n"], "" if v["c"] == 1024 else " C=%d" % v["c"], round(v["delay"] * 1000),
        "all %d at once" % v["c"] if peak >= v["c"] else "at most %d at once" % peak)
    line(t, v["urss"] <= 128, "%.1f MiB" % v["urss"], note)
else:
    absent(t, "not measured (WIDE_C=0)")
sys.stdout.flush()
EOF
