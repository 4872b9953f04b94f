#!/bin/sh
# kernel_calls.sh NNC SOURCE_DIR: the elementwise kernels of the activations and of small integer
# powers are calls-free arithmetic, so LLVM vectorises them: a libm call (llvm.pow, expf, tanhf)
# left in a kernel runs once per lane and made gelu's epoch 1.25× ReLU's (issue 14).
NNC=$1
SRC=$2
. "$(dirname "$0")/lib.sh"

cat >acts.nn <<'NN'
model acts {
  input  x[64]
  target y[8]
  h1     = dense(x, 32, gelu)
  h2     = dense(h1, 32, tanh)
  c      = h2 ^ 3 + h2 ^ 2
  out    = dense(c, 8, sigmoid)
  loss   = mse(out, y)
  output out
}
NN
run ir "$NNC" acts.nn --emit=llvm
expect_rc ir 0 "nnc --emit=llvm of gelu, tanh, sigmoid and x^3, x^2"
if grep -E 'call .*@(llvm\.pow|llvm\.exp|powf|expf|tanhf|exp2f)' ir.out >calls.txt; then
  fail "a kernel calls a math function:"; sed 's/^/  | /' calls.txt | head -5
else
  pass "no math function calls in the kernels"
fi
finish
