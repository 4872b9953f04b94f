#!/bin/sh
# golden.sh NNC SRCDIR NAME: feeds tests/repl/NAME.in to `nnc repl` on standard input (not a
# terminal: no prompts, no banner) in a temporary directory holding copies of examples/*.nn, and
# compares standard output and error, merged, with NAME.golden. Epoch lines end in their time
# ("  0.01s"), which is cut. UPDATE=1 rewrites the golden file instead.
nnc=$1 src=$2 name=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/nnc-repl.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
cp "$src"/examples/*.nn "$work"/
cd "$work" || exit 1
"$nnc" repl <"$src/tests/repl/$name.in" >out 2>&1
rc=$?
sed -E 's/  [0-9]+\.[0-9]+s$//' out >got
if [ "$rc" -ne 0 ]; then echo "FAIL: nnc repl exited $rc"; cat got; exit 1; fi
if [ "${UPDATE:-0}" = 1 ]; then cp got "$src/tests/repl/$name.golden"; echo "updated $name.golden"; exit 0; fi
if diff -u "$src/tests/repl/$name.golden" got; then echo "ok: $name"; else echo "FAIL: $name differs"; exit 1; fi
