#!/bin/sh
# tests/fuzz/run.sh DIR SECONDS -- run every fuzz target built in DIR for
# SECONDS each, on a copy of its seed corpus (tests/fuzz/corpus/<name>,
# copied to DIR/corpus-<name>, so the repository is not modified).
# Prints each target's executions per second and coverage; exits 1 if any
# target crashed, leaked, timed out or broke one of its checks (the input
# is left in DIR as crash-<name>-*, leak-*, timeout-*, and its log in
# DIR/<name>.log).
set -u
dir=${1:?usage: run.sh DIR SECONDS}
secs=${2:-60}
here=$(dirname "$0")
status=0
summary=""

for bin in "$dir"/fuzz_*; do
  [ -x "$bin" ] || continue
  case $bin in *.d|*.log) continue ;; esac
  name=${bin##*/fuzz_}
  corpus=$dir/corpus-$name
  rm -rf "$corpus"
  mkdir -p "$corpus"
  [ -d "$here/corpus/$name" ] && cp "$here/corpus/$name"/* "$corpus"/ 2>/dev/null
  dict=""
  [ -f "$here/dict/$name.dict" ] && dict="-dict=$here/dict/$name.dict"
  echo "fuzz: $name for ${secs}s"
  "$bin" $dict -max_total_time="$secs" -max_len=4096 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$dir/" "$corpus" \
    >"$dir/$name.log" 2>&1
  rc=$?
  last=$(grep -a -E '^#[0-9]+' "$dir/$name.log" | tail -n 1)
  execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/$name.log")
  cov=$(printf '%s\n' "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
  ft=$(printf '%s\n' "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
  runs=$(printf '%s\n' "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    result=FAILED
    status=1
    echo "fuzz: $name FAILED (exit $rc); log: $dir/$name.log"
    grep -a -A1 'check failed' "$dir/$name.log" | head -n 2 | sed 's/^/  /'
    grep -a -E 'ERROR: (Address|Leak|libFuzzer)|runtime error|Test unit written to' \
      "$dir/$name.log" | head -n 4 | sed 's/^/  /'
  fi
  summary="$summary$(printf '%-12s %-7s runs %-9s execs/s %-7s cov %-6s ft %s' \
    "$name" "$result" "${runs:-?}" "${execs:-?}" "${cov:-?}" "${ft:-?}")
"
done
printf '\nfuzz summary (%ss each):\n%s' "$secs" "$summary"
exit $status
