#!/bin/sh
# Item 4: the store's filesystem is full.  The database lives on a small
# tmpfs (we run as root; when mounting is not permitted, RLIMIT_FSIZE with
# SIGXFSZ ignored stands in: writes past the limit fail with EFBIG), with
# instances due, on, and failed; the rest of the filesystem is filled,
# leaving FREE KiB (0, and 48 — a few pages, where today's engine spins at
# full CPU instead of failing).  resume, resume --wait, disable --all,
# retry --failed, enable and import must each exit 4 within 10 s with a
# message naming the database; once space is freed nothing is lost (every
# instance is listed, in a state it may have) and `resume --wait` completes
# the work.  SANDBOX_NO_TMPFS=1 uses RLIMIT_FSIZE even where mounting works.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/sandbox/lib.sh
M=$W/mnt
MOUNTED=""
cleanup() {
    [ -n "$MOUNTED" ] && umount "$M" 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
conn "$W/conn.json"
N=20   # of each: due (deregistering), on (registered), failed

ctl POST /_control/reset >/dev/null
seed $((3 * N)) /api/full >"$W/ids"
{
    k=0
    while read -r id; do
        k=$((k + 1))
        case $((k % 3)) in
        0) inst "due-$k" delete deregistering "$id" ;;
        1) inst "on-$k" delete registered "$id" ;;
        2) inst "failed-$k" delete failed "$id" ;;
        esac
    done <"$W/ids"
} | sed 's#"options":{}#"options":{"collection":"/api/full"}#' >"$W/in.jsonl"
"$UNHOOK" --db "$W/pristine.db" import "$W/in.jsonl" >"$W/import.out" 2>&1
check "setup: $((3 * N)) instances imported" "$(cat "$W/import.out")" "imported $((3 * N)) instances"
inst extra-1 delete registered hk_x1 >"$W/extra.jsonl"
inst extra-2 delete deregistering hk_x2 >>"$W/extra.jsonl"

mkdir "$M"
if [ "${SANDBOX_NO_TMPFS:-}" != 1 ] && mount -t tmpfs -o size=2m tmpfs "$M" 2>"$W/mount.err"; then
    MOUNTED=1
    echo "fullfs: the store on a 2 MiB tmpfs"
else
    echo "fullfs: no tmpfs ($(cat "$W/mount.err" 2>/dev/null)): RLIMIT_FSIZE stands in (0 KiB free only)"
fi

# prepare FREE: a fresh copy of the store, the filesystem filled but FREE KiB
prepare() {
    rm -f "$M"/*
    cp "$W/pristine.db" "$M/u.db"
    if [ -n "$MOUNTED" ]; then
        dd if=/dev/zero of="$M/fill" bs=4k >/dev/null 2>&1
        truncate -s $(($(stat -c %s "$M/fill") - $1 * 1024)) "$M/fill"
        WRAP=""
    else
        # no file of the store may grow past its size now plus FREE KiB
        LIMIT=$(($(stat -c %s "$M/u.db") + $1 * 1024))
        WRAP="python3 -c 'import os, resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); resource.setrlimit(resource.RLIMIT_FSIZE, ($LIMIT, $LIMIT)); os.execv(sys.argv[1], sys.argv[1:])'"
    fi
}
# free_space: the filler goes
free_space() { rm -f "$M/fill"; }

cmd_on_full() { # NAME FREE ARGS...
    name=$1 free=$2
    shift 2
    prepare "$free"
    if [ -n "$WRAP" ]; then
        trun 12 "$W/out" sh -c "$WRAP \"\$@\"" sh "$UNHOOK" --db "$M/u.db" "$@"
    else
        trun 12 "$W/out" "$UNHOOK" --db "$M/u.db" "$@"
    fi
    if [ "$RC" = 4 ] && [ "$MS" -le 10000 ] && grep -q -F "$M/u.db" "$W/out"; then
        ok "full store (${free} KiB free): $name: exit 4 after $MS ms, the message names the database"
    else
        bad "full store (${free} KiB free): $name: want exit 4 within 10 s naming $M/u.db; got exit $RC after $MS ms$([ "$RC" -ge 124 ] && echo ' (killed by the test)')"
        dump "$W/out" 300
    fi
    free_space
    "$UNHOOK" --db "$M/u.db" --json list >"$W/list.json" 2>"$W/list.err"
    got=$(python3 -c '
import json, sys
t = open(sys.argv[1]).read().strip()
rows = json.loads(t) if t.startswith("[") else [json.loads(l) for l in t.splitlines() if l.strip()]
ids = open(sys.argv[2]).read().split("\n")
want = set()
for l in open(sys.argv[3]):
    want.add(json.loads(l)["id"])
have = {r["id"]: r for r in rows}
missing = sorted(want - set(have))
allowed = {"due": {"deregistering", "off", "failed"}, "on": {"registered", "deregistering", "off", "failed"},
           "failed": {"failed", "deregistering", "off"}}
wrong = [i for i, r in have.items() if i.split("-")[0] in allowed and r["state"] not in allowed[i.split("-")[0]]]
lost = [i for i, r in have.items() if r["state"] != "off" and r["registration"] is None]
print("missing=%d wrong=%d lost_registration=%d" % (len(missing), len(wrong), len(lost)))
' "$W/list.json" "$W/ids" "$W/in.jsonl" 2>&1)
    check "full store (${free} KiB free): $name: after freeing space every instance is there, its registration kept" \
        "$got" "missing=0 wrong=0 lost_registration=0"
}

# with RLIMIT_FSIZE, "48 KiB free" would be room to grow, not a full disk
FREES="0 48"
[ -z "$MOUNTED" ] && FREES=0
for free in $FREES; do
    cmd_on_full "resume" $free resume
    cmd_on_full "resume --wait" $free resume --wait
    cmd_on_full "disable --all" $free disable --all
    cmd_on_full "retry --failed" $free retry --failed
    cmd_on_full "enable" $free enable new-1 --connector "$SBX" --event echo_register --connection "$W/conn.json"
    cmd_on_full "import" $free import "$W/extra.jsonl"
done

# the last store (import on a full disk), space freed: resume completes
trun 60 "$W/out" "$UNHOOK" --db "$M/u.db" resume --wait
check "space freed: resume --wait exits 0" "$RC" 0
st=$(states "$M/u.db")
case " $st " in
*" failed=$N "*"off=$N "*"registered=$N "* | *" failed=$N "*"off=$((N + 1)) "*"registered=$((N + 1)) "*)
    ok "space freed: nothing left deregistering, the due instances off ($st)" ;;
*) bad "space freed: states $st, want failed=$N off=$N registered=$N (one more off and on if an import went through)" ;;
esac
finish
