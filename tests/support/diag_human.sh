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
[ -x "$NNC" ] || { echo "diag_human: nnc '$NNC' is not executable"; exit 1; }
[ -r "$EXPECT" ] || { echo "diag_human: no expected output '$EXPECT'"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/diag_human.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
TIMEOUT=
command -v timeout >/dev/null 2>&1 && TIMEOUT="timeout 10"
(ulimit -v 2000000 2>/dev/null; exec $TIMEOUT "$NNC" --check "$FILE") >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?

# Normalise the path: every occurrence of FILE as given becomes its base name.
awk -v path="$FILE" -v base="$(basename "$FILE")" '{
  out = ""; s = $0
  while ((i = index(s, path)) > 0) { out = out substr(s, 1, i - 1) base; s = substr(s, i + length(path)) }
  print out s
}' "$tmp/stderr" >"$tmp/got"

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
