#!/bin/sh
# cli_xor.sh NNC SOURCE_DIR: the generated program's command line on examples/xor.nn: train with
# --log-json and --plot (one JSON line per epoch, an SVG that parses), eval, info, predict from
# standard input, flags that override the train block, and bad command lines (exit 2, a hint).
NNC=$1
SRC=$2
. "$(dirname "$0")/lib.sh"

compile_example compile xor xor

# ---- train --epochs 300 --log-json --plot ----
run train ./xor train --epochs 300 --log-json l.json --plot p.svg
expect_rc train 0 "./xor train --epochs 300 --log-json l.json --plot p.svg"
[ -s train.err ] && { fail "training wrote to stderr"; show train; }
# Not a terminal: one plain line per logged epoch (1 and 300: log_every 1000), no bar.
if tr -d '\n' <train.out | grep -q "$(printf '\r')"; then fail "stdout has a '\\r' (a progress bar)"
else pass "no progress bar off a terminal"; fi
epochs=$(grep -cE '^epoch +[0-9]+/300  loss [0-9]+\.[0-9]{6}  [0-9]+\.[0-9]{2}s$' train.out)
[ "$epochs" -eq 2 ] && pass "two epoch lines 'epoch i/300  loss X  S.SSs' (1 and 300)" \
  || { fail "$epochs well-formed epoch lines, expected 2"; show train; }
[ "$(grep -c '^epoch' train.out)" -eq 2 ] || fail "other epoch lines: $(grep '^epoch' train.out)"

# The JSON log: 300 lines, each one object with every key, epochs 1..300 in order.
[ -f l.json ] || { fail "no l.json"; finish; }
lines=$(wc -l <l.json)
[ "$lines" -eq 300 ] && pass "l.json has 300 lines" || fail "l.json has $lines lines, expected 300"
KEYS='^\{"epoch": [0-9]+, "loss": [-0-9.e+]+, "accuracy": null, "val_loss": null, "val_accuracy": null, "lr": 2, "seconds": [0-9.]+\}$'
good=$(grep -cE "$KEYS" l.json)
[ "$good" -eq 300 ] && pass "every JSON line has epoch, loss, accuracy/val_* null, lr 2, seconds" \
  || { fail "$good of 300 JSON lines are well-formed"; grep -vE "$KEYS" l.json | head -3; }
order=$(sed 's/^{"epoch": \([0-9]*\),.*/\1/' l.json | awk '$1 != NR { bad = 1 } END { print bad + 0 }')
[ "$order" -eq 0 ] && pass "JSON epochs run 1..300" || fail "JSON epochs are not 1..300 in order"
if command -v python3 >/dev/null 2>&1; then
  if python3 -c 'import json,sys; [json.loads(l) for l in open("l.json")]' 2>/dev/null; then
    pass "python3 parses every JSON line"
  else fail "python3 cannot parse l.json"; fi
fi
last_json=$(tail -n 1 l.json | sed 's/.*"loss": \([^,]*\),.*/\1/')
last_line=$(last_value train.out "final loss ")
holds 'a - b < 1e-6 && b - a < 1e-6' a="$last_json" b="$last_line" \
  && pass "the last JSON loss ($last_json) is the final loss ($last_line)" \
  || fail "the last JSON loss $last_json differs from the final loss $last_line"

# The SVG: well-formed, with a viewBox, one polyline (loss) of 300 points, axes' labels, legend.
[ -f p.svg ] || { fail "no p.svg"; finish; }
if command -v xmllint >/dev/null 2>&1; then
  if xmllint --noout p.svg 2>xmllint.err; then pass "xmllint parses p.svg"
  else fail "xmllint rejects p.svg: $(head -3 xmllint.err)"; fi
else
  opens=$(grep -o '<[a-z]' p.svg | wc -l); closes=$(grep -oE '</[a-z]|/>' p.svg | wc -l)
  [ "$opens" -eq "$closes" ] && pass "p.svg: $opens elements, all closed" \
    || fail "p.svg: $opens elements, $closes closed"
