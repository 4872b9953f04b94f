#!/bin/sh
# leak.sh NNC SRCDIR: a session that redefines a model 20 times (each time its JIT, workspace
# and compilation are released), evaluates expressions, trains and fails on purpose, run under
# valgrind: no memory may be definitely lost (LLVM's still-reachable memory is allowed).
# Skipped (77) without valgrind.
command -v valgrind >/dev/null 2>&1 || { echo "valgrind not found: skipped"; exit 77; }
. "$2/tests/e2e/lib.sh"
NNC=$1
cp "$2/examples/xor.nn" .
{
  echo ':load xor.nn'
  i=0
  while [ $i -lt 20 ]; do
    echo "model xor { input X[2]; target Y[1]; param W1[2, $((2 + i % 2))] = normal(0, 1)"
    echo "  param b1[$((2 + i % 2))]; param W2[$((2 + i % 2)), 1] = normal(0, 1); param b2[1]"
    echo "  output A2 = sigmoid(sigmoid(X @ W1 + b1) @ W2 + b2); loss = mean((A2 - Y)^2) }"
    echo "relu([0.4, 0.6] · [2, 3] + $i)"
    i=$((i + 1))
  done
  echo ':train xor epochs=10'
  echo ':reload'
  echo ':params xor'
  echo '[1, 2] + [1, 2, 3]'
  echo ':load missing.nn'
} >session.in
run vg valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9 \
  "$NNC" repl <session.in
expect_rc vg 0 "no definite leak and no memory error over 20 redefinitions"
contains vg.out "redefined xor" "the session redefined the model"
[ "$(grep -c '^redefined xor' vg.out)" -ge 20 ] && pass "20 redefinitions" || fail "fewer than 20 redefinitions"
finish
