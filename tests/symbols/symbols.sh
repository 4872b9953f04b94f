#!/bin/sh
# symbols.sh NNC SOURCE_DIR LIBNNRT: the runtime library exports nothing but nnrt_* names, so a
# program may use any other name. Checks nm's list of libnnrt.a's defined global symbols (names
# beginning with "__" are the toolchain's, e.g. sanitizer instrumentation), then links
# tests/symbols/clash.c, which defines every name the library exported before the prefix, with
# a model from nnc -c and the whole library (--whole-archive: every member, needed or not), and
# runs it.
NNC=$1
SRC=$2
RT=$3
. "$SRC/tests/e2e/lib.sh"
CC=${CC:-cc}
LIBS="-lz -lm -pthread"
ldd "$NNC" 2>/dev/null | grep -q 'libasan\.so' && LIBS="$LIBS -fsanitize=address,undefined"

[ -f "$RT" ] || { fail "no runtime library '$RT'"; finish; }

run nm nm -g --defined-only "$RT"
expect_rc nm 0 "nm -g --defined-only libnnrt.a"
awk 'NF == 3 { print $3 }' nm.out | grep -v '^nnrt_' | grep -v '^__' >unprefixed.txt
[ -s unprefixed.txt ] \
  && fail "libnnrt.a exports names without the nnrt_ prefix: $(tr '\n' ' ' <unprefixed.txt)" \
  || pass "libnnrt.a exports only nnrt_* names ($(awk 'NF == 3' nm.out | wc -l) symbols)"

run compile "$NNC" "$SRC/examples/xor.nn" -c -o xor.o --header xor.h
expect_rc compile 0 "nnc examples/xor.nn -c -o xor.o --header xor.h"
run build "$CC" -std=c99 -Wall -Wextra -Werror -I. "$SRC/tests/symbols/clash.c" xor.o \
  -Wl,--whole-archive "$RT" -Wl,--no-whole-archive $LIBS -o clash
expect_rc build 0 "a program defining the old names links with the whole libnnrt.a"
[ -x clash ] || finish
run clash ./clash
expect_rc clash 0 "./clash"
contains clash.out "said: hello" "the program's own cli_say runs"
contains clash.out "json_init 3 data_fail 3 data_scaled 3 json_string 1" \
  "its own functions and variables"
contains clash.out "loss small" "the embedded model trains"
contains clash.out "xor 0110" "the embedded model predicts XOR"

finish
