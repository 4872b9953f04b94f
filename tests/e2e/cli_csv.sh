#!/bin/sh
# cli_csv.sh NNC SOURCE_DIR: a classifier trained on a CSV file with named classes, written here:
# --data and --validate replace the train block's files, eval prints the loss, the accuracy and
# a confusion matrix labelled with the class names, predict --data predicts every row of a file,
# and the exit codes of missing and bad files.
NNC=$1
# shellcheck disable=SC2034  # the model is written here, not taken from SOURCE_DIR
SRC=$2
. "$(dirname "$0")/lib.sh"

clusters_model_and_data
# The same clusters, and a file where every row is labelled lo.
cp a.csv b.csv
{ echo "u,v,label"; tail -n +2 a.csv | sed 's/,[a-z]*$/,lo/'; } >lo.csv

run compile "$NNC" m.nn -o m
expect_rc compile 0 "nnc m.nn"
[ -x m ] || { fail "no executable 'm' was written"; finish; }

# --data replaces the CSV: move a.csv away, train on b.csv, validate on lo.csv.
mv a.csv gone.csv
run missing ./m train --epochs 1
expect_rc missing 3 "./m train without its data file"
contains missing.err "a.csv': No such file or directory" "the missing file is named"
run train ./m train --data b.csv --validate lo.csv --log-json l.json
expect_rc train 0 "./m train --data b.csv --validate lo.csv"
grep -qE '^epoch 80/80  loss [0-9.]+  accuracy 1\.0000  val_loss [0-9.]+  val_accuracy 0\.3333  [0-9]+\.[0-9]{2}s$' train.out \
  && pass "trained on b.csv (accuracy 1) and validated on lo.csv (a third are lo)" \
  || { fail "no 'epoch 80/80 ... accuracy 1.0000 ... val_accuracy 0.3333' line"; show train; }
[ "$(wc -l <l.json)" -eq 80 ] && pass "80 JSON lines" || fail "l.json has $(wc -l <l.json) lines"
# Validation runs on the logged epochs (1, 40, 80): there val_loss is a number, elsewhere null.
vals=$(grep -vc '"val_loss": null' l.json)
[ "$vals" -eq 3 ] && pass "JSON val_loss on the 3 logged epochs, null on the others" \
  || fail "$vals JSON lines have a val_loss, expected 3"
tail -n 1 l.json | grep -qE '"val_accuracy": 0\.333333333' && pass "JSON val_accuracy of the last epoch" \
  || fail "last JSON line: $(tail -n 1 l.json)"

# eval: default data (the train block's a.csv) is gone: exit 3; --data b.csv: all correct.
run evalmissing ./m eval
expect_rc evalmissing 3 "./m eval without the train block's file"
run eval ./m eval --data b.csv
expect_rc eval 0 "./m eval --data b.csv"
cat >want.txt <<'TXT'
accuracy 1.0000
confusion matrix (rows: true class, columns: predicted class)
true\pred   lo  mid   hi
       lo    4    0    0
      mid    0    4    0
       hi    0    0    4
class      precision  recall      f1  support
lo            1.0000  1.0000  1.0000        4
mid           1.0000  1.0000  1.0000        4
hi            1.0000  1.0000  1.0000        4
macro avg     1.0000  1.0000  1.0000       12
TXT
if grep -qE '^loss [0-9]+\.[0-9]{6}$' eval.out && tail -n +2 eval.out | cmp -s - want.txt; then
  pass "eval: loss, accuracy 1.0000, a 3x3 confusion matrix and the scores, with the class names"
else fail "eval printed:"; sed 's/^/  | /' eval.out; fi
run evallo ./m eval --data lo.csv
expect_rc evallo 0 "./m eval --data lo.csv"
if sed -n '5,7p' evallo.out | awk '{ print $2, $3, $4 }' | tr '\n' ' ' | grep -qx '4 4 4 0 0 0 0 0 0 '; then
  pass "eval on lo.csv: every row is true 'lo', predicted lo, mid, hi 4 times each"
else fail "eval --data lo.csv printed:"; sed 's/^/  | /' evallo.out; fi

# predict --data: one line per row of the file.
run pdata ./m predict --data b.csv
expect_rc pdata 0 "./m predict --data b.csv"
classes=$(sed 's/.*  class //' pdata.out | tr -d '\n')
[ "$classes" = "lolololomidmidmidmidhihihihi" ] && pass "predict --data: 12 rows, classes named lo x4, mid x4, hi x4" \
  || { fail "predict --data classes '$classes'"; show pdata; }
[ "$(sed -n 5p pdata.out)" = "$(./m predict 1 0)" ] && pass "predict --data row 5 = predict 1 0" \
  || fail "predict --data row 5 differs from predict 1 0"
printf 'u,v,label\n1,zz,lo\n' >bad.csv
run pbad ./m predict --data bad.csv
expect_rc pbad 1 "./m predict --data bad.csv (a bad cell)"
contains pbad.err "bad.csv" "the bad file is named"
run pnone ./m predict --data nowhere.csv
expect_rc pnone 3 "./m predict --data nowhere.csv"
run pboth ./m predict --data b.csv 1 0
expect_rc pboth 2 "./m predict --data b.csv 1 0 (two sources of inputs)"
finish
