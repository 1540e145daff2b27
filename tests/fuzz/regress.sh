#!/bin/sh
# tests/fuzz/regress.sh DIR -- replay every input kept in
# tests/fuzz/regress/<name>/ through DIR/fuzz_<name> in run-once mode.
# These are inputs that once crashed a target or broke one of its checks;
# each must now pass.  Exits 1 if any fails (its output is shown).
set -u
dir=${1:?usage: regress.sh DIR}
here=$(dirname "$0")
status=0
n=0

for sub in "$here"/regress/*/; do
  [ -d "$sub" ] || continue
  name=$(basename "$sub")
  bin=$dir/fuzz_$name
  if [ ! -x "$bin" ]; then
    echo "regress: no target $bin for $sub" >&2
    status=1
    continue
  fi
  for f in "$sub"*; do
    [ -f "$f" ] || continue
    case $(basename "$f") in README*) continue ;; esac
    n=$((n + 1))
    if out=$("$bin" "$f" 2>&1); then
      :
    else
      status=1
      echo "regress: FAIL $name/$(basename "$f")"
      # the check or sanitizer report, and the frames in the project
      printf '%s\n' "$out" | grep -A1 -E 'check failed' | head -n 2 | sed 's/^/  /'
      printf '%s\n' "$out" | grep -E 'ERROR: (Address|Leak)|runtime error|SUMMARY' \
        | head -n 3 | sed 's/^/  /'
      printf '%s\n' "$out" | grep -E '^ +#[0-9]+ .* in .*/(core|bindings|tests/fuzz)/' \
        | head -n 4 | sed 's/ (.*BuildId.*//; s/^/  /'
    fi
  done
done
if [ $status -eq 0 ]; then
  echo "regress: $n inputs replayed, all pass"
else
  echo "regress: failures above (inputs in tests/fuzz/regress/)"
fi
exit $status
