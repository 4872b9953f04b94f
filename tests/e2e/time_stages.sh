#!/bin/sh
# time_stages.sh NNC SOURCE_DIR: nnc --time prints one line per compile stage that ran, in the
# pipeline's order, then the total, each with its CPU and wall seconds, on stderr; without
# --time nnc prints nothing.
NNC=$1
SRC=$2
. "$(dirname "$0")/lib.sh"

# stages NAME: the stage names of NAME.err's "nnc: time:" lines, joined by commas.
stages() {
  sed -n 's/^nnc: time: \(.*[a-z]\) *[0-9.]* s CPU *[0-9.]* s wall$/\1/p' "$1.err" | paste -sd, -
}

run exe "$NNC" --time "$SRC/examples/xor.nn" -o xor
expect_rc exe 0 "nnc --time examples/xor.nn -o xor"
got=$(stages exe)
if [ "$got" = "front end,codegen,LLVM passes,machine code,link,total" ]; then
  pass "--time: a line per stage, then the total: $got"
else
  fail "--time printed the stages '$got'"; show exe
fi
if [ "$(grep -c '^nnc: time:' exe.err)" -eq "$(wc -l <exe.err)" ]; then
  pass "--time prints nothing else"
else
  fail "--time printed other lines"; show exe
fi
[ -x xor ] && pass "the program is written" || fail "no program 'xor'"

run lib "$NNC" --time "$SRC/examples/xor.nn" -c -o xor.o
expect_rc lib 0 "nnc --time -c"
got=$(stages lib)
[ "$got" = "front end,codegen,LLVM passes,machine code,total" ] &&
  pass "--time -c: no link: $got" || { fail "--time -c printed the stages '$got'"; show lib; }

run chk "$NNC" --time --check "$SRC/examples/xor.nn"
expect_rc chk 0 "nnc --time --check"
got=$(stages chk)
[ "$got" = "front end,total" ] && pass "--time --check: $got" ||
  { fail "--time --check printed the stages '$got'"; show chk; }

run quiet "$NNC" "$SRC/examples/xor.nn" -o xor2
expect_rc quiet 0 "nnc without --time"
[ -s quiet.err ] && { fail "nnc without --time wrote to stderr"; show quiet; } ||
  pass "without --time nothing is printed"
finish
