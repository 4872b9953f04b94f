#!/bin/sh
# fashion_resnet.sh NNC SOURCE_DIR: examples/fashion_resnet.nn (residual blocks with batch norm,
# global average pooling) on Debian's dataset-fashion-mnist, reduced to one epoch of the first
# 20000 training images (IDX files cut from the real ones) on one thread, about 40 s unloaded,
# validated on the 10000 test images with the running statistics. The final validation accuracy
# must be at least 0.70: the run reaches 0.766, while the same network whose convolutions learn
# nothing (their gradients lost, only batch norm's scale and shift and the dense layer trained)
# reaches 0.54 (on the first 2000 test images), and a gradient of the wrong size or sign does
# worse still. eval (the running statistics again) agrees with the last validation, and predict
# gives the label of real test images. Skipped (exit 77) when the data set is not installed.
NNC=$1
SRC=$2
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cnn_lib.sh"
need_fashion_mnist

compile_example compile fashion_resnet resnet
fashion_subset train 20000 sub

run train ./resnet train --epochs 1 --threads 1 --data sub-images.idx sub-labels.idx
expect_rc train 0 "./resnet train --epochs 1 --data (20000 images)"
acc=$(final_val_accuracy train)
check_number train "final val_accuracy" "$acc" 'v + 0 >= 0.70' ">= 0.70"
for name in n0.running_mean n4.running_var ns.running_var; do
  contains resnet.safetensors "\"$name\"" "the weights file holds $name"
done

run eval ./resnet eval
expect_rc eval 0 "./resnet eval"
contains eval.out "accuracy $acc" "eval's accuracy is the last validation's ($acc)"

# Real test images as raw pixels: image 0 is an ankle boot (label 9), 2 trousers (1).
for i in 0 2; do predicts_label ./resnet "$i"; done
finish
