#!/bin/sh
# gen_run.sh: compiles and runs generated programs end to end (tests/fuzz/README.md).
#
#   gen_run.sh --nnc NNC --gen GEN --seeds FIRST COUNT [--save DIR]
#       the programs gen_program writes for seeds FIRST .. FIRST+COUNT-1
#   gen_run.sh --nnc NNC --gen GEN --budget SECONDS [--save DIR]
#       random seeds until SECONDS have passed (scripts/fuzz.sh programs)
#   gen_run.sh --nnc NNC --replay DIR
#       every program directory under DIR (regressions/programs), except those holding a file
#       DISABLED (its text says why; they are listed as skipped)
#
# Each program is compiled by NNC, then run: train (with the options in its train_args), eval,
# predict of one row on the command line, of predict.txt on standard input and of its data
# files (--data, unless the data is a table), train --resume for one more epoch (with the same
# options: a resumed run keeps its batch), info, eval --data (files only), train --init from the
# weights, and on the JIT `nnc run m.nn train` and `nnc run m.nn predict`. A failure is an exit
# code other than 0 (of the compile or of any run) — except exit 3 of a training with
# "non-finite value", which training may meet and is documented: the program is then counted as
# diverged and only info runs after it —, "internal error" or a sanitizer report in what a command prints, or
# a command that runs past the timeout (20 s, three times that when nnc is built with
# sanitizers; NNC_GEN_TIMEOUT overrides it). The models are tiny: a correct one finishes each
# command in well under a second.
#
# A failing program is printed whole with the failing command's output; with --save DIR its
# directory (source, data, predict.txt, data_args, train_args) is copied to DIR/seed-SEED, to be
# replayed by ctest (fuzz_programs_replay) once committed. Exit 0 when every program passed,
# 1 when one failed, 2 on a usage error.
set -u

die() { echo "gen_run.sh: error: $*" >&2; exit 2; }

NNC='' GEN='' FIRST='' COUNT='' BUDGET='' SAVE='' REPLAY=''
while [ $# -gt 0 ]; do
  case $1 in
    --nnc) NNC=${2-}; shift 2 || die "--nnc needs a path" ;;
    --gen) GEN=${2-}; shift 2 || die "--gen needs a path" ;;
    --seeds) FIRST=${2-}; COUNT=${3-}; shift 3 || die "--seeds needs FIRST and COUNT" ;;
    --budget) BUDGET=${2-}; shift 2 || die "--budget needs seconds" ;;
    --save) SAVE=${2-}; shift 2 || die "--save needs a directory" ;;
    --replay) REPLAY=${2-}; shift 2 || die "--replay needs a directory" ;;
    *) die "unknown argument '$1'" ;;
  esac
done
[ -x "$NNC" ] || die "--nnc: '$NNC' is not an executable"
if [ -z "$REPLAY" ]; then
  [ -x "$GEN" ] || die "--gen: '$GEN' is not an executable"
  [ -n "$FIRST$BUDGET" ] || die "give --seeds FIRST COUNT, --budget SECONDS or --replay DIR"
fi
# absolute: the programs run in directories of their own
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
NNC=$(abs "$NNC")
[ -z "$GEN" ] || GEN=$(abs "$GEN")

LIMIT=20
ldd "$NNC" 2>/dev/null | grep -q 'libasan\.so' && LIMIT=60
LIMIT=${NNC_GEN_TIMEOUT:-$LIMIT}
# A sanitizer report ends the program with an error: UBSan's would otherwise only print.
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}
export UBSAN_OPTIONS

