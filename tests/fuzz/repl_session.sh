#!/bin/sh
# repl_session.sh NNC SEED SESSIONS INPUTS [RSS_INPUTS]: the REPL session fuzzer. Runs SESSIONS
# random sessions of INPUTS inputs each (seeds SEED, SEED+1, …), written by repl_session.awk:
# definitions and redefinitions of small models (widths, dropout, batch_norm, layer_norm changing;
# train blocks kept, replaced and dropped by :load; syntax and shape errors), :train, :predict,
# :eval, :save, :loadw, :load, :reload, :params, :explain, :graph, expressions and bad commands.
# A session fails on an exit status other than 0 (the REPL's only one, docs/repl.md; a crash is
# a signal), on "internal error" or a sanitizer report in its output, or when it runs longer
# than 30 s + 1 s per input (a hang).
#
# With RSS_INPUTS, it then checks that memory stays bounded: the session of seed SEED is run with
# 100 inputs and with RSS_INPUTS inputs (the first 100 are the same), and the peak resident set
# (VmHWM, sampled from /proc every 0.1 s) of the long one must stay within the short one's plus
# 64 MiB. What a session keeps is four models (each one JIT, workspace and compilation) and the
# text typed, about 100 bytes an input; a leak of one JIT or workspace per definition, or of the
# compilation's arena, exceeds it within a few hundred inputs.
#
# A failing session is kept in ${TMPDIR:-/tmp}/nnc-repl-fuzz-SEED/ (session.in, its gen*.nn
# files, out) and the seed is printed: `repl_session.sh NNC SEED 1 INPUTS` replays it.
# Exit 0 when all held, 1 otherwise. scripts/fuzz.sh repl runs a long campaign.
nnc=$1 seed=$2 sessions=$3 inputs=$4 rss_inputs=${5:-}
here=$(cd "$(dirname "$0")" && pwd)
case $nnc in /*) ;; *) nnc=$PWD/$nnc ;; esac
ASAN_OPTIONS=detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}   # LLVM keeps reachable memory
export ASAN_OPTIONS
fails=0 commands=0 peak=0

# session SEED N: runs one session in a fresh directory; sets $peak (KiB) and $dir.
session() {
  dir=$(mktemp -d "${TMPDIR:-/tmp}/nnc-repl-fuzz.XXXXXX") || exit 1
  (cd "$dir" && awk -v seed="$1" -v n="$2" -f "$here/repl_session.awk" >session.in)
  limit=$(( (30 + $2) * 10 )) ticks=0 peak=0
  (cd "$dir" && exec "$nnc" repl <session.in >out 2>&1) &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
    [ -n "$hwm" ] && [ "$hwm" -gt "$peak" ] && peak=$hwm
    ticks=$((ticks + 1))
    if [ "$ticks" -gt "$limit" ]; then kill -KILL "$pid"; echo "hang: seed $1 ran over $((limit / 10)) s" >>"$dir/out"; break; fi
    sleep 0.1
  done
  wait "$pid"
  rc=$?
  commands=$((commands + $2))
  why=
  [ "$rc" -eq 0 ] || why="exit status $rc"
  grep -qE 'internal error|Sanitizer|runtime error:|^hang:' "$dir/out" && why="${why:+$why, }$(grep -m1 -E 'internal error|Sanitizer|runtime error:|^hang:' "$dir/out")"
  if [ -n "$why" ]; then
    kept=${TMPDIR:-/tmp}/nnc-repl-fuzz-$1
    rm -rf "$kept"; mv "$dir" "$kept"
    echo "FAIL: seed $1 ($2 inputs): $why; the session is in $kept"
    fails=$((fails + 1))
    return 1
  fi
  rm -rf "$dir"
}

i=0
while [ "$i" -lt "$sessions" ]; do
  session $((seed + i)) "$inputs"
  i=$((i + 1))
done
echo "$sessions sessions of $inputs inputs from seed $seed: $((sessions - fails)) held"

if [ -n "$rss_inputs" ]; then
  session "$seed" 100 && short=$peak
  session "$seed" "$rss_inputs" && long=$peak
  if [ -n "${short:-}" ] && [ -n "${long:-}" ]; then
    echo "peak RSS: $short KiB after 100 inputs, $long KiB after $rss_inputs (bound: +65536 KiB)"
    if [ "$long" -gt $((short + 65536)) ]; then
      echo "FAIL: memory grew by $((long - short)) KiB over $rss_inputs inputs"
      fails=$((fails + 1))
    fi
  fi
fi
echo "inputs fuzzed: $commands"
[ "$fails" -eq 0 ]
