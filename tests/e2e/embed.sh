#!/bin/sh
# embed.sh NNC SOURCE_DIR LIBNNRT: nnc -c --header, the library object of a model and its C
# header: the header compiles as strict C99 and as C++, examples/embed/main.c trains XOR through
# it, three models link into one program, only PREFIX_* is exported, and the option errors.
NNC=$1
SRC=$2
RT=$3
. "$(dirname "$0")/lib.sh"
CC=${CC:-cc}
# Programs link the runtime as nnc links it: with zlib, libm, threads, and the sanitizers
# when nnc and libnnrt.a were built with them (cmake -DNNC_SANITIZE=ON).
LIBS="-lz -lm -pthread"
sanitized && LIBS="$LIBS -fsanitize=address,undefined"

[ -f "$RT" ] || { fail "no runtime library '$RT'"; finish; }

# ---- xor.nn as a library ----
run compile "$NNC" "$SRC/examples/xor.nn" -c -o xor.o --header xor.h
expect_rc compile 0 "nnc examples/xor.nn -c -o xor.o --header xor.h"
[ -f xor.o ] && [ -f xor.h ] || { fail "no xor.o or xor.h"; finish; }
for want in "XOR_INPUT_WIDTH = 2" "XOR_TARGET_WIDTH = 1" "XOR_OUTPUT_WIDTH = 1" \
            "XOR_MAX_BATCH = 4" "XOR_CLASSES = 0" "typedef struct xor_ctx xor_ctx;" \
            "xor_ctx *xor_create(uint64_t seed);" "libnnrt.a -lz -lm" \
            "float xor_train_batch(xor_ctx *ctx, const float *x, const float *y, int64_t n, float lr);" \
            "void xor_predict(xor_ctx *ctx, const float *x, int64_t n, float *out);"; do
  contains xor.h "$want" "xor.h has '$want'"
done

exported=$(nm -g --defined-only xor.o | awk '{ print $3 }' | sort | tr '\n' ' ')
want="xor_create xor_free xor_load xor_predict xor_save xor_train_batch "
[ "$exported" = "$want" ] && pass "xor.o exports only xor_*: $exported" \
  || fail "xor.o exports '$exported', expected '$want'"
nm xor.o | grep -qw main && fail "xor.o defines or uses main"

printf '#include "xor.h"\nint use_it(void);\nint use_it(void) { return XOR_MAX_BATCH; }\n' >c99.c
run c99 "$CC" -std=c99 -Wall -Wextra -pedantic -Werror -c c99.c -o c99.o
expect_rc c99 0 "xor.h compiles with -std=c99 -Wall -Wextra -pedantic -Werror"
if command -v g++ >/dev/null 2>&1; then
  printf '#include "xor.h"\nint main() { xor_ctx *c = xor_create(1); xor_free(c); return 0; }\n' >cxx.cc
  run cxx g++ -std=c++11 -Wall -Wextra -pedantic -Werror cxx.cc xor.o "$RT" $LIBS -o cxx
  expect_rc cxx 0 "xor.h compiles and links as C++ (extern \"C\")"
  [ -x cxx ] && { run cxxrun ./cxx; expect_rc cxxrun 0 "the C++ program runs"; }
fi

# ---- examples/embed/main.c ----
run build "$CC" -std=c99 -Wall -Wextra -pedantic -Werror -I. "$SRC/examples/embed/main.c" xor.o \
  "$RT" $LIBS -o embed
expect_rc build 0 "cc examples/embed/main.c xor.o libnnrt.a -lz -lm"
[ -x embed ] || { fail "no ./embed"; finish; }
run embed ./embed w.safetensors
expect_rc embed 0 "./embed"
check_number embed "final loss" "$(last_value embed.out 'final loss ')" \
  'v + 0 < 0.01 && v + 0 >= 0' "< 0.01"
