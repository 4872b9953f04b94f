# Shared helpers of the end-to-end tests (sourced). Each test runs in a fresh temp directory
# (removed on exit) and counts failures; `finish` prints the verdict and sets the exit code.
set -u
FAILS=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nnc-e2e.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT INT TERM
cd "$WORK" || exit 1

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }

# run NAME CMD...: runs CMD with stdout in NAME.out, stderr in NAME.err and its status in RC.
run() {
  name=$1; shift
  "$@" >"$name.out" 2>"$name.err"
  RC=$?
}

# show NAME: prints what a run printed, for a failure message.
show() {
  echo "  --- stdout of $1:"; sed 's/^/  | /' "$1.out" | head -30
  echo "  --- stderr of $1:"; sed 's/^/  | /' "$1.err" | head -30
}

# expect_rc NAME WANT WHAT: the last run's exit status must be WANT.
expect_rc() {
  if [ "$RC" -eq "$2" ]; then pass "$3: exit $RC"; else fail "$3: exit $RC, expected $2"; show "$1"; fi
}

# contains NAME.out|NAME.err TEXT WHAT: a fixed string must occur in the file.
contains() {
  if grep -qF -- "$2" "$1"; then pass "$3"; else
    fail "$3: '$2' not found in $1"; sed 's/^/  | /' "$1" | head -30
  fi
}

# holds 'COND' NAME=VALUE...: true when the awk condition COND holds with those variables set,
# e.g. holds 'l + 0 < 0.01' l="$loss". awk reads an empty value as 0: check numbers first.
holds() {
  _cond=$1; shift
  _n=$#
  while [ "$_n" -gt 0 ]; do set -- "$@" -v "$1"; shift; _n=$((_n - 1)); done
  awk "$@" "BEGIN { exit !($_cond) }" </dev/null
}

# is_number TEXT: TEXT is one decimal number as the programs print it (%f, %g), on one line.
is_number() {
  case $1 in *"
"*) return 1 ;; esac
  printf '%s\n' "$1" | grep -qE '^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$'
}

# last_value FILE PREFIX: the text after PREFIX on the last line of FILE that starts with it, up
# to the next blank ("final loss 0.1" -> 0.1 for PREFIX "final loss "); empty when none does.
last_value() {
  awk -v p="$2" 'index($0, p) == 1 { v = substr($0, length(p) + 1); sub(/[ \t].*/, "", v) }
                 END { print v }' "$1"
}

# probs NAME K: checks that NAME.out is one line "p1 ... pK  class J", as a classifier's predict
# prints it: K probabilities in [0, 1] that sum to 1 within 1e-4, J the index (from 0) of the
# largest. Prints "J SUM" and returns 0, or prints what is wrong and returns 1.
probs() {
  awk -v k="$2" '
    END { if (NR != 1) { print "printed " NR " lines, expected 1"; exit 1 } }
    NR == 1 {
      if (split($0, part, "  class ") != 2 || part[2] !~ /^[0-9]+$/) {
        print "the line does not end in \"  class K\""; exit 1 }
      m = split(part[1], p, " ")
      if (m != k) { print m " values, expected " k; exit 1 }
      s = 0; best = 1
      for (i = 1; i <= m; i++) {
        if (p[i] !~ /^[0-9.eE+-]+$/ || p[i] + 0 < 0 || p[i] + 0 > 1) {
          print "value " i " (" p[i] ") is not a probability"; exit 1 }
        s += p[i]; if (p[i] + 0 > p[best] + 0) best = i
      }
      if (s < 1 - 1e-4 || s > 1 + 1e-4) { print "the values sum to " s; exit 1 }
      if (part[2] + 0 != best - 1) { print "class " part[2] " is not the largest value (" best - 1 ")"; exit 1 }
      print part[2], s
    }' "$1.out"
}

# skip WHY: the test cannot run here (ctest reports it as skipped: SKIP_RETURN_CODE 77).
skip() { echo "SKIP: $*"; exit 77; }

# sanitized: nnc (and so the programs it links) runs under AddressSanitizer, which reserves
# terabytes of shadow address space and cannot start under a `ulimit -v`; a C program linked
# against that libnnrt.a needs the sanitizers too.
sanitized() { ldd "$NNC" 2>/dev/null | grep -q 'libasan\.so'; }

