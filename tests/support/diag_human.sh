#!/bin/sh
# diag_human.sh NNC FILE.nn — a golden of the human diagnostic format.
#
# Runs `NNC --check FILE.nn` (the default, human format), requires exit code 1 and an empty
# stdout, and compares stderr byte for byte with FILE.expect (same directory, same base name).
# The path nnc was given is replaced by the file's base name, so the .expect file reads
# "name.nn:LINE:COL: error: message", the numbered source line, the caret line and "hint: ...".
set -u
NNC=$1
FILE=$2
EXPECT=${FILE%.nn}.expect
. "$(dirname "$0")/golden_lib.sh"
golden_start diag_human 10 "$EXPECT"

limited "$NNC" --check "$FILE" >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?

# Normalise the path: every occurrence of FILE as given becomes its base name.
replace_all "$FILE" "$(basename "$FILE")" <"$tmp/stderr" >"$tmp/got"

fail=0
[ "$rc" -eq 1 ] || { echo "FAIL: nnc exited with $rc, expected 1"; fail=1; }
[ -s "$tmp/stdout" ] && { echo "FAIL: nnc --check printed on stdout:"; cat "$tmp/stdout"; fail=1; }
if ! cmp -s "$EXPECT" "$tmp/got"; then
  echo "FAIL: stderr differs from $(basename "$EXPECT") (diff expected got):"
  diff -u "$EXPECT" "$tmp/got" | sed 's/^/  /'
  fail=1
fi
[ "$fail" -eq 0 ] && echo "ok: $(basename "$FILE") human diagnostics match"
exit $fail
