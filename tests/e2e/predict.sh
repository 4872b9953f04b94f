#!/bin/sh
# predict.sh NNC SOURCE_DIR: predicting on new data and eval's metrics (issue 13, items 7-9, 11).
# predict --data reads files without targets (CSV of the input columns alone, with or without a
# header; IDX images without labels) as well as files laid out like the training data; --out
# writes CSV atomically; `predict -` answers each line before the next arrives (a coprocess
# through two fifos) and a bad line stops it after the answers before it; class names (csv and
# idx `classes`) and --probs; eval's per-class scores and regression errors, text and --json,
# checked against numpy when /usr/bin/python3 has it.
NNC=$1
# shellcheck disable=SC2034  # the models are written here
SRC=$2
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

clusters_model_and_data
run compile "$NNC" m.nn -o m
expect_rc compile 0 "nnc m.nn"
run train ./m train
expect_rc train 0 "./m train"

# ---- 7: files without targets ----
printf '0,0\n1,0\n0,1\n' >bare.csv
printf 'u,v\n0,0\n1,0\n0,1\n' >named.csv
printf '0,0,lo\n1,0,mid\n0,1,hi\n' >labelled.csv # a labelled file without a header
run bare ./m predict --data bare.csv
expect_rc bare 0 "predict --data of the input columns alone"
[ "$(sed 's/.*  class //' bare.out | tr '\n' ' ')" = "lo mid hi " ] \
  && pass "one answer per row, with the class names" || { fail "predict --data bare.csv"; show bare; }
run named ./m predict --data named.csv
expect_rc named 0 "predict --data with a header of its own"
cmp -s bare.out named.out && pass "the header is detected and skipped" || { fail "named.csv"; show named; }
run labelled ./m predict --data labelled.csv
expect_rc labelled 0 "predict --data of a labelled file without the train block's header"
cmp -s bare.out labelled.out && pass "a first row of numbers is data, whatever header = says" \
  || { fail "labelled.csv"; show labelled; }
[ "$(sed -n 2p bare.out)" = "$(./m predict 1 0)" ] && pass "row 2 = predict 1 0" \
  || fail "predict --data row 2 differs from predict 1 0"
printf '0,0\n1\n' >ragged.csv
run ragged ./m predict --data ragged.csv
expect_rc ragged 1 "a ragged file of inputs"
contains ragged.err "line 2: ragged row" "the ragged line is named"

# --out: CSV, a header naming the columns; atomic; a failed run leaves the old file.
run out ./m predict --data bare.csv --out p.csv
expect_rc out 0 "predict --data --out p.csv"
[ ! -s out.out ] && pass "--out prints nothing on stdout" || fail "--out printed on stdout"
[ "$(head -n 1 p.csv)" = "lo,mid,hi,class" ] && pass "the CSV header names the classes" \
  || fail "p.csv header: $(head -n 1 p.csv)"
[ "$(tail -n +2 p.csv | cut -d, -f4 | tr '\n' ' ')" = "lo mid hi " ] && pass "the CSV's classes" \
  || fail "p.csv: $(cat p.csv)"
cp p.csv before.csv
run outbad ./m predict --data ragged.csv --out p.csv
expect_rc outbad 1 "--out with a bad data file"
cmp -s p.csv before.csv && pass "a failed predict leaves the --out file as it was" || fail "p.csv changed"
ls p.csv.tmp.* >/dev/null 2>&1 && fail "a temporary file was left" || pass "no temporary file left"
run outdir ./m predict 1 0 --out nodir/p.csv
expect_rc outdir 3 "--out into a missing directory"
contains outdir.err "cannot write 'nodir/p.csv'" "the unwritable path is named"

# ---- 9: class names and --probs ----
run probs ./m predict --probs 1 0
expect_rc probs 0 "predict --probs"
grep -qE '^lo=[0-9.e-]+ mid=[0-9.e-]+ hi=[0-9.e-]+  class mid$' probs.out \
  && pass "--probs labels each probability with its class" || { fail "--probs"; show probs; }

