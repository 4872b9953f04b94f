#!/bin/sh
# log_format.sh NNC SOURCE_DIR: the training log of a classifier with validation data has the
# documented format (README.md, "The generated program"):
#   epoch  1/60  loss 1.039625  accuracy 0.3333  val_loss 0.671664  val_accuracy 1.0000  0.00s
#   ... every log_every epochs, and the first and the last ...
#   final loss 0.001949
#   final val_loss 0.002054  val_accuracy 1.0000
#   0 0 -> 0.9995 0.0002 0.0003  class 0      (each row of a data table)
#   saved weights to ./clf.safetensors
# Each epoch line ends in the epoch's seconds (%.2fs); off a terminal there is no progress bar,
# so stdout has no '\r'. predict prints the probabilities and "class K". A small 3-class table
# trains in a blink.
NNC=$1
# shellcheck disable=SC2034  # the model is written here, not taken from SOURCE_DIR
SRC=$2
. "$(dirname "$0")/lib.sh"

classifier_model clf >clf.nn
cat >>clf.nn <<'EOF'
train clf {
  data = table {
    0 0 -> 0; 0.1 0.2 -> 0; 0.2 0.1 -> 0; 0.1 0 -> 0
    1 0 -> 1; 0.9 0.1 -> 1; 1.1 0.2 -> 1; 1 0.1 -> 1
    0 1 -> 2; 0.1 0.9 -> 2; 0.2 1.1 -> 2; 0 1.1 -> 2
  }
  validation_split = 0.25
  optimizer = adam(lr = 0.05)
  epochs    = 60
  batch     = 4
  seed      = 3
  log_every = 20
}
EOF

run compile "$NNC" clf.nn -o clf
expect_rc compile 0 "nnc clf.nn"
[ -x clf ] || { fail "no executable 'clf' was written"; finish; }
run train ./clf
expect_rc train 0 "./clf (train)"

NUM='[0-9]+\.[0-9]{6}'   # losses: %.6f
ACC='[0-9]\.[0-9]{4}'    # accuracies: %.4f
SEC='[0-9]+\.[0-9]{2}s'   # the epoch's seconds: %.2fs
EPOCH="^epoch +[0-9]+/60  loss $NUM  accuracy $ACC  val_loss $NUM  val_accuracy $ACC  $SEC\$"
epochs=$(grep -E "$EPOCH" train.out | sed 's/^epoch *\([0-9]*\)\/.*/\1/' | tr '\n' ' ')
if [ "$epochs" = "1 20 40 60 " ]; then
  pass "epoch lines 1, 20, 40, 60 read 'epoch i/n  loss  accuracy  val_loss  val_accuracy'"
else
  fail "well-formed epoch lines for epochs '$epochs', expected '1 20 40 60 '"; show train
fi
other=$(grep '^epoch' train.out | grep -vE "$EPOCH")
[ -z "$other" ] && pass "no other kind of epoch line" || fail "malformed epoch lines: $other"

# The first lines after the log, in this order.
after=$(grep -v '^epoch' train.out)
line() { printf '%s\n' "$after" | sed -n "$1p"; }
if line 1 | grep -qE "^final loss $NUM\$"; then pass "then 'final loss X'"
else fail "line after the log is '$(line 1)', expected 'final loss X'"; fi
if line 2 | grep -qE "^final val_loss $NUM  val_accuracy $ACC\$"; then
  pass "then 'final val_loss X  val_accuracy Y'"
else
  fail "second line after the log is '$(line 2)', expected 'final val_loss X  val_accuracy Y'"
fi
# All 12 rows of the table, the 3 held-out validation rows last, as "x1 x2 -> p0 p1 p2  class K".
ROW="^[-0-9.e]+ [-0-9.e]+ -> [0-9]\.[0-9]{4} [0-9]\.[0-9]{4} [0-9]\.[0-9]{4}  class [0-2]\$"
rows=$(printf '%s\n' "$after" | sed -n '3,14p' | grep -cE "$ROW")
[ "$rows" -eq 12 ] && pass "then the 12 table rows as 'x -> probabilities  class K'" \
  || { fail "$rows of the 12 rows after the final lines are 'x -> p…  class K'"; show train; }
if printf '%s\n' "$after" | sed -n '3,14p' | awk '{ print $NF }' | tr -d '\n' | grep -qx '000011112222'
then pass "the table rows are classified correctly, in table order"
else fail "the table rows' classes are not 0 0 0 0 1 1 1 1 2 2 2 2"; show train; fi
if [ "$(line 15)" = "saved weights to ./clf.safetensors" ]; then pass "then 'saved weights to PATH'"
else fail "the last line is '$(line 15)', expected 'saved weights to ./clf.safetensors'"; fi
[ "$(printf '%s\n' "$after" | wc -l)" -eq 15 ] && pass "nothing else on stdout" \
  || { fail "stdout has more lines than expected"; show train; }
[ -s train.err ] && { fail "training wrote to stderr"; show train; }
if tr -d '\n' <train.out | grep -q "$(printf '\r')"; then fail "stdout (not a terminal) has a '\\r'"
else pass "no progress bar ('\\r') when stdout is not a terminal"; fi

# predict: "p0 p1 p2  class K".
for case in "1 0:1" "0 1:2" "0.1 0.1:0"; do
  x=${case%%:*}; want=${case#*:}
  # shellcheck disable=SC2086
  run p ./clf predict $x
  expect_rc p 0 "./clf predict $x"
  if msg=$(probs p 3); then
    k=${msg% *}
    [ "$k" = "$want" ] && pass "predict $x: 3 probabilities summing to 1, class $k" \
      || fail "predict $x: class $k, expected $want"
  else
    fail "predict $x: $msg"; show p
  fi
done
finish
