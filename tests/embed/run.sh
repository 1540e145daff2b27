#!/bin/sh
# Embedding: install into a scratch DESTDIR, build host.c against it with
# nothing but pkg-config, run it (and under valgrind) against the fixture
# provider, and check what the installed tree exports.
# Run by tests/run.sh with UNHOOK_TEST_URL set.
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
D="$T/root"
P=/usr/local
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok: $1"; }
bad() { fail=$((fail + 1)); echo "FAILED: $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

make -s install DESTDIR="$D" PREFIX=$P >"$T/install.log" 2>&1
check "make install DESTDIR" '[ $? -eq 0 ] && [ -f "$D$P/include/unhook.h" ]'
export PKG_CONFIG_PATH="$D$P/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$D"
cc -std=c11 -Wall -Wextra -Werror -o "$T/host" tests/embed/host.c \
    $(pkg-config --cflags --libs unhook) 2>"$T/cc.log"
check "host builds with only pkg-config --cflags --libs unhook" '[ -x "$T/host" ]' || cat "$T/cc.log"

printf '{"base_url": "%s", "auth": {"type": "bearer", "token": "test-token"}}\n' \
    "$UNHOOK_TEST_URL" >"$T/conn.json"
run_host() {
    rm -f "$T"/a.db* "$T"/b.db*
    curl -s -X POST "$UNHOOK_TEST_URL/_control/reset" >/dev/null
    LD_LIBRARY_PATH="$D$P/lib" $1 "$T/host" "$ROOT/tests/embed" "$T/conn.json" \
        "$T/a.db" "$T/b.db" "$UNHOOK_TEST_URL"
}
run_host "" >"$T/host.out" 2>&1
check "host: every outcome as expected" '[ $? -eq 0 ] && grep -q "^ok$" "$T/host.out"'
cat "$T/host.out"
run_host "valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect" \
    >"$T/vg.out" 2>&1
check "host under valgrind: no errors, no leaks" '[ $? -eq 0 ]' || tail -30 "$T/vg.out"
check "the host linked the shared library" \
    'LD_LIBRARY_PATH="$D$P/lib" ldd "$T/host" | grep -q "libunhook.so.0 => $D$P/lib"'

# core/README.md's poll(2) host: the engine driven by the host's loop
lua5.4 tests/e2e/docblocks.lua core/README.md "$T/doc" >/dev/null
cc -std=c11 -Wall -Wextra -Werror -o "$T/poll_host" "$T/doc/poll_host.c" \
    $(pkg-config --cflags --libs unhook) 2>"$T/cc2.log"
check "core/README.md's poll(2) host builds with only pkg-config" '[ -x "$T/poll_host" ]' || cat "$T/cc2.log"
curl -s -X POST "$UNHOOK_TEST_URL/_control/reset" >/dev/null
curl -s -d '{"owner":"octo","repo":"hello","count":2}' "$UNHOOK_TEST_URL/_control/seed" >/dev/null
for n in 1 2; do
    printf '{"id":"hook%s","connector":"github","event":"push","options":{"owner":"octo","repo":"hello"},"connection":"%s","registration":{"id":1234567%s},"state":"registered","desired":"on"}\n' \
        "$n" "$T/conn.json" $((7 + n))
done >"$T/poll.jsonl"
LD_LIBRARY_PATH="$D$P/lib" "$D$P/bin/unhook" --db "$T/poll.db" import "$T/poll.jsonl" >/dev/null
export UNHOOK_CONNECTORS="$ROOT/scripts/connectors"
LD_LIBRARY_PATH="$D$P/lib" "$T/poll_host" "$T/poll.db" hook1 >"$T/poll.out" 2>&1
check "poll(2) host: the deregistration ran in the host's loop" \
    '[ $? -eq 0 ] && grep -q "^hook1: off (done)$" "$T/poll.out"' || cat "$T/poll.out"
LD_LIBRARY_PATH="$D$P/lib" "$T/poll_host" "$T/poll.db" hook1 >"$T/poll.out" 2>&1
check "poll(2) host: an instance already off is said so" \
    '[ $? -eq 0 ] && grep -q "^hook1: already_off$" "$T/poll.out"' || cat "$T/poll.out"
LD_LIBRARY_PATH="$D$P/lib" valgrind -q --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect "$T/poll_host" "$T/poll.db" hook2 >"$T/poll.out" 2>&1
check "poll(2) host under valgrind: no errors, no leaks" \
    '[ $? -eq 0 ] && grep -q "^hook2: off (done)$" "$T/poll.out"' || tail -30 "$T/poll.out"
unset UNHOOK_CONNECTORS

# tests/embed/uv_host.c: one libuv loop drives two engines on two stores
# while its own 10 ms timer runs; the engines' work that delayed a tick,
# plus the timer's own lateness, must stay under 5 ms (the program says
# how it measures).  Under valgrind the durations mean nothing: that run
# is for memory errors and leaks only (--no-timing).
cc -std=c11 -Wall -Wextra -Werror -o "$T/uv_host" tests/embed/uv_host.c \
    $(pkg-config --cflags --libs unhook libuv) 2>"$T/cc3.log"
check "uv_host builds with pkg-config unhook libuv" '[ -x "$T/uv_host" ]' || cat "$T/cc3.log"
# run_uv N [--no-timing]: the stores in /dev/shm when there is one (a
# commit is then not bound by a disk's fsync); the provider holds the 32
# hooks of the warm-up and 2 N more, and answers the warm-up 200 ms late
# so that 16 run at once on each engine
run_uv() {
    n=$1
    shift
    S=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
    curl -s -X POST "$UNHOOK_TEST_URL/_control/reset" >/dev/null
    curl -s -d "{\"owner\":\"octo\",\"repo\":\"hello\",\"count\":$((32 + 2 * n))}" \
        "$UNHOOK_TEST_URL/_control/seed" >/dev/null
    held=$(printf '{"delay_ms": 200, "pass": true}, %.0s' $(seq 32))
    curl -s -d "{\"prefix\":\"/repos/octo/hello/hooks/\",\"responses\":[${held%, }]}" \
        "$UNHOOK_TEST_URL/_control/script" >/dev/null
    UNHOOK_CONNECTORS="$ROOT/scripts/connectors" LD_LIBRARY_PATH="$D$P/lib" \
        $UV_PRE "$T/uv_host" "$T/conn.json" "$S/a.db" "$S/b.db" "$n" "$@"
    st=$?
    rm -rf "$S"
    return $st
}
UV_PRE="" run_uv 2000 >"$T/uv.out" 2>&1
st=$?
cat "$T/uv.out"
check "uv_host: 2,000 deregistrations completed; the engines never delayed the host timer 5 ms" '[ $st -eq 0 ]'
# UV_VALGRIND_N (default 100): make check runs the whole 2,000 under valgrind
vn=${UV_VALGRIND_N:-100}
UV_PRE="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect" \
    run_uv "$vn" --no-timing >"$T/uvvg.out" 2>&1
check "uv_host under valgrind ($vn deregistrations, not timed): no errors, no leaks" \
    '[ $? -eq 0 ] && grep -q "^ok$" "$T/uvvg.out"' || tail -30 "$T/uvvg.out"

so="$D$P/lib/libunhook.so"
check "soname is libunhook.so.0" 'readelf -d "$so" | grep -q "SONAME.*libunhook.so.0"'
others=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^unhook_' | tr '\n' ' ')
check "libunhook.so exports only unhook_* ($others)" '[ -z "$others" ]'
others=$(nm -D --defined-only "$D$P/lib/lua/5.4/unhook.so" | awk '{print $3}' \
    | grep -v '^unhook_' | grep -v '^luaopen_unhook' | tr '\n' ' ')
check "the Lua module exports only luaopen_unhook and unhook_* ($others)" '[ -z "$others" ]'
# That the command line (bindings/cli/*.c) and bindings/lunhook.c include
# no private header is checked by tests/arch/check.sh (suite "arch").
check "the Lua module loads from the installed tree" \
    'LUA_CPATH="$D$P/lib/lua/5.4/?.so" lua5.4 -e "local u = require \"unhook\"; assert(u.version == \"0.1.0\"); assert(u.check(\"scripts/connectors/github\"))"'
check "man page installed" '[ -f "$D$P/share/man/man1/unhook.1" ] && man -l "$D$P/share/man/man1/unhook.1" >/dev/null 2>&1 || [ -f "$D$P/share/man/man1/unhook.1" ]'
make -s uninstall DESTDIR="$D" PREFIX=$P >/dev/null 2>&1
left=$(find "$D" -type f | wc -l)
check "make uninstall removes every file ($left left)" '[ "$left" -eq 0 ]'

echo "embed: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
