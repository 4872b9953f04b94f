#!/bin/sh
# opt_levels.sh NNC SOURCE_DIR: -O2 runs nnc's own short pipeline (target.c), -O1 and -O3 LLVM's;
# none changes float semantics, so a CNN (convolution windows, pooling, batch norm, dropout,
# Adam) and a gelu/tanh MLP train to byte-identical weights at every level, and -O2 still
# promotes the kernels' induction variables to registers and vectorises the elementwise loops.
NNC=$1
SRC=$2
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cnn_lib.sh"

bars_csv bars.csv 96 7
bars_csv bars_val.csv 24 11
bars_model bars.nn 3
clusters_model_and_data
sed 's/h = dense(x, 8, tanh)/g = dense(x, 64, gelu)\
  h = dense(g, 32, tanh)/' m.nn >acts.nn

for model in bars acts; do
  for level in 1 2 3; do
    run "c$level" "$NNC" -O$level $model.nn -o ${model}_O$level
    expect_rc "c$level" 0 "nnc -O$level $model.nn"
    run "t$level" ./${model}_O$level train --save ${model}_O$level.st
    expect_rc "t$level" 0 "$model at -O$level trains"
  done
  for level in 1 3; do
    if cmp -s ${model}_O2.st ${model}_O$level.st; then
      pass "$model: the weights at -O$level are byte-identical to -O2's"
    else
      fail "$model: the weights at -O$level differ from -O2's"
    fi
  done
done

run ir "$NNC" -O2 acts.nn --emit=llvm
expect_rc ir 0 "nnc -O2 --emit=llvm acts.nn"
if grep -q 'alloca' ir.out; then
  fail "-O2 left allocas (induction variables in memory):"; grep 'alloca' ir.out | head -3
else
  pass "-O2 keeps no induction variable in memory"
fi
if awk '/^define .*@nnk_step_[0-9]+_tanh\(/ { k = 1 } k && /x float>/ { v = 1 } /^}/ { k = 0 }
        END { exit !v }' ir.out; then
  pass "-O2 vectorises the tanh kernel"
else
  fail "-O2 left the tanh kernel scalar"; grep '^define' ir.out | head -20
fi
finish