# ---- 8: standard input, streamed ----
# The coprocess writes a line and reads its answer before it writes the next: this hangs (and
# times out) unless every answer is written and flushed as its line arrives.
mkfifo to from
cat >client.sh <<'SH'
./m predict - <to >from 2>stream.err &
pid=$!
exec 3>to 4<from
echo "0 0" >&3; read -r a <&4; echo "1: $a"
echo "1, 0" >&3; read -r a <&4; echo "2: $a"
echo "0 zz" >&3; exec 3>&-
read -r a <&4; echo "3: [$a]"
wait $pid; echo "rc $?"
SH
run stream timeout 30 sh client.sh
expect_rc stream 0 "a coprocess talks to predict - line by line"
grep -q '^1: .*  class lo$' stream.out && grep -q '^2: .*  class mid$' stream.out \
  && pass "each line answered before the next was written" || { fail "streaming"; show stream; }
grep -q '^3: \[\]$' stream.out && grep -q '^rc 1$' stream.out \
  && pass "a bad line ends it with exit 1" || { fail "bad line"; show stream; }
contains stream.err "standard input, line 3: value 2 ('zz') is not a finite number" "the bad line's number"
printf '0 0\n1 0\nbad\n0 1\n' | ./m predict - >part.out 2>part.err
[ $? -eq 1 ] && [ "$(wc -l <part.out)" -eq 2 ] && pass "the answers before a bad line are kept" \
  || fail "predict - with a bad third line: $(cat part.out part.err)"

# ---- 11: eval's metrics against numpy ----
# An undertrained model (2 epochs) gets some rows wrong, so the figures are not all 1.
sed 's/epochs    = 80/epochs    = 2/' m.nn >w.nn
"$NNC" w.nn -o w >/dev/null 2>&1 && ./w train >/dev/null 2>&1 || fail "the undertrained model"
run weval ./w eval --data a.csv
expect_rc weval 0 "eval of a classifier"
grep -q '^class  *precision  recall      f1  support$' weval.out && grep -q '^macro avg ' weval.out \
  && pass "eval prints the per-class scores" || { fail "per-class table"; show weval; }
run wjson ./w eval --data a.csv --json
expect_rc wjson 0 "eval --json"
./w predict --data a.csv --out wp.csv
if $PY -c 'import numpy' 2>/dev/null; then
  $PY - wjson.out a.csv wp.csv <<'PY' >check.out 2>&1 && pass "classifier metrics agree with numpy" || { fail "classifier metrics"; cat check.out; }
import json, sys, numpy as np
got = json.load(open(sys.argv[1]))
names = ["lo", "mid", "hi"]
true = [names.index(l.strip().split(",")[2]) for l in open(sys.argv[2]).readlines()[1:]]
pred = [names.index(l.strip().split(",")[3]) for l in open(sys.argv[3]).readlines()[1:]]
cm = np.zeros((3, 3), int)
for t, p in zip(true, pred): cm[t, p] += 1
assert got["confusion"] == cm.tolist(), (got["confusion"], cm)
tp = np.diag(cm).astype(float)
prec = np.divide(tp, cm.sum(0), out=np.zeros(3), where=cm.sum(0) > 0)
rec = np.divide(tp, cm.sum(1), out=np.zeros(3), where=cm.sum(1) > 0)
f1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros(3), where=prec + rec > 0)
for i, c in enumerate(got["classes"]):
    assert c["name"] == names[i]
    assert np.allclose([c["precision"], c["recall"], c["f1"]], [prec[i], rec[i], f1[i]]), (c, prec, rec, f1)
    assert c["support"] == cm[i].sum()
m = got["macro_avg"]
assert np.allclose([m["precision"], m["recall"], m["f1"]], [prec.mean(), rec.mean(), f1.mean()])
assert abs(got["accuracy"] - tp.sum() / cm.sum()) < 1e-9
print(cm.tolist(), prec, rec)
PY
else
  echo "numpy not found: classifier metrics not cross-checked"
fi

# A regression: eval's MAE, RMSE and R² against numpy on predict's outputs.
cat >r.nn <<'NN'
model r {
  input  x[2]
  target t[2]
  h = dense(x, 8, tanh)
  y = dense(h, 2)
  loss = mse(y, t)
  output y
}
train r {
  data      = csv("r.csv", header = true, targets = [2, 3])
  optimizer = adam(lr = 0.02)
  epochs    = 30
  batch     = 4
  seed      = 1
}
NN
{ echo "a,b,s,d"
  for i in 0 1 2 3 4 5 6 7 8 9 10 11; do
    awk -v i="$i" 'BEGIN { a = (i % 4) / 3; b = int(i / 4) / 2; printf "%g,%g,%g,%g\n", a, b, a + b, a - 2 * b }'
  done; } >r.csv
