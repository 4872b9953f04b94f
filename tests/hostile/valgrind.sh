#!/bin/sh
# valgrind.sh VALGRIND NNC EXAMPLE.nn — nnc compiles EXAMPLE.nn into a program under valgrind's
# memcheck: the compile must succeed, with no memory error and no definitely lost block. Memory
# LLVM still holds at exit is not an error (--errors-for-leak-kinds=definite). Valgrind follows
# nnc only, not the C compiler it runs to link.
set -u
VALGRIND=$1
NNC=$2
EXAMPLE=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-valgrind.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
"$VALGRIND" -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite "$NNC" "$EXAMPLE" -o "$tmp/out" >"$tmp/log" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && [ -x "$tmp/out" ]; then
  echo "ok: valgrind reports nothing for nnc $(basename "$EXAMPLE") -o out"
  exit 0
fi
echo "FAIL: valgrind nnc $(basename "$EXAMPLE") -o out exited with $rc (9: valgrind found errors)"
head -80 "$tmp/log"
exit 1