WORK=$(mktemp -d "${TMPDIR:-/tmp}/nnc-gen.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

PROGRAMS=0 COMMANDS=0 FAILED=0 DIVERGED=0 SKIPPED=0

# step NAME WANT CMD...: runs CMD in the current directory under the timeout, output in NAME.out
# and NAME.err; returns 0 when it exited WANT and printed no internal error or sanitizer report.
step() {
  _name=$1 _want=$2
  shift 2
  COMMANDS=$((COMMANDS + 1))
  timeout -k 5 "$LIMIT" "$@" >"$_name.out" 2>"$_name.err" </dev/null
  RC=$?
  WHY=
  if [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then
    WHY="timed out after $LIMIT s"
  elif grep -qE 'internal error|AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer' \
      "$_name.out" "$_name.err"; then
    WHY="printed an internal error or a sanitizer report"
  elif [ "$RC" -ne "$_want" ]; then
    WHY="exit $RC, expected $_want"
  fi
  [ -z "$WHY" ]
}

# report DIR LABEL NAME CMD: prints the failure of step NAME of the program in DIR.
report() {
  FAILED=$((FAILED + 1))
  echo "FAIL: $2: '$4' $WHY"
  echo "  --- stdout:"; sed 's/^/  | /' "$3.out" | head -20
  echo "  --- stderr:"; sed 's/^/  | /' "$3.err" | head -30
  echo "  --- m.nn:"; sed 's/^/  | /' "$1/m.nn"
  if [ -n "$SAVE" ] && [ ! -f "$1/DISABLED" ]; then
    mkdir -p "$SAVE/$2" && cp "$1"/* "$SAVE/$2"/ && rm -f "$SAVE/$2/m" "$SAVE/$2"/*.out "$SAVE/$2"/*.err \
      "$SAVE/$2"/*.safetensors* && echo "  saved as $SAVE/$2"
  fi
}

# must NAME CMD...: step NAME must succeed; otherwise notes which one failed and returns 1.
must() {
  _n=$1
  shift
  step "$_n" 0 "$@" && return 0
  FAILSTEP=$_n FAILCMD=$*
  return 1
}

# trains NAME CMD...: as must, but a training that meets a non-finite value (exit 3, documented)
# returns 2: the weights are then unusable, so the program's other commands are not run.
trains() {
  must "$@" && return 0
  [ "$RC" -eq 3 ] && [ -z "${WHY##exit*}" ] && grep -q 'non-finite value' "$1.err" && return 2
  return 1
}

# commands: every command, in the program's directory; 0, 1 (a failure) or 2 (diverged).
# shellcheck disable=SC2086  # the options and file names are words on purpose
commands() {
  must compile "$NNC" m.nn -o m || return
  trains train ./m train $_train || return
  must eval ./m eval || return
  must predict ./m predict $_row || return
  must predict_stdin sh -c './m predict - <predict.txt' || return
  if [ -n "$_data" ]; then must predict_data ./m predict --data $_data || return; fi
  trains resume ./m train $_train --resume m.safetensors --epochs $((_epochs + 1)) || return
  must info ./m info || return
  if [ -n "$_data" ]; then must eval_data ./m eval --data $_data || return; fi
  trains init ./m train --init m.safetensors --epochs 1 --save init.safetensors || return
  trains jit_train "$NNC" run m.nn train --epochs 1 --save jit.safetensors || return
  must jit_predict "$NNC" run m.nn predict --weights jit.safetensors $_row
}

# check DIR LABEL: runs the program in DIR through every command, in a copy of its own.
check() {
  _src=$1 _label=$2
  PROGRAMS=$((PROGRAMS + 1))
  rm -rf "$WORK/p" && mkdir "$WORK/p" && cp "$_src"/* "$WORK/p"/ && cd "$WORK/p" || exit 1
  _epochs=$(sed -n 's/^ *epochs *= *\([0-9]*\).*/\1/p' m.nn)
  _train=$(cat train_args 2>/dev/null)
  _data=$(cat data_args 2>/dev/null)
  _row=$(head -n 1 predict.txt)
  commands
  case $? in
    0) ;;
    2) DIVERGED=$((DIVERGED + 1))
       must info ./m info || report "$_src" "$_label" "$FAILSTEP" "$FAILCMD" ;;
    *) report "$_src" "$_label" "$FAILSTEP" "$FAILCMD" ;;
  esac
  cd "$WORK" || exit 1
}

# generated SEED: writes the program of SEED and checks it.
generated() {
  rm -rf "$WORK/g" && mkdir "$WORK/g"
  if ! _uses=$("$GEN" "$1" "$WORK/g" 2>"$WORK/gen.err"); then
    FAILED=$((FAILED + 1)); echo "FAIL: gen_program $1:"; cat "$WORK/gen.err"; return
  fi
  _before=$FAILED
  check "$WORK/g" "seed-$1"
  [ "$FAILED" -eq "$_before" ] && echo "ok: seed $1: $_uses"
}

if [ -n "$REPLAY" ]; then
  for d in "$REPLAY"/*/; do
    [ -f "$d/m.nn" ] || continue
    d=${d%/}
    if [ -f "$d/DISABLED" ]; then
      SKIPPED=$((SKIPPED + 1)); echo "skipped: $(basename "$d"): $(head -n 1 "$d/DISABLED")"; continue
    fi
    _before=$FAILED
    check "$d" "$(basename "$d")"
    [ "$FAILED" -eq "$_before" ] && echo "ok: $(basename "$d")"
  done
elif [ -n "$BUDGET" ]; then
  _end=$(($(date +%s) + BUDGET))
  _seed=$(od -An -tu4 -N4 /dev/urandom | tr -d ' ')
  while [ "$(date +%s)" -lt "$_end" ]; do
    generated "$_seed"
    _seed=$((_seed + 1))
  done
else
  _seed=$FIRST
  while [ "$_seed" -lt $((FIRST + COUNT)) ]; do
    generated "$_seed"
    _seed=$((_seed + 1))
  done
fi

echo "gen_run: $PROGRAMS programs, $COMMANDS commands run, $FAILED failed, $DIVERGED diverged" \
  "(non-finite training, documented exit 3), $SKIPPED disabled"
[ "$FAILED" -eq 0 ]