contains embed.out "step 1000  loss" "./embed prints the loss every 1000 steps"
sed -n '/^trained:/,/^reloaded:/p' embed.out >trained.out
sed -n '/^reloaded:/,$p' embed.out >reloaded.out
: >trained.err; : >reloaded.err
xor_table trained
xor_table reloaded
[ "$(grep -- '->' trained.out)" = "$(grep -- '->' reloaded.out)" ] && [ -n "$(grep -- '->' trained.out)" ] \
  && pass "the reloaded weights predict identically" || { fail "reloaded predictions differ"; show embed; }
[ -f w.safetensors ] && pass "weights saved to w.safetensors" || fail "no w.safetensors"

# ---- three models in one program: xor, xor_dense.nn (also model xor: --prefix), neuron ----
run dense "$NNC" "$SRC/examples/xor_dense.nn" -c -o dense.o --header dense.h --prefix xor_dense
expect_rc dense 0 "nnc examples/xor_dense.nn -c --prefix xor_dense"
run neuron "$NNC" "$SRC/examples/neuron.nn" -c --header neuron.h
expect_rc neuron 0 "nnc examples/neuron.nn -c --header neuron.h (default output neuron.o)"
[ -f neuron.o ] && pass "-c without -o writes neuron.o" || fail "no neuron.o"
contains neuron.h "NEURON_TARGET_WIDTH = 0" "a predict-only model has no target"
cat >many.c <<'C'
#include <math.h>
#include <stdio.h>
#include "dense.h"
#include "neuron.h"
#include "xor.h"
int main(void) {
  const float x[8] = {0, 0, 0, 1, 1, 0, 1, 1}, y[4] = {0, 1, 1, 0}, q[4] = {2, 3, 3, 2};
  float a = 0, b = 0, out[4], n[2];
  xor_ctx *p = xor_create(1);
  xor_dense_ctx *d = xor_dense_create(1);
  neuron_ctx *r = neuron_create(0);
  if (!p || !d || !r) return 1;
  for (int i = 0; i < 5000; i++) {
    a = xor_train_batch(p, x, y, 4, 2);
    b = xor_dense_train_batch(d, x, y, 4, 2);
  }
  neuron_predict(r, q, 2, n);
  printf("xor %f xor_dense %f\n", a, b);
  printf("neuron %.4f %.4f\n", n[0], n[1]);
  printf("neuron train %s\n", isnan(neuron_train_batch(r, q, q, 1, 1)) ? "nan" : "number");
  xor_dense_predict(d, x, 4, out);
  for (int i = 0; i < 4; i++) printf("%g %g -> %f\n", x[2 * i], x[2 * i + 1], out[i]);
  xor_free(p);
  xor_dense_free(d);
  neuron_free(r);
  return 0;
}
C
run many_build "$CC" -std=c99 -Wall -Wextra -pedantic -Werror -I. many.c xor.o dense.o neuron.o \
  "$RT" $LIBS -o many
expect_rc many_build 0 "xor.o, dense.o and neuron.o link into one program"
if [ -x many ]; then
  run many ./many
  expect_rc many 0 "./many"
  contains many.out "neuron 3.6000 3.4000" "neuron predicts 3.6 and 3.4 beside the XOR models"
  contains many.out "neuron train nan" "train_batch of a predict-only model is NAN"
  xor_table many
  l1=$(sed -n 's/^xor \([^ ]*\) xor_dense \([^ ]*\)$/\1/p' many.out)
  l2=$(sed -n 's/^xor \([^ ]*\) xor_dense \([^ ]*\)$/\2/p' many.out)
  check_number many "xor loss" "$l1" 'v + 0 < 0.01' "< 0.01"
  check_number many "xor_dense loss" "$l2" 'v + 0 < 0.01' "< 0.01"
fi
# Without --prefix both objects export xor_*: the clash the prefix avoids.
run clash_compile "$NNC" "$SRC/examples/xor_dense.nn" -c -o clash.o
run clash "$CC" many.c xor.o clash.o "$RT" $LIBS -o clash
[ "$RC" -ne 0 ] && pass "two objects with one prefix do not link (duplicate xor_*)" \
  || fail "xor.o and an unprefixed xor_dense object linked"

