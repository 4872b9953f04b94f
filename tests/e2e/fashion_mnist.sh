#!/bin/sh
# fashion_mnist.sh NNC SOURCE_DIR: trains examples/fashion_mnist.nn (784 → 128 → 64 → 10 MLP,
# 10 epochs, about 20 s) on Debian's dataset-fashion-mnist and checks the documented result:
# a final validation accuracy of at least 0.88 on the 10000 test images, and that predict
# prints 10 probabilities summing to 1 and the class, also for real test images.
# Skipped (exit 77) when the data set is not installed.
NNC=$1
SRC=$2
. "$(dirname "$0")/lib.sh"
need_fashion_mnist

compile_example compile fashion_mnist fashion

run train ./fashion
expect_rc train 0 "./fashion (train, 10 epochs)"
check_number train "final val_accuracy" "$(final_val_accuracy train)" 'v + 0 >= 0.88' ">= 0.88"
[ -f fashion.safetensors ] && pass "weights saved to fashion.safetensors" \
  || fail "no fashion.safetensors after training"

# predict_check NAME WHAT: the last run printed 10 probabilities and "class K"; sets CLASS.
CLASS=
predict_check() {
  expect_rc "$1" 0 "$2"
  if msg=$(probs "$1" 10); then
    CLASS=${msg% *}
    pass "$2: 10 probabilities, sum ${msg#* }, class $CLASS"
  else
    CLASS=
    fail "$2: $msg"; show "$1"
  fi
}

# All zeros: a blank image.
zeros=$(awk 'BEGIN { for (i = 0; i < 784; i++) printf "0 "; }')
# shellcheck disable=SC2086
run pzero ./fashion predict $zeros
predict_check pzero "./fashion predict (784 zeros)"

# Real test images, as raw pixels 0..255 (the program applies the train block's scale = 1/255):
# image 0 is an ankle boot (label 9), image 18 a bag (label 8).
label() { # INDEX: the label of test image INDEX
  gzip -dc "$FASHION/t10k-labels-idx1-ubyte.gz" | tail -c +$((9 + $1)) | head -c 1 | od -An -tu1 |
    tr -d ' \n'
}
for i in 0 18; do
  x=$(fashion_image "$i")
  n=$(printf '%s\n' "$x" | wc -w)
  [ "$n" -eq 784 ] || { fail "test image $i: extracted $n values, not 784"; continue; }
  want=$(label "$i")
  # shellcheck disable=SC2086
  run "pimg$i" ./fashion predict $x
  predict_check "pimg$i" "./fashion predict (test image $i)"
  if [ -n "$CLASS" ]; then
    [ "$CLASS" = "$want" ] && pass "test image $i is class $want" \
      || fail "test image $i: predicted class $CLASS, its label is $want"
  fi
done

run short ./fashion predict 0 0 0
expect_rc short 2 "./fashion predict with 3 values"
contains short.err "expects 784 input values" "predict says it wants 784 values"
finish
