#!/bin/sh
# loaded.sh NNC SRCDIR: a model loaded from a file in another directory and redefined at the
# prompt. The kept train block's relative data paths still resolve against its file's
# directory. A failed redefinition says which model stays (and where a kept block came from).
# :predict on untrained weights warns, and stops warning once the model is trained or loaded.
. "$2/tests/e2e/lib.sh"
NNC=$1
mkdir -p sub/data
cp "$2/examples/flats.nn" sub/ && cp "$2/examples/data/flats.csv" sub/data/
cp "$2/examples/xor.nn" .

cat >session.in <<'IN'
:load sub/flats.nn
model flats {
  input  x[4]
  target price[1]
  y = dense(x, 1)
  loss = mse(y, price / 100)
  output 100 * y
}
:train --epochs 2
model flats {
  input  x[3]
  target price[1]
  y = dense(x, 1)
  loss = mse(y, price / 100)
  output 100 * y
}
:params
IN
"$NNC" repl <session.in >s.out 2>s.err
contains s.out "redefined flats: 2 tensors, 5 weights" "the typed model replaces the loaded one"
contains s.out "final loss" ":train finds sub/data/flats.csv through the kept train block"
if grep -q "cannot open data file" s.err; then fail "a kept train block's path resolved elsewhere"; show s; fi
contains s.err "<repl>:18:63: error: csv file has 4 feature columns, input 'x' has 3" \
  "a redefinition that does not fit the kept train block fails"
contains s.err "note: with the train block of 'flats' kept from sub/flats.nn:15" \
  "the failure says where the kept train block came from"
contains s.err "note: model 'flats' keeps its previous definition, from <repl>: :train, :predict and :eval still use it" \
  "the failure says the previous model is still active"
contains s.out "y.W   [4, 1]" ":params shows the previous (4-input) model"

printf '%s\n' ':load xor.nn' ':predict 0 1' ':train --epochs 10' ':predict 0 1' \
  ':save w.safetensors' ':load xor.nn' ':predict 0 1' ':loadw w.safetensors' ':predict 0 1' |
  "$NNC" repl >p.out 2>p.err
contains p.err "<repl>:2: warning: model 'xor' is untrained: these are the outputs of its initial weights; :train it or :loadw a weights file first" \
  ":predict before :train warns"
[ "$(grep -c warning p.err)" -eq 1 ] && pass "no warning after :train, a redefinition keeping every weight, or :loadw" \
  || { fail "warnings: $(grep -c warning p.err), expected 1"; show p; }
[ "$(grep -cE '^[0-9.e-]+$' p.out)" -eq 4 ] && pass ":predict still answers (four times)" \
  || { fail ":predict answers"; show p; }
finish
