#!/bin/sh
# nonfinite.sh NNC SOURCE_DIR: a learning rate of 1e30 makes examples/flats.nn's loss overflow;
# a model's gradients are not finite while its loss is. The program must stop at once with
# exit 3, naming the epoch, the step and the line of the source whose value first became
# non-finite, and save no weights.
NNC=$1
SRC=$2
. "$(dirname "$0")/lib.sh"

run compile "$NNC" "$SRC/examples/flats.nn" -o flats
expect_rc compile 0 "nnc examples/flats.nn"
run blowup ./flats train --lr 1e30 --epochs 5 --save w.safetensors
expect_rc blowup 3 "./flats train --lr 1e30"
if grep -qE "^flats: non-finite value at epoch 1, step [0-9]+: '[^']+' \(.*flats\.nn:[0-9]+:[0-9]+\) is (inf|-inf|nan)$" blowup.err; then
  pass "the message names the epoch, the step and the source line: $(cat blowup.err)"
else
  fail "no 'non-finite value at epoch 1, step S: ... (flats.nn:L:C) is ...' message"; show blowup
fi
[ -f w.safetensors ] && fail "weights were saved after a non-finite loss" \
  || pass "no weights saved"

# A finite loss whose gradients are not: sqrt at 0 (the biases start at 0) has an infinite
# slope. The step's updates test the parameters' gradients as they read them (the flag,
# NnrtModel.nonfinite_offset); the first non-finite buffer in the step's order is named, on
# one thread and two, and nothing is saved.
cat > grad.nn <<'EOF2'
model g {
  input  x[2]
  target y[1]
  h = dense(x, 3)
  z = dense(h, 1)
  loss = mse(z, y) + sqrt(abs(sum(h.b)))
  output z
}
train g {
  data = table { 1 2 -> 1
                 3 4 -> 0 }
  optimizer = sgd(lr = 0.1)
  epochs = 2
  batch = 2
}
EOF2
run compile_grad "$NNC" grad.nn -o grad
expect_rc compile_grad 0 "nnc grad.nn"
for threads in 1 2; do
  run grad$threads ./grad train --threads $threads --save g.safetensors
  expect_rc grad$threads 3 "./grad train --threads $threads"
  if head -1 grad$threads.err | grep -qxF "grad: non-finite value at epoch 1, step 1: 'abs(sum(h.b))' (grad.nn:6:27) is nan"; then
    pass "a non-finite gradient under a finite loss is named ($threads threads)"
  else
    fail "no 'non-finite value at epoch 1, step 1: 'abs(sum(h.b))' ... is nan' ($threads threads)"; show grad$threads
  fi
  [ -f g.safetensors ] && fail "weights were saved after a non-finite gradient" \
    || pass "no weights saved ($threads threads)"
done
finish
