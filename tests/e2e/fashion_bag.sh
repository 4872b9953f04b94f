#!/bin/sh
# fashion_bag.sh NNC SOURCE_DIR: trains examples/fashion_bag.nn, "bag or not" on Fashion-MNIST
# (one class against the rest, sigmoid + binary cross-entropy, 3 epochs), and checks a final
# validation accuracy of at least 0.98: always answering "not a bag" already scores 0.90.
# predict prints one probability; a bag image scores above 0.5, an ankle boot below.
# Skipped (exit 77) when the data set is not installed.
NNC=$1
SRC=$2
DATA=/usr/share/datasets/fashion-mnist
. "$(dirname "$0")/lib.sh"

for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz \
         t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
  [ -r "$DATA/$f" ] || skip "$DATA/$f is missing (apt-get install dataset-fashion-mnist)"
done

run compile "$NNC" "$SRC/examples/fashion_bag.nn" -o bag
expect_rc compile 0 "nnc examples/fashion_bag.nn -o bag"
[ -x bag ] || { fail "no executable 'bag' was written"; finish; }

run train ./bag
expect_rc train 0 "./bag (train, 3 epochs)"
acc=$(sed -n 's/^final val_loss [^ ]*  val_accuracy \([^ ]*\)$/\1/p' train.out | tail -n 1)
if ! is_number "$acc"; then
  fail "no 'final val_loss X  val_accuracy Y' line"; show train
elif holds 'a + 0 >= 0.98' a="$acc"; then
  pass "final val_accuracy $acc >= 0.98"
else
  fail "final val_accuracy $acc is below 0.98"; show train
fi
# Binary accuracy is reported per epoch, for training and validation.
if grep -qE '^epoch +3/3  loss [0-9.]+  accuracy [0-9.]+  val_loss [0-9.]+  val_accuracy [0-9.]+$' \
     train.out; then
  pass "the epoch lines report accuracy and val_accuracy"
else
  fail "no 'epoch 3/3  loss …  accuracy …  val_loss …  val_accuracy …' line"; show train
fi

image() { # INDEX: the 784 bytes of test image INDEX, as decimal numbers
  gzip -dc "$DATA/t10k-images-idx3-ubyte.gz" | tail -c +$((17 + 784 * $1)) | head -c 784 |
    od -An -tu1 -v | tr -s ' \n' '  '
}
# Test image 18 is a bag (label 8), image 0 an ankle boot (label 9).
for case in "18:>" "0:<"; do
  i=${case%%:*}; cmp=${case#*:}
  # shellcheck disable=SC2046
  run "p$i" ./bag predict $(image "$i")
  expect_rc "p$i" 0 "./bag predict (test image $i)"
  p=$(cat "p$i.out")
  if is_number "$p" && holds "p + 0 $cmp 0.5 && p + 0 >= 0 && p + 0 <= 1" p="$p"; then
    pass "test image $i: P(bag) = $p ($cmp 0.5)"
  else
    fail "test image $i: predict printed '$p', expected one probability $cmp 0.5"; show "p$i"
  fi
done
finish