# ---- a class model: one-hot targets of CLASSES floats ----
classifier_model clf >clf.nn
cat >>clf.nn <<'EOF2'
train clf {
  data = table { 0 0 -> 0; 1 0 -> 1; 0 1 -> 2 }
  optimizer = adam(lr = 0.05)
  epochs = 10
  batch = 3
}
EOF2
run clf "$NNC" clf.nn -c -o clf.o --header clf.h
expect_rc clf 0 "nnc clf.nn -c (a class model)"
contains clf.h "CLF_CLASSES = 3" "clf.h: CLF_CLASSES = 3"
contains clf.h "CLF_TARGET_WIDTH = 3" "clf.h: the target is one-hot, CLF_TARGET_WIDTH = 3"
contains clf.h "one-hot" "clf.h documents one-hot targets"
cat >clf_main.c <<'C'
#include <stdio.h>
#include "clf.h"
int main(void) {
  const float x[6] = {0, 0, 1, 0, 0, 1}, y[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  float p[9], loss = 0;
  clf_ctx *c = clf_create(3);
  if (!c) return 1;
  for (int i = 0; i < 300; i++) loss = clf_train_batch(c, x, y, 3, 0.05f);
  clf_predict(c, x, 3, p);
  int ok = 1;
  for (int r = 0; r < 3; r++)
    for (int k = 0; k < 3; k++) ok &= k == r ? p[3 * r + k] > 0.8f : p[3 * r + k] < 0.2f;
  printf("loss %f %s\n", loss, ok ? "classes right" : "classes wrong");
  clf_free(c);
  return !ok;
}
C
run clf_build "$CC" -std=c99 -Wall -Werror -I. clf_main.c clf.o "$RT" $LIBS -o clf_main
expect_rc clf_build 0 "a program using clf.h builds"
[ -x clf_main ] && { run clf_run ./clf_main; expect_rc clf_run 0 "the class model learns its three rows"; }

# ---- option errors, and failures leave nothing behind ----
run u1 "$NNC" "$SRC/examples/xor.nn" --header u.h -o u
expect_rc u1 2 "--header without -c"
contains u1.err "needs -c" "--header without -c says it needs -c"
run u2 "$NNC" "$SRC/examples/xor.nn" -c --emit=llvm
expect_rc u2 2 "-c with --emit"
run u3 "$NNC" "$SRC/examples/xor.nn" -c --check
expect_rc u3 2 "-c with --check"
run u4 "$NNC" "$SRC/examples/xor.nn" -c --prefix 9lives -o u.o
expect_rc u4 2 "--prefix that is not a C identifier"
run u5 "$NNC" "$SRC/examples/xor.nn" --prefix p -o u
expect_rc u5 2 "--prefix without -c"
[ -e u ] || [ -e u.h ] || [ -e u.o ] && fail "a usage error wrote a file"

printf 'model bad {\n  input x[2]\n  output y = nosuch(x)\n}\n' >bad.nn
run bad "$NNC" bad.nn -c -o bad.o --header bad.h
expect_rc bad 1 "nnc bad.nn -c (an error in the input)"
[ -e bad.o ] || [ -e bad.h ] && fail "a failed -c compile left bad.o or bad.h" \
  || pass "a failed -c compile leaves no bad.o or bad.h"
run nodir "$NNC" "$SRC/examples/xor.nn" -c -o nodir.o --header missing/dir/nodir.h
expect_rc nodir 3 "a header that cannot be written"
[ -e nodir.o ] && fail "the object stayed although the header failed" \
  || pass "no object when the header cannot be written"
[ -n "$(ls | grep '\.tmp\.')" ] && fail "temporary files left: $(ls | grep '\.tmp\.')"

finish
