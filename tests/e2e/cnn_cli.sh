#!/bin/sh
# cnn_cli.sh NNC SOURCE_DIR: the compiled program of a small CNN with batch norm and dropout
# (cnn_lib.sh: 6 × 6 images of bars written here as CSV) trains to 100% validation accuracy,
# writes byte-identical weights on 1, 2 and 3 threads, resumes a checkpoint to the same bytes as
# the run it cut, evaluates, and predicts with the running statistics: a row alone and the same
# row in a batch of 60 give the same output.
NNC=$1
# shellcheck disable=SC2034  # the model is written here, not taken from SOURCE_DIR
SRC=$2
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cnn_lib.sh"

bars_files 8
run compile "$NNC" bars.nn -o bars
expect_rc compile 0 "nnc bars.nn (conv2d, batch_norm, max_pool, dropout)"
[ -x bars ] || { fail "no executable 'bars' was written"; finish; }

# ---- training on 1, 2 and 3 threads: the same bytes ----
for t in 1 2 3; do
  run "threads$t" ./bars train --threads "$t" --save "t$t.safetensors"
  expect_rc "threads$t" 0 "./bars train --threads $t"
done
check_number threads1 "final val_accuracy" "$(final_val_accuracy threads1)" 'v + 0 == 1' "= 1"
cmp -s t1.safetensors t2.safetensors && cmp -s t1.safetensors t3.safetensors \
  && pass "1, 2 and 3 threads write byte-identical weights and running statistics" \
  || fail "the weights files differ between 1, 2 and 3 threads"
for name in n1.running_mean n1.running_var n2.running_mean n2.running_var; do
  contains t1.safetensors "\"$name\"" "the weights file holds $name"
done

# ---- a run cut after 3 epochs and resumed ends in the bytes of the straight run ----
run half ./bars train --epochs 3 --save half.safetensors
expect_rc half 0 "./bars train --epochs 3 --save half.safetensors"
run resumed ./bars train --resume half.safetensors --save resumed.safetensors
expect_rc resumed 0 "./bars train --resume half.safetensors"
contains resumed.out "epoch 4/8  loss" "the resumed run starts at epoch 4"
cmp -s resumed.safetensors t1.safetensors \
  && pass "the resumed run's checkpoint equals the straight run's, byte for byte" \
  || fail "the resumed run's checkpoint differs from the straight run's"

# ---- eval and predict use the running statistics ----
run eval ./bars eval --weights t1.safetensors
expect_rc eval 0 "./bars eval"
contains eval.out "accuracy 1.0000" "eval: accuracy 1 on the validation images"
contains eval.out "        2   0   0  20" "eval's confusion matrix: the 20 diagonals are right"
run batch ./bars predict --weights t1.safetensors --data bars_val.csv
expect_rc batch 0 "./bars predict --data bars_val.csv"
[ "$(wc -l <batch.out)" -eq 60 ] && pass "60 predictions" || fail "$(wc -l <batch.out) predictions"
for i in 1 2 3; do
  row=$(sed -n "${i}p" bars_val.csv | cut -d, -f1-36 | tr ',' ' ')
  # shellcheck disable=SC2086
  run "one$i" ./bars predict --weights t1.safetensors $row
  if probs "one$i" 3 >/dev/null && [ "$(cat "one$i.out")" = "$(sed -n "${i}p" batch.out)" ]; then
    pass "image $i alone predicts what it predicts in a batch of 60: $(cat "one$i.out")"
  else fail "image $i alone: '$(cat "one$i.out")', in the batch: '$(sed -n "${i}p" batch.out)'"; fi
  want=$(sed -n "${i}p" bars_val.csv | cut -d, -f37)
  contains "one$i.out" "class $want" "image $i is class $want"
done
finish
