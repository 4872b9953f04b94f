#!/bin/sh
# install.sh BUILD_DIR SOURCE_DIR: installs nnc into a fresh prefix and compiles from another
# directory with the installed nnc, which must find its runtime in PREFIX/lib/nnc/libnnrt.a.
BUILD=$1
SRC=$2
. "$(dirname "$0")/lib.sh"

run install cmake --install "$BUILD" --prefix "$WORK/prefix"
expect_rc install 0 "cmake --install"
[ -x "$WORK/prefix/bin/nnc" ] && pass "installed bin/nnc" || fail "no prefix/bin/nnc"
[ -f "$WORK/prefix/lib/nnc/libnnrt.a" ] && pass "installed lib/nnc/libnnrt.a" \
  || fail "no prefix/lib/nnc/libnnrt.a"

mkdir elsewhere && cd elsewhere || exit 1
# NNC_RUNTIME must not help: the installed layout alone has to work.
run compile env -u NNC_RUNTIME "$WORK/prefix/bin/nnc" "$SRC/examples/xor.nn" -o x
expect_rc compile 0 "installed nnc compiles xor.nn"
if [ -x x ]; then
  run train ./x
  expect_rc train 0 "./x (trained by the installed nnc's program)"
  contains train.out "final loss" "the program trains"
  run p ./x predict 0 1
  expect_rc p 0 "./x predict 0 1"
else
  fail "the installed nnc wrote no executable"
fi
finish