# compile_example NAME EXAMPLE EXE: runs "$NNC $SRC/examples/EXAMPLE.nn -o EXE" as run NAME, which
# must succeed and write the executable EXE; without it the test ends here (finish).
compile_example() {
  run "$1" "$NNC" "$SRC/examples/$2.nn" -o "$3"
  expect_rc "$1" 0 "nnc examples/$2.nn -o $3"
  [ -x "$3" ] || { fail "no executable '$3' was written"; finish; }
}

# check_number NAME WHAT VALUE COND DESC: VALUE (what run NAME printed as WHAT) must be a number
# (is_number) for which the awk condition COND on v holds; DESC says the condition in words.
# Shows run NAME's output when not.
check_number() {
  if ! is_number "$3"; then
    fail "$2: '$3' is not a number, expected one $5"; show "$1"
  elif holds "$4" v="$3"; then
    pass "$2 $3 $5"
  else
    fail "$2 $3, expected $5"; show "$1"
  fi
}

# xor_table NAME: the rows "a b -> y" NAME.out prints for the four training rows of XOR round to
# its truth table.
xor_table() {
  _preds=$(awk '/^[01] [01] -> / {
    v = $4 + 0; r = (v >= 0.5) ? 1 : 0; printf "%s%s%s->%d", sep, $1, $2, r; sep = " " }' "$1.out")
  if [ "$_preds" = "00->0 01->1 10->1 11->0" ]; then
    pass "predictions round to XOR: $_preds"
  else
    fail "predictions '$_preds', expected '00->0 01->1 10->1 11->0'"; show "$1"
  fi
}

# Fashion-MNIST as Debian's dataset-fashion-mnist installs it.
FASHION=/usr/share/datasets/fashion-mnist

# need_fashion_mnist: skips the test unless the four files of the data set are readable.
need_fashion_mnist() {
  for _f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz \
            t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    [ -r "$FASHION/$_f" ] || skip "$FASHION/$_f is missing (apt-get install dataset-fashion-mnist)"
  done
}

# fashion_image INDEX: the 784 bytes of test image INDEX, as decimal numbers.
fashion_image() {
  gzip -dc "$FASHION/t10k-images-idx3-ubyte.gz" | tail -c +$((17 + 784 * $1)) | head -c 784 |
    od -An -tu1 -v | tr -s ' \n' '  '
}

# final_val_accuracy NAME: the accuracy on the last "final val_loss X  val_accuracy Y" line of
# NAME.out; empty when there is none.
final_val_accuracy() {
  sed -n 's/^final val_loss [^ ]*  val_accuracy \([^ ]*\)$/\1/p' "$1.out" | tail -n 1
}

finish() {
  if [ "$FAILS" -eq 0 ]; then echo "PASS"; exit 0; fi
  echo "$FAILS check(s) failed"; exit 1
}

# write_csv_model FILE CSV [EPOCHS]: FILE is a regression model (2 features, 1 target, batches
# of 2) that trains on the CSV file CSV, which has a header line: the data tests' model.
write_csv_model() {
  cat >"$1" <<EOF
model m {
  input  x[2]
  target y[1]
  h = dense(x, 1)
  loss = mse(h, y)
  output h
}
train m {
  data   = csv("$2", header = true)
  epochs = ${3:-1}
  batch  = 2
}
EOF
}

# classifier_model NAME: a small 3-class model of 2 inputs (dense tanh, softmax, cross-entropy)
# on stdout, for the tests that write its train block after it.
classifier_model() {
  cat <<MODEL
model $1 {
  input  x[2]
  target y : class(3)
  h = dense(x, 8, tanh)
  z = dense(h, 3)
  loss = cross_entropy(softmax(z), y)
  output softmax(z)
}
MODEL
}

# clusters_model_and_data: m.nn, classifier_model m with a train block on a.csv (Adam, 80
# epochs), and a.csv: three clusters of named classes, x near (0,0) lo, (1,0) mid, (0,1) hi.
clusters_model_and_data() {
  classifier_model m >m.nn
  cat >>m.nn <<'NN'
train m {
  data      = csv("a.csv", header = true, classes = ["lo", "mid", "hi"])
  optimizer = adam(lr = 0.05)
  epochs    = 80
  batch     = 4
  seed      = 3
  log_every = 40
}
NN
  cat >a.csv <<'CSV'
u,v,label
0,0,lo
0.1,0.2,lo
0.2,0.1,lo
0.1,0,lo
1,0,mid
0.9,0.1,mid
1.1,0.2,mid
1,0.1,mid
0,1,hi
0.1,0.9,hi
0.2,1.1,hi
0,1.1,hi
CSV
}
