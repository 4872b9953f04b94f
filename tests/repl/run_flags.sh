#!/bin/sh
# run_flags.sh NNC SRCDIR: every training flag works through `nnc run` as through the compiled
# program (one parser, runtime/cli_args.c, serves both; flags.sh checks they accept the same
# options). The same run, with every flag that changes what a run writes, through both: the
# same output, JSON log, plot and weights.
. "$2/tests/e2e/lib.sh"
NNC=$1
mkdir data && cp "$2/examples/data/flats.csv" data/ && cp "$2/examples/flats.nn" .
"$NNC" flats.nn -o flats || { fail "nnc compiles flats.nn"; finish; }
./flats train --epochs 2 --save init.safetensors >/dev/null 2>&1
head -n 300 data/flats.csv >t.csv
{ head -n 1 data/flats.csv; tail -n 100 data/flats.csv; } >v.csv
for who in prog jit; do
  mkdir "$who"
  set -- --epochs 6 --batch 16 --lr 0.005 --seed 7 --threads 2 --log-every 2 --data t.csv \
    --validate v.csv --init init.safetensors --save "$who/w.safetensors" --weights-only \
    --log-json "$who/log.json" --plot "$who/plot.svg"
  if [ "$who" = prog ]; then run "$who" ./flats train "$@"; else run "$who" "$NNC" run flats.nn train "$@"; fi
  expect_rc "$who" 0 "$who: train with every flag"
  sed -E 's/  [0-9]+\.[0-9]+s$//; s| [a-z]+/w\.safetensors| W|' "$who.out" >"$who.cut"
  sed -E 's/"seconds": [0-9.e-]+/"seconds": S/' "$who/log.json" >"$who/log.cut"
done
if cmp -s prog.cut jit.cut && [ "$(grep -c '^epoch' jit.cut)" -eq 4 ]; then
  pass "nnc run prints what ./flats prints (--log-every 2: 4 epoch lines)"
else fail "outputs differ"; diff prog.cut jit.cut | head; fi
if cmp -s prog/log.cut jit/log.cut && [ "$(wc -l <jit/log.cut)" -eq 6 ]; then
  pass "--log-json: the same 6 lines"
else fail "--log-json logs differ"; diff prog/log.cut jit/log.cut | head; fi
[ -s jit/plot.svg ] && grep -q '<svg' jit/plot.svg && pass "--plot writes an SVG through nnc run" \
  || fail "no plot from nnc run"
cmp -s prog/w.safetensors jit/w.safetensors && pass "--weights-only (with --init, --threads 2, --seed, --lr, --batch, --data, --validate): the same bytes" \
  || fail "the weights of nnc run and ./flats differ"
# --resume: a full checkpoint continued through both.
./flats train --epochs 4 --save full.safetensors >/dev/null 2>&1
cp full.safetensors full2.safetensors
run rp ./flats train --epochs 6 --resume full.safetensors --save rp.safetensors
run rj "$NNC" run flats.nn train --epochs 6 --resume full2.safetensors --save rj.safetensors
expect_rc rj 0 "nnc run ... --resume"
cmp -s rp.safetensors rj.safetensors && pass "--resume through nnc run continues as ./flats does" \
  || fail "resumed weights differ"
finish