fi
contains p.svg 'viewBox="0 0 ' "p.svg has a viewBox"
polys=$(grep -c '<polyline' p.svg)
[ "$polys" -eq 1 ] && pass "one polyline (loss)" || fail "$polys polylines, expected 1"
points=$(grep '<polyline' p.svg | sed 's/.*points="\([^"]*\)".*/\1/' | tr ' ' '\n' | grep -c ',')
[ "$points" -eq 300 ] && pass "the loss polyline has 300 points" \
  || fail "the loss polyline has $points points, expected 300"
contains p.svg '>epoch<' "p.svg labels the epoch axis"
contains p.svg '>loss</text>' "p.svg has a legend entry for loss"
ls -A | grep -q 'p\.svg\.tmp' && fail "a temporary file of the plot is left: $(ls -A)"

# ---- eval, info ----
run eval ./xor eval
expect_rc eval 0 "./xor eval"
if grep -qE '^loss [0-9]+\.[0-9]{6}$' eval.out && [ "$(wc -l <eval.out)" -eq 4 ] &&
   grep -qE '^mae [0-9.e-]+$' eval.out && grep -qE '^rmse [0-9.e-]+$' eval.out &&
   grep -qE '^r2 -?[0-9]+\.[0-9]{6}$' eval.out; then
  pass "eval prints 'loss X', then mae, rmse and r2 (a regression: no accuracy, no confusion matrix)"
else fail "eval printed: $(cat eval.out)"; fi
holds 'a - b < 1e-4 && b - a < 1e-4' a="$(last_value eval.out "loss ")" b="$last_line" \
  && pass "eval's loss on the table is the final training loss" \
  || fail "eval's loss $(cat eval.out) differs from the final loss $last_line"

run info ./xor info
expect_rc info 0 "./xor info"
grep -qE '^A1 +dense\+sigmoid +\(N, 2\) +6 ' info.out && pass "info: A1 dense+sigmoid (N, 2) with 6 parameters" \
  || { fail "info has no row 'A1 dense+sigmoid (N, 2) 6 ...'"; show info; }
grep -qE '^A2 +dense\+sigmoid +\(N, 1\) +3 ' info.out && pass "info: A2 dense+sigmoid (N, 1) with 3 parameters" \
  || { fail "info has no row 'A2 dense+sigmoid (N, 1) 3 ...'"; show info; }
grep -qE '^Total +9 +[0-9,]+$' info.out && pass "info: 9 parameters in total" \
  || { fail "info has no 'Total 9 FLOPs' row"; show info; }
grep -qE '^  parameters +9 floats +36 B$' info.out && pass "info: memory of the parameters" \
  || { fail "info has no memory line for the parameters"; show info; }
contains info.out "peak (workspace)" "info: the peak memory"

# ---- predict - : four rows on standard input ----
printf '0 0\n0,1\n1, 0\n1 1\n' >rows.txt
run stdin sh -c './xor predict - <rows.txt'
expect_rc stdin 0 "./xor predict - (4 rows on stdin)"
rounded=$(awk '{ printf "%d", ($1 + 0 >= 0.5) }' stdin.out)
[ "$rounded" = "0110" ] && pass "predict - rounds to XOR's table (0110)" \
  || { fail "predict - gives '$rounded', expected 0110"; show stdin; }
one=$(./xor predict 0 1)
[ "$(sed -n 2p stdin.out)" = "$one" ] && pass "predict - agrees with predict 0 1" \
  || fail "predict - row 2 '$(sed -n 2p stdin.out)' differs from predict 0 1 '$one'"
printf '0 0\n1 x\n' >badrows.txt
run badstdin sh -c './xor predict - <badrows.txt'
expect_rc badstdin 1 "./xor predict - with a bad line"
contains badstdin.err "line 2" "the bad line is named by its number"