"$NNC" r.nn -o r >/dev/null 2>&1 && ./r train >/dev/null 2>&1 || fail "the regression model"
run rtext ./r eval
expect_rc rtext 0 "eval of a regression"
grep -qE '^mae [0-9.e-]+$' rtext.out && grep -qE '^rmse [0-9.e-]+$' rtext.out && grep -qE '^r2 -?[0-9.]+$' rtext.out \
  && pass "eval prints mae, rmse and r2" || { fail "regression text"; show rtext; }
run rjson ./r eval --json
./r predict --data r.csv --out rp.csv
[ "$(head -n 1 rp.csv)" = "y_0,y_1" ] && pass "a regression's CSV header" || fail "rp.csv: $(head -n 1 rp.csv)"
if $PY -c 'import numpy' 2>/dev/null; then
  $PY - rjson.out r.csv rp.csv <<'PY' >rcheck.out 2>&1 && pass "regression metrics agree with numpy" || { fail "regression metrics"; cat rcheck.out; }
import json, sys, numpy as np
got = json.load(open(sys.argv[1]))
t = np.loadtxt(sys.argv[2], delimiter=",", skiprows=1)[:, 2:4]
y = np.loadtxt(sys.argv[3], delimiter=",", skiprows=1)
e = y - t
r2 = np.mean(1 - (e ** 2).sum(0) / ((t - t.mean(0)) ** 2).sum(0))
want = [np.abs(e).mean(), np.sqrt((e ** 2).mean()), r2]
assert np.allclose([got["mae"], got["rmse"], got["r2"]], want, rtol=1e-5), (got, want)
print(got, want)
PY
fi

# ---- 9: IDX data without labels, with class names ----
if $PY -c 'import numpy' 2>/dev/null; then
  $PY - <<'PY'
import struct
imgs = [[0, 0, 0, 0], [255, 255, 255, 255], [0, 0, 255, 255], [255, 255, 0, 0]] * 3
labs = [0, 1, 2, 2] * 3
open("img.idx", "wb").write(struct.pack(">I", 0x803) + struct.pack(">III", len(imgs), 2, 2) + bytes(sum(imgs, [])))
open("lab.idx", "wb").write(struct.pack(">I", 0x801) + struct.pack(">I", len(labs)) + bytes(labs))
open("new.idx", "wb").write(struct.pack(">I", 0x803) + struct.pack(">III", 2, 2, 2) + bytes([255] * 4 + [0] * 4))
PY
  cat >i.nn <<'NN'
model i {
  input  x[4]
  target y : class(3)
  z = dense(x, 3)
  loss = cross_entropy(softmax(z), y)
  output softmax(z)
}
train i {
  data      = idx("img.idx", "lab.idx", scale = 1/255, classes = ["dark", "light", "half"])
  optimizer = adam(lr = 0.1)
  epochs    = 60
  batch     = 4
  seed      = 2
}
NN
  run icompile "$NNC" i.nn -o i
  expect_rc icompile 0 "idx(..., classes = [...]) compiles"
  ./i train >/dev/null 2>&1 || fail "training the idx model"
  run inew ./i predict --data new.idx
  expect_rc inew 0 "predict --data of IDX images without labels"
  [ "$(sed 's/.*  class //' inew.out | tr '\n' ' ')" = "light dark " ] \
    && pass "IDX images answered with their class names" || { fail "idx predict"; show inew; }
  run ilab ./i predict --data img.idx lab.idx
  expect_rc ilab 0 "predict --data of IDX images with labels"
  [ "$(wc -l <ilab.out)" -eq 12 ] && pass "12 answers" || fail "$(wc -l <ilab.out) answers"
  run ieval ./i eval
  grep -qE '^true\\pred +dark +light +half$' ieval.out \
    && pass "eval's confusion matrix names the IDX classes" || { fail "idx eval"; show ieval; }
  sed 's/"half"\]/"half", "other"]/' i.nn >i4.nn
  run i4 "$NNC" i4.nn -o i4
  expect_rc i4 1 "idx classes of the wrong count"
  contains i4.err "'classes' lists 4 names; target 'y' has 3 classes" "the count is checked"
fi
finish
