#!/bin/sh
# split.sh NNC SOURCE_DIR: validation_split on a CSV sorted by class holds out the last rows,
# all of one class, and training says so (with the fix); split_shuffle = true holds out a seeded
# random part (no warning, several classes), the same rows for train and eval, the same rows
# run after run; held-out rows far from the training rows' classes are warned about too; an
# interleaved file gets no warning.
NNC=$1
SRC=$2
. "$(dirname "$0")/lib.sh"

classifier_model m >sorted.nn
cat >>sorted.nn <<'NN'
train m {
  data      = csv("sorted.csv", header = true, classes = ["lo", "mid", "hi"])
  validation_split = 0.2
  optimizer = adam(lr = 0.05)
  epochs    = 5
  batch     = 4
  seed      = 3
}
NN
# 20 rows of each class, in class order; the interleaved file has the same rows mixed.
awk 'BEGIN { print "u,v,label"; split("lo mid hi", name, " ");
             for (c = 1; c <= 3; c++) for (i = 0; i < 20; i++)
               printf "%.2f,%.2f,%s\n", (c == 2) + (i % 5) / 25, (c == 3) + (i % 4) / 25, name[c] }' >sorted.csv
{ head -n 1 sorted.csv; tail -n +2 sorted.csv | awk '{ row[NR] = $0 } END { for (i = 1; i <= 20; i++) for (c = 0; c < 3; c++) print row[c * 20 + i] }'; } >mixed.csv
sed 's/sorted.csv/mixed.csv/' sorted.nn >mixed.nn
sed 's/  validation_split = 0.2/  validation_split = 0.2\n  split_shuffle = true/' sorted.nn >shuffled.nn
for m in sorted mixed shuffled; do
  run "compile_$m" "$NNC" "$m.nn" -o "$m"
  expect_rc "compile_$m" 0 "nnc $m.nn"
done

run sorted ./sorted train
expect_rc sorted 0 "training on the sorted file"
contains sorted.err "warning: the 12 rows validation_split holds out (the last of the file) are all of class hi: the file may be sorted by class; set split_shuffle = true to hold out a seeded random part instead" \
  "the sorted file's held-out rows are named as all of one class, with the fix"
# The last 12 rows are 6 mid and 6 hi: two classes, but no lo, which is 42% of the rest.
{ head -n 1 sorted.csv; tail -n +2 sorted.csv | awk '{ row[NR] = $0 } END {
    for (i = 1; i <= 20; i++) print row[i]; for (i = 21; i <= 34; i++) print row[i];
    for (i = 41; i <= 54; i++) print row[i];
    for (i = 0; i < 6; i++) { print row[35 + i]; print row[55 + i] } }'; } >skewed.csv
sed 's/sorted.csv/skewed.csv/' sorted.nn >skewed.nn
run compile_skewed "$NNC" skewed.nn -o skewed
run skewed ./skewed train
expect_rc skewed 0 "training on the skewed file"
contains skewed.err "warning: the 12 rows validation_split holds out (the last of the file) have other classes than the training rows (class lo: 0% of them, 42% of the training rows)" \
  "held-out rows whose classes are far from the training rows' are named"
run mixed ./mixed train
expect_rc mixed 0 "training on the interleaved file"
[ -s mixed.err ] && { fail "the interleaved file got a warning"; show mixed; } || pass "the interleaved file gets no warning"

run shuffled ./shuffled train --save s1.safetensors
expect_rc shuffled 0 "training with split_shuffle"
[ -s shuffled.err ] && { fail "split_shuffle still warned"; show shuffled; } || pass "split_shuffle: no warning"
run shuffled2 ./shuffled train --save s2.safetensors
cmp -s s1.safetensors s2.safetensors && pass "split_shuffle holds out the same rows run after run (same weights)" \
  || fail "two runs with split_shuffle differ"
run eval ./shuffled eval --weights s1.safetensors
expect_rc eval 0 "eval with split_shuffle"
classes=$(awk '/^(lo|mid|hi) / && $NF > 0 { n++ } END { print n + 0 }' eval.out)
[ "$classes" -ge 2 ] && pass "eval's held-out rows have $classes classes" \
  || { fail "eval's held-out rows have $classes classes"; show eval; }
holds 'a - b < 1e-6 && b - a < 1e-6' a="$(last_value shuffled.out "final val_loss ")" b="$(last_value eval.out "loss ")" \
  && pass "eval evaluates the rows training held out (the same loss)" \
  || { fail "training's val_loss and eval's loss differ"; show shuffled; show eval; }
finish
