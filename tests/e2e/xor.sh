#!/bin/sh
# xor.sh NNC SOURCE_DIR: compiles examples/xor.nn, trains it and checks what the program does.
NNC=$1
SRC=$2
. "$(dirname "$0")/lib.sh"

run compile "$NNC" "$SRC/examples/xor.nn" -o xor
expect_rc compile 0 "nnc examples/xor.nn -o xor"
[ -x xor ] || { fail "no executable 'xor' was written"; finish; }

run train ./xor
expect_rc train 0 "./xor (train)"
loss=$(sed -n 's/^final loss \([^ ]*\)$/\1/p' train.out)
if [ -z "$loss" ]; then
  fail "no 'final loss X' line in the output"; show train
elif awk -v l="$loss" 'BEGIN { exit !(l + 0 < 0.01 && l + 0 >= 0) }'; then
  pass "final loss $loss < 0.01"
else
  fail "final loss $loss is not below 0.01"; show train
fi

# The predictions for the four training rows: "a b -> y", rounding to the XOR truth table.
preds=$(awk '/^[01] [01] -> / {
  v = $4 + 0; r = (v >= 0.5) ? 1 : 0; printf "%s%s%s->%d", sep, $1, $2, r; sep = " " }' train.out)
if [ "$preds" = "00->0 01->1 10->1 11->0" ]; then
  pass "predictions round to XOR: $preds"
else
  fail "predictions '$preds', expected '00->0 01->1 10->1 11->0'"; show train
fi
[ -f xor.safetensors ] && pass "weights saved to xor.safetensors" || fail "no xor.safetensors after training"

run p10 ./xor predict 1 0
expect_rc p10 0 "./xor predict 1 0"
if awk -v y="$(cat p10.out)" 'BEGIN { exit !(y ~ /^[-+0-9.eE]+$/ && y + 0 > 0.5) }'; then
  pass "predict 1 0 = $(cat p10.out) > 0.5"
else
  fail "predict 1 0 printed '$(cat p10.out)', expected one number > 0.5"; show p10
fi

run p11 ./xor predict 1 1
expect_rc p11 0 "./xor predict 1 1"
if awk -v y="$(cat p11.out)" 'BEGIN { exit !(y ~ /^[-+0-9.eE]+$/ && y + 0 < 0.5) }'; then
  pass "predict 1 1 = $(cat p11.out) < 0.5"
else
  fail "predict 1 1 printed '$(cat p11.out)', expected one number < 0.5"; show p11
fi

run help ./xor --help
expect_rc help 0 "./xor --help"
contains help.out "predict" "--help mentions predict"
contains help.out "Exit codes" "--help documents the exit codes"
contains help.out "2 usage" "--help gives the usage exit code"

run short ./xor predict 1
expect_rc short 2 "./xor predict 1 (one value too few)"
contains short.err "expects 2 input values" "predict with 1 value explains what it expects"
[ -s short.out ] && fail "predict 1 printed on stdout: $(cat short.out)"

run notnum ./xor predict 1 zz
expect_rc notnum 2 "./xor predict 1 zz (not a number)"
contains notnum.err "zz" "predict 1 zz names the bad value"
[ -s notnum.out ] && fail "predict 1 zz printed on stdout: $(cat notnum.out)"

finish
