#!/bin/sh
# fashion_cnn.sh NNC SOURCE_DIR: examples/fashion_cnn.nn (two convolutions with max pooling, a
# dense layer with dropout) on Debian's dataset-fashion-mnist, reduced to one epoch of the full
# training set on 1 thread (about 40 s unloaded; the cosine schedule then ends in that epoch;
# any thread count gives the same bytes, which cnn_cli.sh checks): the final validation
# accuracy on the 10000 test images must be at least 0.875. The run reaches 0.8837; the same
# network whose convolutions learn nothing (their gradients lost, the dense layers trained on
# the random features) reaches 0.8632 (and the documented 10-epoch run about 0.925), so 0.86 would not tell a broken convolution gradient from a working one.
# predict gives the label of real test images, eval agrees with the last validation, and the
# REPL loads the example, trains it on 2000 images (IDX files cut from the real ones) and
# predicts. Skipped (exit 77) when the data set is not installed.
NNC=$1
SRC=$2
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cnn_lib.sh"
need_fashion_mnist

compile_example compile fashion_cnn cnn

run train ./cnn train --epochs 1 --threads 1
expect_rc train 0 "./cnn train --epochs 1 --threads 1"
acc=$(final_val_accuracy train)
check_number train "final val_accuracy" "$acc" 'v + 0 >= 0.875' ">= 0.875"
[ -f cnn.safetensors ] && pass "weights saved to cnn.safetensors" || fail "no cnn.safetensors"

# Real test images as raw pixels (the program applies scale = 1/255): image 0 is an ankle boot
# (label 9), 2 trousers (1), 18 a bag (8).
for i in 0 2 18; do predicts_label ./cnn "$i"; done

run eval ./cnn eval
expect_rc eval 0 "./cnn eval"
contains eval.out "accuracy $acc" "eval's accuracy is the last validation's ($acc)"
contains eval.out "confusion matrix" "eval prints the confusion matrix"

fashion_subset train 2000 small
printf '%s\n' ":load $SRC/examples/fashion_cnn.nn" \
  ':train --epochs 1 --data small-images.idx small-labels.idx --validate small-images.idx small-labels.idx' \
  ":predict $(fashion_image 0)" >session.in
run session "$NNC" repl <session.in
expect_rc session 0 "REPL: :load examples/fashion_cnn.nn, :train on 2000 images, :predict"
contains session.out "defined fashion_cnn" ":load defines the model"
check_number session "REPL final val_accuracy" "$(final_val_accuracy session)" 'v + 0 >= 0.6' \
  ">= 0.6 (on its 2000 training images)"
tail -n 1 session.out >repl_predict.out
: >repl_predict.err
if msg=$(probs repl_predict 10); then pass ":predict prints 10 probabilities and class ${msg% *}"
else fail ":predict: $msg"; show session; fi
finish
