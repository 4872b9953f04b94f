#!/bin/sh
# cli.sh NNC SOURCE_DIR: nnc's own command line — help, version, exit codes, --check, --emit,
# optimisation levels, and that a failed compile never leaves (or clobbers) an output file.
NNC=$1
SRC=$2
XOR=$SRC/examples/xor.nn
. "$(dirname "$0")/lib.sh"

run help "$NNC" --help
expect_rc help 0 "nnc --help"
contains help.out "usage: nnc" "--help prints the usage"
contains help.out "exit codes" "--help documents the exit codes"

run version "$NNC" --version
expect_rc version 0 "nnc --version"
if grep -qE '^nnc [0-9]+\.[0-9]+\.[0-9]+' version.out; then pass "--version prints 'nnc X.Y.Z'"
else fail "--version printed '$(cat version.out)'"; fi

run noinput "$NNC"
expect_rc noinput 2 "nnc with no input"
contains noinput.err "no input file" "no input: says so"

run badopt "$NNC" --frobnicate "$XOR"
expect_rc badopt 2 "nnc --frobnicate"
contains badopt.err "unknown option '--frobnicate'" "unknown option is named"

run bademit "$NNC" --emit=bogus "$XOR"
expect_rc bademit 2 "nnc --emit=bogus"

run missing "$NNC" "$WORK/does-not-exist.nn" -o x
expect_rc missing 3 "nnc on a missing file"
contains missing.err "does-not-exist.nn" "missing file is named"
[ -e x ] && fail "a missing input still wrote 'x'"

# A syntax error: exit 1, "file:line:col: error:" on stderr.
printf 'model m {\n  input X[2]\n  output y = X +\n}\n' >bad.nn
run syntax "$NNC" bad.nn -o out
expect_rc syntax 1 "nnc on a syntax error"
contains syntax.err "bad.nn:3:17: error: expected expression before end of line" \
  "syntax error reported as file:line:col: error:"
[ -s syntax.out ] && fail "a syntax error printed on stdout: $(cat syntax.out)"

# A failed compile writes nothing: no new file, and an existing file keeps its contents.
[ -e out ] && fail "a failed compile created 'out'" || pass "a failed compile left no 'out'"
printf 'model m {\n  input X[2]\n  output y = sigmod(X)\n}\n' >sema.nn
run sema "$NNC" sema.nn -o out2
expect_rc sema 1 "nnc on an unknown function"
[ -e out2 ] && fail "a failed compile (sema error) created 'out2'" || pass "sema error left no 'out2'"
echo "precious" >kept
run keep1 "$NNC" bad.nn -o kept
expect_rc keep1 1 "nnc bad.nn -o kept (kept exists)"
if [ "$(cat kept)" = "precious" ]; then pass "a failed compile left the existing 'kept' unchanged"
else fail "a failed compile changed the existing output file 'kept'"; fi
run keep2 "$NNC" sema.nn -o kept
if [ "$(cat kept)" = "precious" ]; then pass "a failed compile (sema) left 'kept' unchanged"
else fail "a failed compile (sema) changed the existing output file 'kept'"; fi
# A failure after code generation (here: the linker) must not touch the output either.
run keep3 env CC=false "$NNC" "$XOR" -o kept
expect_rc keep3 3 "nnc with a failing linker (CC=false)"
contains keep3.err "nnc: error:" "a failing linker is reported"
if [ "$(cat kept)" = "precious" ]; then pass "a failed link left 'kept' unchanged"
else fail "a failed link changed the existing output file 'kept'"; fi
run keep4 env CC=false "$NNC" "$XOR" -o out3
[ -e out3 ] && fail "a failed link created 'out3'" || pass "a failed link left no 'out3'"
# No temporary files are left beside the output either.

leftovers=$(ls -A | grep -E '^(out|out2|out3|kept)\.' || true)
[ -z "$leftovers" ] && pass "no temporary files left" || fail "left behind: $leftovers"

# --check: silent success.
run check "$NNC" --check "$XOR"
expect_rc check 0 "nnc --check xor.nn"
if [ -s check.out ] || [ -s check.err ]; then fail "--check printed something"; show check
else pass "--check printed nothing"; fi
[ -e xor ] && fail "--check wrote an executable"

# --emit=KIND: each stage's output, with something characteristic of it.
emit() { # KIND TEXT...
  kind=$1; shift
  run "emit_$kind" "$NNC" --emit="$kind" "$XOR" -o "emit_$kind.exe"
  expect_rc "emit_$kind" 0 "--emit=$kind"
  for text in "$@"; do contains "emit_$kind.out" "$text" "--emit=$kind prints '$text'"; done
  [ -e "emit_$kind.exe" ] && fail "--emit=$kind also wrote an executable"
}
emit ast "model xor @3:1" "input X [2] @4:3"
emit graph "matmul" "sigmoid" "# A1"
emit grad "∂L/∂W1" "matmul"
emit sched "# nn_step" "# nn_predict"
emit llvm "define void @nn_step" "@nn_model" "define void @nn_predict"
# --emit=graph is the forward graph only; --emit=grad adds the backward pass.
grep -qF "∂L/∂W1" emit_graph.out && fail "--emit=graph already contains the backward pass (∂L/∂W1)"

# -O0 and -O3 programs train too.
for level in 0 3; do
  run "o$level" "$NNC" "-O$level" "$XOR" -o "xor$level"
  expect_rc "o$level" 0 "nnc -O$level xor.nn"
  run "t$level" "./xor$level"
  expect_rc "t$level" 0 "./xor$level (built with -O$level)"
  loss=$(sed -n 's/^final loss \([^ ]*\)$/\1/p' "t$level.out")
  if [ -n "$loss" ] && awk -v l="$loss" 'BEGIN { exit !(l + 0 < 0.01) }'; then
    pass "-O$level: final loss $loss < 0.01"
  else
    fail "-O$level: final loss '$loss' is not below 0.01"; show "t$level"
  fi
done

finish
