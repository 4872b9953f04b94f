#!/bin/sh
# resume.sh NNC SOURCE_DIR: what --resume does with the files of a run, on examples/flats.nn
# (validation split) and a small early-stopping model on the same data. A resumed run continues
# the --log-json log (the checkpoint's epochs stay, an interrupted run's later records go) and
# plots the whole history; resuming a run that had ended says what happened and what to do,
# prints its real figures (never nan) and leaves the file alone; a run's first save keeps the
# file it replaces as FILE.prev.
NNC=$1
SRC=$2
. "$(dirname "$0")/lib.sh"

compile_example compile flats flats

# epochs N FILE: the epoch numbers of a JSON log, one line "1 2 3 ..."
epochs() { sed 's/^{"epoch": \([0-9]*\),.*/\1/' "$1" | tr '\n' ' ' | sed 's/ $//'; }
# losses FILE: epoch and training loss of each record (timings differ between runs, and the
# validation runs on the logged epochs and a run's last one only)
losses() { sed 's/, "accuracy".*//' "$1"; }
# points SVG CURVE: the points of a curve of the plot
points() { grep -o "class=\"$2\"[^/]*points=\"[^\"]*\"" "$1" | sed 's/.*points="//; s/"$//' | wc -w; }

# ---- 13: the log and the plot go on where the checkpoint is ----
run six ./flats train --epochs 6 --save six.st --log-json l.json
expect_rc six 0 "./flats train --epochs 6 --log-json l.json"
cp l.json six.json
run ten ./flats train --epochs 10 --resume six.st --save ten.st --log-json l.json --plot p.svg
expect_rc ten 0 "./flats train --epochs 10 --resume six.st --log-json l.json --plot p.svg"
[ "$(epochs l.json)" = "1 2 3 4 5 6 7 8 9 10" ] && pass "the resumed log holds epochs 1..10" \
  || fail "the resumed log holds epochs '$(epochs l.json)', expected 1..10"
head -n 6 l.json | cmp -s - six.json && pass "the first run's 6 records are kept as written" \
  || fail "the first run's records changed"
[ "$(points p.svg loss)" -eq 10 ] && pass "the plot draws all 10 epochs" \
  || fail "the plot's loss curve has $(points p.svg loss) points, expected 10"
# A straight run of 10 epochs logs what the resumed one logged (resume is exact).
run straight ./flats train --epochs 10 --save straight.st --log-json s.json
[ "$(losses s.json)" = "$(losses l.json)" ] && pass "the resumed log's losses are a straight run's" \
  || fail "the resumed log's losses differ from a straight run's"
# Resuming six.st again with that full log: records 7..10 (past the checkpoint) are replaced.
run again ./flats train --epochs 10 --resume six.st --save again.st --log-json s.json
[ "$(epochs s.json)" = "1 2 3 4 5 6 7 8 9 10" ] \
  && pass "records past the checkpoint are dropped, not doubled" \
  || fail "the log holds epochs '$(epochs s.json)' after resuming over a longer log"
printf '{"epoch": 1, "loss": 1}\nnot json\n' >bad.json
run bad ./flats train --epochs 10 --resume six.st --save bad.st --log-json bad.json
expect_rc bad 3 "a --log-json that is not a log"
contains bad.err "cannot continue the log 'bad.json': line 2 is not an epoch record" \
  "says which line is not a record"
run noplotlog ./flats train --epochs 8 --resume six.st --save eight.st --plot q.svg
contains noplotlog.err "pass the run's --log-json to plot its whole history" \
  "--plot without the log: says the plot holds this run's epochs only"

# ---- 14: resuming a run that had ended ----
cp ten.st ten.copy
final=$(last_value ten.out "final val_loss ")
run done ./flats train --epochs 10 --resume ten.st --save ten.st
expect_rc done 0 "resuming a finished run"
contains done.out "training already finished at epoch 10 of 10; pass --epochs N (more than 10)" \
  "says the run had finished and what to do"
grep -qi nan done.out && fail "prints nan: $(cat done.out)" || pass "no nan"
[ "$(last_value done.out "final val_loss ")" = "$final" ] \
  && pass "the final val_loss is the run's ($final)" \
  || fail "final val_loss '$(last_value done.out "final val_loss ")', the run's was $final"
cmp -s ten.st ten.copy && [ ! -e ten.st.prev ] && pass "the checkpoint is left as it was" \
  || fail "the checkpoint was rewritten"

sed -e "s|data/flats.csv|$SRC/examples/data/flats.csv|" -e 's/epochs    = 300/epochs = 200/' \
    -e 's/log_every = 50/early_stopping = 3\n  log_every = 10/' -e 's/lr = 0.01/lr = 0.05/' \
    "$SRC/examples/flats.nn" >es.nn
run compile_es "$NNC" es.nn -o es
expect_rc compile_es 0 "nnc es.nn (early_stopping = 3)"
run es ./es train --save es.st
expect_rc es 0 "./es train"
contains es.out "early stopping at epoch" "the run stops early"
stop=$(sed -n 's/^early stopping at epoch \([0-9]*\);.*/\1/p' es.out)
best=$(sed -n 's/.*restored the weights of epoch \([0-9]*\) .*/\1/p' es.out)
run more ./es train --resume es.st --epochs 400 --save es.st
expect_rc more 0 "resuming an early-stopped run with more epochs"
contains more.out "this run stopped early at epoch $stop (no val_loss improvement for $((stop - best)) epochs after epoch $best)" \
  "says the run stopped early, when and why"
contains more.out "start a new run from its weights with --init es.st" "says what to do"
[ "$(last_value more.out "final val_loss ")" = "$(last_value es.out "final val_loss ")" ] \
  && pass "the final val_loss is the restored best epoch's" || fail "another final val_loss"

# ---- 15: the previous weights file is kept ----
run good ./flats train --epochs 20
cp flats.safetensors good.st
run quick ./flats train --epochs 3
expect_rc quick 0 "a quick run over the default weights file"
cmp -s flats.safetensors.prev good.st && pass "the previous weights are kept as flats.safetensors.prev" \
  || fail "flats.safetensors.prev is not the previous file"
cmp -s flats.safetensors good.st && fail "the weights file was not replaced" \
  || pass "the weights file holds the new run"
ls | grep -q '\.tmp\.' && fail "temporary files left: $(ls | grep '\.tmp\.')" || pass "no temporary files left"

finish
