#!/bin/sh
# nonfinite.sh NNC SOURCE_DIR: a learning rate of 1e30 makes examples/flats.nn's loss overflow.
# The program must stop at once with exit 3, naming the epoch, the step and the line of the
# source whose value first became non-finite, and save no weights.
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
finish
