#!/bin/sh
# xor.sh NNC SRCDIR: the REPL and `nnc run` train as the compiled program does, and the JIT's
# code predicts what the ahead-of-time code predicts.
# 1. nnc run examples/xor.nn is the compiled program's command line: train prints what ./xor
#    prints and saves the same bytes, also with --seed 3 --epochs 2000; predict and a bad
#    option say what the program says;
# 2. :load, :train, :predict in a session: the truth table of XOR, the same final loss;
# 3. the program trains and saves; :loadw reads its weights and :predict prints, for the four
#    rows, exactly what `./xor predict` prints.
. "$2/tests/e2e/lib.sh"
NNC=$1
cp "$2/examples/xor.nn" .
cut_time() { sed -E 's/  [0-9]+\.[0-9]+s$//' "$1"; }

run compile "$NNC" xor.nn -o xor
expect_rc compile 0 "nnc compiles xor.nn"
run prog ./xor train --save prog.safetensors
expect_rc prog 0 "./xor trains"
run jit "$NNC" run xor.nn train --save jit.safetensors
expect_rc jit 0 "nnc run xor.nn train"
cut_time prog.out | sed 's/^saved weights to .*/saved weights/' >prog.cut
cut_time jit.out | sed 's/^saved weights to .*/saved weights/' >jit.cut
if cmp -s prog.cut jit.cut; then pass "nnc run prints what ./xor prints (final loss $(last_value jit.out 'final loss '))"
else fail "nnc run and ./xor differ"; diff prog.cut jit.cut | head -20; fi
if cmp -s prog.safetensors jit.safetensors; then pass "nnc run saves the bytes ./xor saves"
else fail "the weights of nnc run and ./xor differ"; fi

run prog3 ./xor train --seed 3 --epochs 2000 --save p3.safetensors
run jit3 "$NNC" run xor.nn --seed 3 --epochs 2000
if [ "$(last_value prog3.out 'final loss ')" = "$(last_value jit3.out 'final loss ')" ] &&
   is_number "$(last_value jit3.out 'final loss ')"; then pass "same final loss with --seed 3 --epochs 2000"
else fail "final loss: program $(last_value prog3.out 'final loss '), nnc run $(last_value jit3.out 'final loss ')"; fi
if [ -f xor.safetensors ] && grep -q '^saved weights to xor.safetensors$' jit3.out; then
  pass "nnc run xor.nn saves to xor.safetensors by default, as ./xor does beside itself"
else fail "nnc run's default weights"; show jit3; fi

run predp ./xor predict --weights prog.safetensors 0 1
run predj "$NNC" run xor.nn predict --weights prog.safetensors 0 1
if cmp -s predp.out predj.out && [ -s predp.out ]; then pass "nnc run xor.nn predict prints what ./xor predict prints"
else fail "predict differs"; paste predp.out predj.out; fi
run badp ./xor train --epochs 0
rcp=$RC
run badj "$NNC" run xor.nn train --epochs 0
if [ "$(head -n 1 badp.err)" = "$(head -n 1 badj.err)" ] && [ "$rcp" -eq 2 ] && [ "$RC" -eq 2 ]; then
  pass "a bad option: the same message and exit code ($(head -n 1 badj.err))"
else fail "bad option: program '$(head -n 1 badp.err)', nnc run '$(head -n 1 badj.err)'"; fi

printf '%s\n' ':load xor.nn' ':train xor' ':predict xor 0 0' ':predict xor 0 1' ':predict xor 1 0' \
  ':predict xor 1 1' >session.in
run session "$NNC" repl <session.in
expect_rc session 0 "the session ends normally"
if [ "$(last_value session.out 'final loss ')" = "$(last_value prog.out 'final loss ')" ]; then
  pass "the REPL's :train reaches the program's final loss"
else fail "final loss: REPL $(last_value session.out 'final loss '), program $(last_value prog.out 'final loss ')"; fi
table=$(tail -n 4 session.out | awk '{ printf "%d", $1 + 0.5 }')
if [ "$table" = "0110" ]; then pass ":predict gives XOR's truth table"; else fail "truth table $table"; show session; fi

printf '%s\n' ':load xor.nn' ':loadw xor prog.safetensors' ':predict xor 0 0' ':predict xor 0 1' \
  ':predict xor 1 0' ':predict xor 1 1' >loadw.in
run loadw "$NNC" repl <loadw.in
tail -n 4 loadw.out >jit.rows
: >aot.rows
for row in "0 0" "0 1" "1 0" "1 1"; do ./xor predict --weights prog.safetensors $row >>aot.rows; done
if cmp -s jit.rows aot.rows && [ "$(wc -l <aot.rows)" -eq 4 ]; then
  pass "JIT and AOT predictions are identical: $(tr '\n' ' ' <aot.rows)"
else fail "JIT and AOT predictions differ"; paste jit.rows aot.rows; show loadw; fi
finish
