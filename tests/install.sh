#!/bin/sh
# The install suite: `make install` with a PREFIX other than the one of
# the last build installs what that PREFIX says, because every output that
# depends on the configuration is rebuilt when it changes
# ($(B)/config.stamp).  Builds into a scratch build folder (B=), so the
# main build/ is not touched.
#   1. make PREFIX=/usr, then make install PREFIX=/usr DESTDIR=D1;
#   2. make, then make install PREFIX=/opt/x DESTDIR=D2;
#   3. make install PREFIX=/usr LIBDIR=/usr/lib/x86_64-linux-gnu DESTDIR=D3;
#   4. make install PREFIX=P (no DESTDIR), then P/bin/unhook check github
#      from / finds the bundled connector in P/share/unhook.
# In 1-3 the unhook.pc says the right prefix, libdir and includedir, and
# the binary and the Lua module have the right share folder compiled in.
# usage: sh tests/install.sh
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
B=$T/build
MAKE="make -s -j2 B=$B"
fail=0

ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

# expect_pc FILE KEY VALUE
expect_pc() {
    got=$(sed -n "s/^$2=//p" "$1")
    if [ "$got" = "$3" ]; then ok "$(basename "$1") $2=$3"
    else bad "$1: $2 is '$got', want '$3'"; fi
}

# expect_share FILE SHAREDIR: FILE has SHAREDIR/connectors compiled in,
# and no other .../share/unhook/connectors.
expect_share() {
    paths=$(strings "$1" | grep -x '/[^ :%]*share/unhook/connectors' | sort -u)
    if [ "$paths" = "$2/connectors" ]; then ok "$(basename "$1") looks in $2"
    else bad "$1: compiled-in share folder is '$paths', want '$2/connectors'"; fi
}

# installed DESTDIR PREFIX [LIBDIR [LUA_CMOD]]: check what one install put in DESTDIR.
installed() {
    d=$1 p=$2 l=${3:-$2/lib}
    pc=$d$l/pkgconfig/unhook.pc
    if [ ! -f "$pc" ]; then bad "no $pc"; return; fi
    expect_pc "$pc" prefix "$p"
    expect_pc "$pc" libdir "$l"
    expect_pc "$pc" includedir "$p/include"
    expect_share "$d$p/bin/unhook" "$p/share/unhook"
    expect_share "$d${4:-$l/lua/5.4}/unhook.so" "$p/share/unhook"
    [ -f "$d$p/include/unhook.h" ] && ok "unhook.h installed" || bad "no $d$p/include/unhook.h"
    [ -d "$d$p/share/unhook/connectors/github" ] && ok "connectors installed" ||
        bad "no $d$p/share/unhook/connectors/github"
}

run() {
    echo "\$ $*"
    "$@" >"$T/log" 2>&1 || { cat "$T/log"; bad "$*"; }
}

echo "-- 1. make PREFIX=/usr; make install PREFIX=/usr DESTDIR=..."
run $MAKE PREFIX=/usr all
run $MAKE install PREFIX=/usr DESTDIR="$T/d1"
installed "$T/d1" /usr

echo "-- 2. make; make install PREFIX=/opt/x DESTDIR=..."
run $MAKE all
expect_share "$B/unhook" /usr/local/share/unhook
run $MAKE install PREFIX=/opt/x DESTDIR="$T/d2"
installed "$T/d2" /opt/x

echo "-- 3. make install PREFIX=/usr LIBDIR=/usr/lib/x86_64-linux-gnu DESTDIR=..."
run $MAKE install PREFIX=/usr LIBDIR=/usr/lib/x86_64-linux-gnu \
    LUA_CMOD=/usr/lib/x86_64-linux-gnu/lua/5.4 DESTDIR="$T/d3"
installed "$T/d3" /usr /usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/lua/5.4

echo "-- 4. make install PREFIX=P; P/bin/unhook check github, from /"
P=$T/opt/x
run $MAKE install PREFIX="$P"
installed "" "$P"
out=$(cd / && env -u UNHOOK_CONNECTORS "$P/bin/unhook" check github 2>&1)
rc=$?
if [ $rc = 0 ]; then ok "installed unhook check github: $out"
else bad "installed unhook check github exited $rc: $out"; fi
# and a connector that is not bundled is not found there
out=$(cd / && env -u UNHOOK_CONNECTORS "$P/bin/unhook" check no-such-connector 2>&1)
[ $? != 0 ] && ok "unknown connector refused" || bad "check no-such-connector succeeded: $out"

cd "$ROOT"
if [ $fail = 0 ]; then echo "install: ok"; else echo "install: FAILED"; fi
exit $fail
