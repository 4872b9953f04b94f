#!/bin/sh
# run.sh BINDIR SECONDS HARNESS... — runs each libFuzzer harness BINDIR/fuzz_HARNESS for SECONDS
# seconds (the CMake target `fuzz`, and scripts/fuzz.sh, call it).
#
# Each harness starts from its seed corpus (tests/fuzz/seeds/HARNESS) and the inputs that ever
# broke it (tests/fuzz/regressions/HARNESS); what it finds new is kept in BINDIR/corpus/HARNESS
# for the next run. Any crash, sanitizer report, leak, timeout (10 s for one input) or
# allocation past 2 GB stops that harness: the input that did it is copied into
# tests/fuzz/regressions/HARNESS/ (so ctest replays it from then on; commit it with the fix)
# and the script exits 1 after running the other harnesses.
set -u
BIN=$1
SECONDS_EACH=$2
shift 2
HERE=$(cd "$(dirname "$0")" && pwd)

# UBSan reports stop the run (-fno-sanitize-recover is the compile-time equivalent).
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}
export UBSAN_OPTIONS

max_len() {
  case $1 in
    source) echo 16384 ;;
    safetensors) echo 4096 ;;
    *) echo 8192 ;;
  esac
}

failed=
for h in "$@"; do
  exe=$BIN/fuzz_$h
  [ -x "$exe" ] || { echo "run.sh: $exe is missing (build the target fuzz_$h)"; exit 2; }
  corpus=$BIN/corpus/$h
  art=$BIN/artifacts/$h
  rm -rf "$art"
  mkdir -p "$corpus" "$art" "$HERE/regressions/$h"
  dict=
  [ -r "$HERE/$h.dict" ] && dict="-dict=$HERE/$h.dict"
  printf '\n==> fuzz_%s for %s s\n' "$h" "$SECONDS_EACH"
  # The input corpus directories are read-only to libFuzzer except the first one.
  # shellcheck disable=SC2086  # $dict is empty or one word
  (cd "$BIN" && "$exe" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
      -malloc_limit_mb=2048 -max_len="$(max_len "$h")" -use_value_profile=1 \
      -print_final_stats=1 -artifact_prefix="$art/" $dict \
      "$corpus" "$HERE/seeds/$h" "$HERE/regressions/$h") >"$BIN/fuzz_$h.log" 2>&1
  rc=$?
  tail -n 20 "$BIN/fuzz_$h.log"
  found=$(ls "$art" 2>/dev/null)
  if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
    echo "FAIL: fuzz_$h exited with $rc; full log in $BIN/fuzz_$h.log"
    for f in $found; do
      sum=$(cksum <"$art/$f" | cut -d' ' -f1)
      cp "$art/$f" "$HERE/regressions/$h/$f-$sum"
      echo "  new regression input: tests/fuzz/regressions/$h/$f-$sum"
    done
    failed="$failed $h"
  else
    echo "ok: fuzz_$h ran $SECONDS_EACH s with no crash"
  fi
done
if [ -n "$failed" ]; then
  echo "fuzzing found problems in:$failed"
  exit 1
fi
echo "fuzzing: every harness ran clean"
