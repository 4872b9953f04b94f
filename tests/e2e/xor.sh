#!/bin/sh
# xor.sh NNC SOURCE_DIR: compiles examples/xor.nn, trains it and checks what the program does.
NNC=$1
SRC=$2
. "$(dirname "$0")/lib.sh"

compile_example compile xor xor

run train ./xor
expect_rc train 0 "./xor (train)"
check_number train "final loss" "$(sed -n 's/^final loss \([^ ]*\)$/\1/p' train.out)" \
  'v + 0 < 0.01 && v + 0 >= 0' "< 0.01"

# The predictions for the four training rows: "a b -> y", rounding to the XOR truth table.
xor_table train
[ -f xor.safetensors ] && pass "weights saved to xor.safetensors" || fail "no xor.safetensors after training"

run p10 ./xor predict 1 0
expect_rc p10 0 "./xor predict 1 0"
check_number p10 "predict 1 0 =" "$(cat p10.out)" 'v + 0 > 0.5' "> 0.5"

run p11 ./xor predict 1 1
expect_rc p11 0 "./xor predict 1 1"
check_number p11 "predict 1 1 =" "$(cat p11.out)" 'v + 0 < 0.5' "< 0.5"

run help ./xor --help
expect_rc help 0 "./xor --help"
contains help.out "predict" "--help mentions predict"
contains help.out "Exit codes" "--help documents the exit codes"
contains help.out "  2    usage" "--help gives the usage exit code"
contains help.out "  130  interrupted" "--help gives the exit code of an interrupted run"

run short ./xor predict 1
expect_rc short 2 "./xor predict 1 (one value too few)"
contains short.err "expects 2 input values" "predict with 1 value explains what it expects"
[ -s short.out ] && fail "predict 1 printed on stdout: $(cat short.out)"

run notnum ./xor predict 1 zz
expect_rc notnum 2 "./xor predict 1 zz (not a number)"
contains notnum.err "zz" "predict 1 zz names the bad value"
[ -s notnum.out ] && fail "predict 1 zz printed on stdout: $(cat notnum.out)"

finish