# ---- flags that override the train block ----
run flags ./xor train --epochs 3 --batch 2 --lr 0.5 --seed 7 --threads 1 --save w.safetensors
expect_rc flags 0 "./xor train --epochs 3 --batch 2 --lr 0.5 --seed 7 --threads 1 --save PATH"
contains flags.out "epoch 3/3  loss " "--epochs 3 trains three epochs"
[ -f w.safetensors ] && pass "--save wrote w.safetensors" || fail "no w.safetensors"
# Threads share each kernel's outputs without changing any element's arithmetic: the weights
# after training on 1, 2 and 3 threads are the same bytes.
for t in 1 2 3; do
  run "threads$t" ./xor train --epochs 500 --seed 3 --threads "$t" --save "t$t.safetensors"
  expect_rc "threads$t" 0 "./xor train --threads $t"
done
cmp -s t1.safetensors t2.safetensors && cmp -s t1.safetensors t3.safetensors \
  && pass "training on 1, 2 and 3 threads gives bit-identical weights" \
  || fail "the weights differ between 1, 2 and 3 threads"
# Far more threads than CPUs: clamped with a note, never a run that spins for minutes. XOR is
# too small to share, so the pool runs it on one thread: within 2x of --threads 1 (plus 50 ms
# for starting and timing the threads).
cpus=$(nproc)
ms() { echo $(($(date +%s%N) / 1000000)); }
t0=$(ms); run t1long ./xor train --epochs 20000 --seed 3 --threads 1 --save l1.safetensors; t1=$(ms)
run t64 ./xor train --epochs 20000 --seed 3 --threads 64 --save l64.safetensors; t2=$(ms)
expect_rc t64 0 "./xor train --threads 64"
[ "$cpus" -lt 64 ] && contains t64.err "note: --threads 64 is more than the $cpus CPUs this process can use; training on $cpus" \
  "--threads 64 on $cpus CPUs is clamped with a note"
cmp -s l1.safetensors l64.safetensors && pass "--threads 64 writes the same bytes as --threads 1" \
  || fail "the weights differ between --threads 64 and 1"
holds 'b <= 2 * a + 50' a=$((t1 - t0)) b=$((t2 - t1)) \
  && pass "--threads 64 took $((t2 - t1)) ms, --threads 1 $((t1 - t0)) ms" \
  || fail "--threads 64 took $((t2 - t1)) ms, more than 2x --threads 1's $((t1 - t0)) ms + 50"
run init ./xor train --epochs 1 --init xor.safetensors --save w2.safetensors
expect_rc init 0 "./xor train --init xor.safetensors"
holds 'v + 0 < 0.05' v="$(last_value init.out "final loss ")" \
  && pass "--init starts from the trained weights (loss $(last_value init.out "final loss "))" \
  || { fail "--init did not start from the trained weights"; show init; }

# ---- bad command lines: exit 2 with a hint ----
bad() { # NAME WANT_RC TEXT ARGS...
  name=$1; want=$2; text=$3; shift 3
  run "$name" ./xor "$@"
  expect_rc "$name" "$want" "./xor $*"
  contains "$name.err" "$text" "./xor $*: says '$text'"
}
bad threads 2 "--threads: at most 256, got 1000" train --threads 1000
bad batch 2 "compiled for batches of at most 4 rows (train block batch = 4): its workspace is laid out for that many rows when it is compiled; to train with 8, set batch = 8 in the train block of " train --batch 8
bad typo 2 "did you mean 'train'?" trian
bad flag 2 "did you mean '--epochs'?" train --epoch 3
bad hint 2 "Try './xor --help' for usage." train --frobnicate
bad table 2 "trains on a data table" train --data x.csv
bad both 2 "--resume and --init cannot be used together" train --resume a --init b
bad noweights 3 "nope.safetensors" eval --weights nope.safetensors
bad nodir 3 "cannot write 'no/such/dir/p.svg'" train --plot no/such/dir/p.svg
run trainhelp ./xor train --help
expect_rc trainhelp 0 "./xor train --help"
for flag in --epochs --batch --lr --seed --threads --data --validate --save --resume --init \
            --log-json --plot 130; do
  grep -qF -- "$flag" trainhelp.out || fail "train --help does not mention $flag"
done
finish
