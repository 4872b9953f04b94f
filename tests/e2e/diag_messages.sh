#!/bin/sh
# diag_messages.sh NNC SOURCE_DIR: messages that say the fix (issue 13, item 6 and warnings).
# - A non-finite value during training names the user's expression (not an internal op such as
#   'sum') and suggests a lower learning rate.
# - `-o DIR/x` with a missing DIR is refused before compiling, naming the directory, with exit 3
#   (not the linker's error about a temporary file).
# - A warning is printed but the compile succeeds; -Werror makes it fail.
NNC=$1
SRC=$2
. "$(dirname "$0")/lib.sh"

mkdir data && cp "$SRC/examples/data/flats.csv" data/
cp "$SRC/examples/flats.nn" .
run compile "$NNC" flats.nn -o flats
expect_rc compile 0 "nnc flats.nn"
run blowup ./flats train --lr 1e30 --epochs 5
expect_rc blowup 3 "./flats train --lr 1e30"
contains blowup.err "'mse(y, price / 100)' (flats.nn:11:10) is inf" \
  "the non-finite value is named by the user's expression"
contains blowup.err "hint: a learning rate too high makes the values overflow; try a lower one (--lr)" \
  "the message suggests a lower learning rate"

run nodir "$NNC" flats.nn -o nodir/flats
expect_rc nodir 3 "nnc -o nodir/flats"
contains nodir.err "nnc: error: cannot write 'nodir/flats': the directory 'nodir' does not exist" \
  "a missing output directory is named"
grep -q "/tmp/\|nnc-" nodir.err && fail "the message names a temporary file" \
  || pass "no temporary file in the message"

cat >twice.nn <<'NN'
model m {
  input x[2]
  target y : class(2)
  z = dense(x, 2)
  loss = cross_entropy(softmax(z), y)
  output softmax(softmax(z))
}
NN
run warn "$NNC" --check twice.nn
expect_rc warn 0 "a warning does not fail the compile"
contains warn.err "twice.nn:6:10: warning: softmax of a value that is already a probability" \
  "the warning is printed as file:line:col: warning:"
run werror "$NNC" --check -Werror twice.nn
expect_rc werror 1 "-Werror makes the warning an error"
contains werror.err "twice.nn:6:10: error: softmax of a value that is already a probability" \
  "-Werror prints it as an error"
finish
