#!/bin/sh
# The architecture check (suite "arch" of tests/run.sh), after `make all`:
#   1. no cycles between the modules of core/ and bindings/, by #include
#      lines and by symbols (nm over $B/obj): tests/arch/graph.py prints
#      each cycle and, for each edge, the include line or the symbols;
#   2. the clients of the public API -- the CLI (bindings/cli/*.c, or
#      core/cli.c until it moves) and bindings/lunhook.c -- include no
#      header of ours but "unhook.h", and the Makefile compiles them with
#      -I$B/include and without -Icore;
#   3. for information only: C functions longer than 80 lines, longest first.
# Exits 1 when 1 or 2 fails.
# usage: sh tests/arch/check.sh   (B=DIR for another build folder)
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
LIMIT=80
st=0

echo "-- cycles between modules"
python3 tests/arch/graph.py "$B/obj" || st=1

echo "-- clients of the public API"
clients=$(ls bindings/cli/*.c bindings/cli/*.h 2>/dev/null)
[ -n "$clients" ] || clients=$(ls core/cli.c 2>/dev/null)
clients="$clients bindings/lunhook.c bindings/lengine.c bindings/lresult.c"
bad=0
for f in $clients; do
    [ -f "$f" ] || continue
    # a quoted include other than "unhook.h", or the public header reached
    # through a path (../core/unhook.h) instead of the public include dir;
    # in bindings/cli/ its own headers are allowed
    own=""
    case $f in bindings/cli/*) own=$(cd bindings/cli && ls *.h 2>/dev/null) ;; esac
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
    while IFS= read -r line; do
        hdr=$(printf '%s\n' "$line" | sed 's/.*"\([^"]*\)".*/\1/')
        ok=0
        [ "$hdr" = unhook.h ] && ok=1
        for h in $own; do [ "$hdr" = "$h" ] && ok=1; done
        [ $ok = 1 ] || echo "$f:${line%%:*}: includes \"$hdr\": a client sees only \"unhook.h\""
    done
    # angle-bracket includes must be system headers, not ours
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*<' "$f" |
    while IFS= read -r line; do
        hdr=$(printf '%s\n' "$line" | sed 's/.*<\([^>]*\)>.*/\1/')
        case $hdr in unhook.h) continue ;; esac
        if [ -f "core/$hdr" ] || [ -f "bindings/$hdr" ]; then
            echo "$f:${line%%:*}: includes <$hdr>, a private header"
        fi
    done
done >"$B/.arch-includes" 2>&1 || true
if [ -s "$B/.arch-includes" ]; then
    cat "$B/.arch-includes"
    bad=1
fi
rm -f "$B/.arch-includes"
# How make would compile each client (-n: nothing is built; -B: as if all
# were out of date), in a throw-away build folder.
scratch=$(mktemp -d)
for f in $clients; do
    case $f in *.c) ;; *) continue ;; esac
    [ -f "$f" ] || continue
    obj="$scratch/obj/${f%.c}.o"
    cmd=$(make -s -n -B B="$scratch" "$obj" 2>/dev/null | grep -e " -c $f " | tail -1)
    if [ -z "$cmd" ]; then
        echo "$f: the Makefile has no compile command for it"
        bad=1
        continue
    fi
    case " $cmd " in
    *" -Icore "* | *" -I core "* | *" -I./core "* | *" -Icore/ "* | *" -I./core/ "*)
        echo "$f: compiled with -Icore: $cmd"
        bad=1 ;;
    esac
    case " $cmd " in
    *" -I$scratch/include "*) ;;
    *)  echo "$f: not compiled with -I\$(B)/include: $cmd"
        bad=1 ;;
    esac
done
rm -rf "$scratch"
if [ $bad = 0 ]; then
    echo "arch: the clients see the public header only"
else
    st=1
fi

echo "-- functions over $LIMIT lines (information)"
# A function opens with "{" in column 1 and closes with "}" in column 1;
# its name is the identifier before "(" on the lines just above.
find core bindings -name '*.c' | sort | xargs awk -v limit=$LIMIT '
    FNR == 1 { name = ""; start = 0 }
    /^[A-Za-z_].*\(/ && !/;[[:space:]]*$/ {
        s = $0; sub(/\(.*/, "", s); n = split(s, w, /[ \t*]+/)
        cand = w[n]; candline = FNR
    }
    /^\{/ { name = cand; start = candline }
    /^\}/ && start {
        len = FNR - start + 1
        if (len > limit) printf "%5d  %s:%d  %s\n", len, FILENAME, start, name
        start = 0
    }' | sort -rn
echo "arch: $( [ $st = 0 ] && echo ok || echo FAILED )"
exit $st
