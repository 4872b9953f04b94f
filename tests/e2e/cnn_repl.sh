#!/bin/sh
# cnn_repl.sh NNC SOURCE_DIR: the REPL on a CNN with batch norm and dropout (cnn_lib.sh's bars
# model and images): :load, :train and :predict in a session train exactly as the compiled
# program does (the same final loss and the same bytes saved, running statistics included) and
# predict what it predicts; :loadw reads the program's weights and :predict then prints what
# `./bars predict` prints; :reload keeps the running statistics; :predict takes an image of 100
# values (a command line is not cut at 64 words).
NNC=$1
# shellcheck disable=SC2034  # the model is written here, not taken from SOURCE_DIR
SRC=$2
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cnn_lib.sh"

bars_files 8
run compile "$NNC" bars.nn -o bars
expect_rc compile 0 "nnc bars.nn"
[ -x bars ] || { fail "no executable 'bars' was written"; finish; }
run prog ./bars train --save prog.safetensors
expect_rc prog 0 "./bars train"
row() { sed -n "${1}p" bars_val.csv | cut -d, -f1-36 | tr ',' ' '; }

printf '%s\n' ':load bars.nn' ':train bars --save repl.safetensors' ":predict bars $(row 1)" \
  ":predict bars $(row 2)" ':reload' ":predict bars $(row 2)" >session.in
run session "$NNC" repl <session.in
expect_rc session 0 "the session ends normally"
if [ "$(last_value session.out 'final loss ')" = "$(last_value prog.out 'final loss ')" ] &&
   is_number "$(last_value prog.out 'final loss ')"; then
  pass ":train reaches the program's final loss $(last_value prog.out 'final loss ')"
else fail "final loss: REPL $(last_value session.out 'final loss '), program $(last_value prog.out 'final loss ')"; fi
cmp -s repl.safetensors prog.safetensors \
  && pass ":train --save writes the program's bytes (weights and running statistics)" \
  || fail ":train --save and ./bars train --save differ"
contains session.out "n1.running_mean n1.running_var n2.running_mean n2.running_var" \
  ":reload keeps the running statistics"
grep '  class ' session.out >repl.rows
: >prog.rows
for i in 1 2 2; do
  # shellcheck disable=SC2046
  ./bars predict --weights prog.safetensors $(row "$i") >>prog.rows
done
if cmp -s repl.rows prog.rows && [ "$(wc -l <prog.rows)" -eq 3 ]; then
  pass ":predict after :train (and after :reload) prints what ./bars predict prints"
else fail ":predict differs from ./bars predict"; paste repl.rows prog.rows; show session; fi

printf '%s\n' ':load bars.nn' ':loadw bars prog.safetensors' ":predict bars $(row 3)" >loadw.in
run loadw "$NNC" repl <loadw.in
expect_rc loadw 0 "a session with :loadw"
# shellcheck disable=SC2046
./bars predict --weights prog.safetensors $(row 3) >want3.out
if [ "$(grep '  class ' loadw.out)" = "$(cat want3.out)" ] && grep -q '  class 2$' want3.out; then
  pass ":loadw then :predict prints the program's prediction: $(cat want3.out)"
else fail ":loadw then :predict: '$(grep '  class ' loadw.out)', program '$(cat want3.out)'"; show loadw; fi

printf 'model wide {\n  input x[1, 10, 10]\n  output global_avg_pool(x)\n}\n' >wide.nn
printf '%s\n' ':load wide.nn' ":predict $(seq 0 99 | tr '\n' ' ')" >wide.in
run wide "$NNC" repl <wide.in
[ "$(tail -n 1 wide.out)" = "49.5" ] && [ ! -s wide.err ] \
  && pass ":predict with 100 values: the mean of 0 ... 99 is 49.5" \
  || { fail ":predict with 100 values"; show wide; }
finish
