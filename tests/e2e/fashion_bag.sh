#!/bin/sh
# fashion_bag.sh NNC SOURCE_DIR: trains examples/fashion_bag.nn, "bag or not" on Fashion-MNIST
# (one class against the rest, sigmoid + binary cross-entropy, 3 epochs), and checks a final
# validation accuracy of at least 0.98: always answering "not a bag" already scores 0.90.
# predict prints one probability; a bag image scores above 0.5, an ankle boot below.
# Skipped (exit 77) when the data set is not installed.
NNC=$1
SRC=$2
. "$(dirname "$0")/lib.sh"
need_fashion_mnist

compile_example compile fashion_bag bag

run train ./bag
expect_rc train 0 "./bag (train, 3 epochs)"
check_number train "final val_accuracy" "$(final_val_accuracy train)" 'v + 0 >= 0.98' ">= 0.98"
# Binary accuracy is reported per epoch, for training and validation.
if grep -qE '^epoch +3/3  loss [0-9.]+  accuracy [0-9.]+  val_loss [0-9.]+  val_accuracy [0-9.]+  [0-9]+\.[0-9]{2}s$' \
     train.out; then
  pass "the epoch lines report accuracy and val_accuracy"
else
  fail "no 'epoch 3/3  loss …  accuracy …  val_loss …  val_accuracy …' line"; show train
fi

# Test image 18 is a bag (label 8), image 0 an ankle boot (label 9).
for case in "18:>" "0:<"; do
  i=${case%%:*}; cmp=${case#*:}
  # shellcheck disable=SC2046
  run "p$i" ./bag predict $(fashion_image "$i")
  expect_rc "p$i" 0 "./bag predict (test image $i)"
  check_number "p$i" "test image $i: P(bag) =" "$(cat "p$i.out")" \
    "v + 0 $cmp 0.5 && v + 0 >= 0 && v + 0 <= 1" "$cmp 0.5 (a probability)"
done
finish
