#!/bin/sh
# The link (compiler/backend/link.c): a program is linked statically where the C library's
# archives exist, and dynamically, with nothing printed, where the static link fails (a C
# compiler that refuses -static stands in for a system without libc.a); both programs train
# XOR to the same weights, byte for byte. A failing dynamic link still reports its error.
NNC=$1
SRC=$2
. "$(dirname "$0")/lib.sh"

sanitized && skip "a sanitizer build links its programs dynamically"
cat >nostatic.sh <<'CC'
#!/bin/sh
for a in "$@"; do
  [ "$a" = -static ] && { echo "ld: cannot find -lc (this compiler links no static programs)" >&2; exit 1; }
done
exec cc "$@"
CC
chmod +x nostatic.sh

run static "$NNC" "$SRC/examples/xor.nn" -o xs
expect_rc static 0 "nnc xor.nn -o xs"
if cc -static -x c -o probe - >/dev/null 2>&1 <<'C'
int main(void) { return 0; }
C
then
  if file xs | grep -q 'statically linked'; then pass "xs is linked statically"
  else fail "xs is not linked statically: $(file xs)"; fi
else
  pass "no static C library here: xs linked dynamically"
fi

CC="$WORK/nostatic.sh" run dynamic "$NNC" "$SRC/examples/xor.nn" -o xd
expect_rc dynamic 0 "CC=nostatic.sh nnc xor.nn -o xd"
[ -s dynamic.err ] && { fail "the failed static attempt printed something"; show dynamic; }
if file xd | grep -q 'dynamically linked'; then pass "xd is linked dynamically"
else fail "xd is not linked dynamically: $(file xd)"; fi

run ts ./xs train --epochs 500 --save s.safetensors
expect_rc ts 0 "./xs train"
run td ./xd train --epochs 500 --save d.safetensors
expect_rc td 0 "./xd train"
cmp -s s.safetensors d.safetensors && pass "static and dynamic programs train the same weights" \
  || fail "static and dynamic programs' weights differ"

cat >nolink.sh <<'CC'
#!/bin/sh
echo "ld: this linker links nothing" >&2
exit 1
CC
chmod +x nolink.sh
CC="$WORK/nolink.sh" run bad "$NNC" "$SRC/examples/xor.nn" -o xb
expect_rc bad 3 "a linker that always fails"
contains bad.err "the linker command" "its failure is reported"
[ "$(grep -c 'links nothing' bad.err)" -eq 1 ] && pass "the linker's own message is shown once" \
  || { fail "the linker's message is not shown exactly once"; show bad; }
[ -e xb ] && fail "a failed link left xb" || pass "no partial executable"
finish
