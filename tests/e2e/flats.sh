#!/bin/sh
# flats.sh NNC SOURCE_DIR: the CSV regression examples/flats.nn. Its data path
# ("data/flats.csv") is relative to the .nn file, so nnc must compile it from any directory and
# the program must find the data from any directory. Checks a final validation loss below 0.02
# (always predicting the training rows' mean price gives 1.15 on the held-out rows) and a
# prediction for a made-up flat.
NNC=$1
SRC=$2
. "$(dirname "$0")/lib.sh"

# Compile with the working directory elsewhere, and run from a third directory.
mkdir build run && cd build || exit 1
run compile "$NNC" "$SRC/examples/flats.nn" -o "$WORK/flats"
expect_rc compile 0 "nnc examples/flats.nn from another directory"
cd "$WORK/run" || exit 1
[ -x ../flats ] || { fail "no executable 'flats' was written"; finish; }

# A relative path to the .nn file works as well (here from the repository root).
run relative sh -c 'cd "$1" && exec "$2" examples/flats.nn --check' sh "$SRC" "$NNC"
expect_rc relative 0 "nnc --check examples/flats.nn from the repository root"

run train ../flats
expect_rc train 0 "../flats (train, run from another directory)"
contains train.out "final val_loss" "training reports the validation loss"
check_number train "final val_loss" "$(last_value train.out "final val_loss ")" 'v + 0 < 0.02' "< 0.02"
# A regression has no accuracy: the epoch lines are "epoch i/n  loss X  val_loss Y  S.SSs".
if grep -qE '^epoch 300/300  loss [0-9.]+  val_loss [0-9.]+  [0-9]+\.[0-9]{2}s$' train.out; then
  pass "epoch lines: loss and val_loss, no accuracy"
else
  fail "no 'epoch 300/300  loss X  val_loss Y' line"; show train
fi
[ -f ../flats.safetensors ] && pass "weights saved beside the program" \
  || fail "no flats.safetensors after training"

# 80 m², 3 rooms, 20 years, 5 km: the generating formula gives about 285 (thousands).
# predict takes raw values: the standardisation statistics come from the checkpoint.
run p ../flats predict 80 3 20 5
expect_rc p 0 "../flats predict 80 3 20 5"
check_number p "predicted price" "$(cat p.out)" 'v + 0 > 265 && v + 0 < 305' "(within 20 of 285)"
finish
