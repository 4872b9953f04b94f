#!/bin/sh
# emit_golden.sh NNC FILE.nn STAGE GOLDEN — an IR golden test.
#
# Runs `NNC FILE.nn --emit=STAGE` (graph: the lowered forward graph; grad: with the backward
# pass and the optimizer's update), requires exit code 0 and nothing on stderr, and compares
# stdout with GOLDEN. The directory of FILE.nn is written <src> wherever it appears, so the
# golden does not depend on where the tree is checked out. NNC_UPDATE_GOLDEN=1 (anything but
# empty or 0) rewrites GOLDEN instead; review the diff, it is the compiler's IR.
set -u
NNC=$1
FILE=$2
STAGE=$3
GOLDEN=$4
. "$(dirname "$0")/golden_lib.sh"
golden_start emit_golden 30 "$FILE"

$TIMEOUT "$NNC" "$FILE" --emit="$STAGE" >"$tmp/raw" 2>"$tmp/stderr"
rc=$?
if [ "$rc" -ne 0 ] || [ -s "$tmp/stderr" ]; then
  echo "FAIL: nnc $FILE --emit=$STAGE exited with $rc; stderr:"
  head -20 "$tmp/stderr"
  exit 1
fi

dir=$(cd "$(dirname "$FILE")" && pwd)
# Literal replacement of the directory (not a pattern: its characters may be special).
replace_all "$dir" "<src>" <"$tmp/raw" >"$tmp/got"

case "${NNC_UPDATE_GOLDEN:-}" in
  "" | 0) ;;
  *) cp "$tmp/got" "$GOLDEN" && echo "updated $GOLDEN" ;;
esac
if [ ! -r "$GOLDEN" ]; then
  echo "FAIL: missing $GOLDEN; run with NNC_UPDATE_GOLDEN=1 to create it"
  exit 1
fi
if ! cmp -s "$tmp/got" "$GOLDEN"; then
  echo "FAIL: nnc $(basename "$FILE") --emit=$STAGE differs from $GOLDEN (- golden, + got):"
  diff -u "$GOLDEN" "$tmp/got" | head -60
  exit 1
fi
echo "ok: $(basename "$FILE") --emit=$STAGE matches $(basename "$GOLDEN") ($(wc -l <"$tmp/got" | tr -d ' ') lines)"
exit 0
