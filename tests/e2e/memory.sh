#!/bin/sh
# memory.sh NNC SOURCE_DIR: programs whose memory cannot exist are refused at once (issue 16).
# A model whose unused parameters (each within the 2^31-element limit) add up to more than this
# machine's physical memory compiles with a warning per unused parameter, and train, eval,
# predict and train --resume each exit 1 within seconds with the figures, instead of spending
# minutes initialising the workspace. The same under a `ulimit -v` smaller than a modest
# model's workspace; with room enough, that model still runs every command.
NNC=$1
SRC=$2
. "$(dirname "$0")/lib.sh"

# model PARAMS SIZE: a regression on two inputs with PARAMS unused parameters of SIZE elements.
model() {
  echo "model m {"
  echo "  input X[2]"
  echo "  target y[1]"
  echo "  param W[2, 1] = normal(0, 1)"
  i=1
  while [ "$i" -le "$1" ]; do echo "  param BIG$i[$2] = normal(0, 1)"; i=$((i + 1)); done
  echo "  loss = mse(X @ W, y)"
  echo "  output X @ W"
  echo "}"
  echo "train m {"
  echo "  data = table { 1 2 -> 3"
  echo "                 2 1 -> 3 }"
  echo "  epochs = 1"
  echo "}"
}

# refused NAME WHAT FIGURES CMD...: CMD exits 1 within 10 s and says FIGURES.
refused() {
  name=$1; what=$2; figures=$3; shift 3
  start=$(date +%s)
  run "$name" timeout 10 "$@"
  took=$(($(date +%s) - start))
  expect_rc "$name" 1 "$what is refused"
  [ "$took" -le 5 ] && pass "$what is refused in ${took} s" || fail "$what took ${took} s"
  contains "$name.err" "$figures" "$what names the figures"
}

# ---- larger than physical memory: enough parameters of 2^31 - 1 floats (8 GiB each) ----
total_kib=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
params=$((total_kib / 8388608 + 2))
model "$params" 2147483647 >huge.nn
run compile "$NNC" huge.nn -o huge
expect_rc compile 0 "a model with unused parameters compiles"
contains compile.err "huge.nn:5:3: warning: parameter 'BIG1' is not used by the loss or the output" \
  "the compiler warns about an unused parameter"
[ "$(grep -c 'warning: parameter' compile.err)" -eq "$params" ] && pass "one warning per unused parameter" \
  || fail "$(grep -c 'warning: parameter' compile.err) warnings for $params unused parameters"
[ -x huge ] || { fail "no executable 'huge' was written"; finish; }
need="out of memory: the model needs $((params * 8)).0 GiB"
for cmd in train eval "predict 1 2" "train --resume w.safetensors"; do
  refused "huge_$(echo "$cmd" | tr -c 'a-z\n' '_')" "./huge $cmd (more than physical memory)" \
    "$need for its workspace, more than the" ./huge $cmd
done
contains huge_train.err "this machine has" "the limit named is the machine's memory"
[ ! -e w.safetensors ] && [ ! -e m.safetensors.lock ] && pass "nothing was written" \
  || fail "a refused run left files: $(ls)"

# ---- under ulimit -v: a 190.7 MiB workspace in 150 MB of address space ----
if sanitized; then
  echo "note: built with the sanitizers, which cannot run under ulimit -v: those cases are skipped"
  finish
fi
model 1 50000000 >mid.nn
run compile_mid "$NNC" mid.nn -o mid
expect_rc compile_mid 0 "nnc mid.nn"
for cmd in train eval "predict 1 2" "train --resume w.safetensors"; do
  refused "mid_$(echo "$cmd" | tr -c 'a-z\n' '_')" "./mid $cmd under ulimit -v 150000" \
    "out of memory: the model needs 190.7 MiB for its workspace, more than the" \
    sh -c 'ulimit -v 150000 && exec "$@"' sh ./mid $cmd
done
contains mid_train.err "the address-space limit (ulimit -v) leaves this process" \
  "the limit named is ulimit -v"

# ---- with room enough, the same model runs every command ----
roomy() { sh -c 'ulimit -v 1000000 && exec "$@"' sh "$@"; }
run mid_ok roomy ./mid train --save w.safetensors
expect_rc mid_ok 0 "./mid train under ulimit -v 1000000"
run mid_eval roomy ./mid eval --weights w.safetensors
expect_rc mid_eval 0 "./mid eval under ulimit -v 1000000"
run mid_predict roomy ./mid predict --weights w.safetensors 1 2
expect_rc mid_predict 0 "./mid predict under ulimit -v 1000000"
run mid_resume roomy ./mid train --resume w.safetensors --epochs 2 --save w2.safetensors
expect_rc mid_resume 0 "./mid train --resume under ulimit -v 1000000"
finish
