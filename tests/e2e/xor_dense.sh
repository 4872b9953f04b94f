#!/bin/sh
# xor_dense.sh NNC SOURCE_DIR: examples/xor_dense.nn is XOR written with dense layers. It must
# train (loss below 0.01, the truth table), and since it is the same math as examples/xor.nn
# with the same seed, it must print exactly the same numbers.
NNC=$1
SRC=$2
. "$(dirname "$0")/lib.sh"

for ex in xor xor_dense; do
  compile_example "c_$ex" "$ex" "$ex"
  run "t_$ex" "./$ex"
  expect_rc "t_$ex" 0 "./$ex (train)"
done

check_number t_xor_dense "final loss" "$(last_value t_xor_dense.out "final loss ")" 'v + 0 < 0.01' "< 0.01"
xor_table t_xor_dense

a=$(grep '^final loss ' t_xor.out)
b=$(grep '^final loss ' t_xor_dense.out)
if [ -n "$a" ] && [ "$a" = "$b" ]; then
  pass "same final loss line as xor.nn: $b"
else
  fail "xor.nn printed '$a', xor_dense.nn '$b'"
fi
# The whole log and the table's predictions agree too (only the weights' file name and the
# epochs' seconds differ).
grep -v '^saved weights' t_xor.out | sed 's/  [0-9]*\.[0-9][0-9]s$//' >log_xor
grep -v '^saved weights' t_xor_dense.out | sed 's/  [0-9]*\.[0-9][0-9]s$//' >log_xor_dense
if cmp -s log_xor log_xor_dense; then
  pass "every epoch line and prediction is the same as xor.nn's"
else
  fail "the training logs of xor.nn and xor_dense.nn differ:"; diff log_xor log_xor_dense | head -20
fi

run p ./xor_dense predict 1 0
expect_rc p 0 "./xor_dense predict 1 0"
run q ./xor predict 1 0
if [ "$(cat p.out)" = "$(cat q.out)" ] && [ -s p.out ]; then
  pass "predict 1 0 is $(cat p.out) for both"
else
  fail "predict 1 0: xor_dense '$(cat p.out)', xor '$(cat q.out)'"
fi
finish
