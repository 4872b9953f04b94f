#!/bin/sh
# diag_golden.sh NNC FILE.nn — a diagnostic golden test.
#
# Runs `NNC --check --diag-format=test FILE.nn`, requires exit code 1, and compares the
# diagnostics printed with the expectations written inline in FILE.nn, as comments:
#
#   A1 = sigmoid(X @ W + b1)   # error: unknown name 'W'
#   A1 = sigmoid(X @ W + b1)   # error@20: unknown name 'W'          (also pins column 20)
#   model m {                  # note@1: the first is here
#   epoch = 10                 # error: unknown training setting 'epoch' # hint: did you mean 'epochs'?
#   #^ error@3: a long message for the nearest line above that is not a '#^' line
#
# - A marker is '# KIND:' or '# KIND@COL:' with KIND one of error, warning, note, hint; one
#   comment may hold several markers. The message runs to the next marker or the end of the line (trailing
#   blanks dropped) and must equal the diagnostic's message exactly.
# - The line of an expectation is the line its comment is on; a comment line starting with '#^'
#   holds expectations for the closest line above it that is not itself a '#^' line.
# - Without @COL the column is not checked. Columns count bytes from 1, as nnc's do.
# - Hints have no location of their own: a hint belongs to the line of the diagnostic printed
#   just before it, so write '# hint: ...' on the line of its error or note.
# - Comments without a marker are ordinary comments.
#
# Then the same file in the human format: each located error, warning and note must be followed
# by its source line and a caret under its column.
#
# The test passes when the multiset of (kind, line, column, message) nnc printed equals the
# expected one: nothing missing, nothing extra (notes and hints included). Every stderr line
# must be a diagnostic or nnc's "too many errors" line; stdout must be empty. nnc gets 10 s and
# 2 GB of address space, so a hang or a runaway allocation fails the test instead of the host.
set -u
NNC=$1
FILE=$2
. "$(dirname "$0")/golden_lib.sh"
golden_start diag_golden 10 "$FILE"

limited "$NNC" --check --diag-format=test "$FILE" >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?

fail=0
if [ "$rc" -eq 124 ]; then
  echo "FAIL: nnc did not finish within 10 s (a hang?) on $FILE"
  fail=1
elif [ "$rc" -ne 1 ]; then
  echo "FAIL: nnc exited with $rc, expected 1 (errors in the input)"
  fail=1
fi
if [ -s "$tmp/stdout" ]; then
  echo "FAIL: nnc --check printed on stdout:"
  head -20 "$tmp/stdout"
  fail=1
fi

# Expected records: kind|line|col|message with col '*' when not given.
awk '
  function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t\r]+$/, "", s); return s }
  {
    if ($0 ~ /^[ \t]*#\^/) line = anchor; else { line = NR; anchor = NR }
    c = index($0, "#")
    if (!c) next
    rest = substr($0, c)
    # Markers: "#" blanks KIND ("@" COL)? ":"
    while (match(rest, /#\^?[ \t]*(error|warning|note|hint)(@[0-9]+)?:/)) {
      head = substr(rest, RSTART, RLENGTH)
      rest = substr(rest, RSTART + RLENGTH)
      kind = head; sub(/^#\^?[ \t]*/, "", kind); sub(/[@:].*$/, "", kind)
      col = "*"
      if (head ~ /@/) { col = head; sub(/^[^@]*@/, "", col); sub(/:$/, "", col) }
      if (kind == "hint") col = "*"
      nxt = match(rest, /#\^?[ \t]*(error|warning|note|hint)(@[0-9]+)?:/)
      msg = nxt ? substr(rest, 1, RSTART - 1) : rest
      printf "%s|%d|%s|%s\n", kind, line, col, trim(msg)
    }
  }' "$FILE" >"$tmp/expected"

if [ ! -s "$tmp/expected" ]; then
  echo "FAIL: $FILE states no expected diagnostics (a golden must expect at least one error)"
  fail=1
fi

# Actual records in the same form; a hint takes the line of the diagnostic before it.
awk -v out="$tmp/actual" -v bad="$tmp/bad" '
  /^(error|warning|note)\|/ {
    s = $0
    kind = substr(s, 1, index(s, "|") - 1); s = substr(s, index(s, "|") + 1)
    s = substr(s, index(s, "|") + 1)                      # file
    line = substr(s, 1, index(s, "|") - 1); s = substr(s, index(s, "|") + 1)
    col = substr(s, 1, index(s, "|") - 1); s = substr(s, index(s, "|") + 1)
    last = line
    printf "%s|%s|%s|%s\n", kind, line, col, s > out
    next
  }
  /^hint\|/ { printf "hint|%s|*|%s\n", (last == "" ? 0 : last), substr($0, 6) > out; next }
  /: too many errors; stopping here$/ { next }
  { print > bad }' "$tmp/stderr"
touch "$tmp/actual" "$tmp/bad"

if [ -s "$tmp/bad" ]; then
  echo "FAIL: stderr has lines that are not diagnostics:"
  cat "$tmp/bad"
  fail=1
fi

# Multiset match: each printed diagnostic consumes one expectation with the same kind, line and
# message whose column is equal (preferred) or unstated.
awk -F'|' -v expected="$tmp/expected" '
  BEGIN {
    while ((getline e < expected) > 0) {
      split(e, f, "|")
      n++; ek[n] = f[1]; el[n] = f[2]; ec[n] = f[3]; em[n] = substr(e, length(f[1] f[2] f[3]) + 4)
    }
  }
  {
    k = $1; l = $2; c = $3; m = substr($0, length($1 $2 $3) + 4); hit = 0
    for (i = 1; i <= n && !hit; i++)
      if (!used[i] && ek[i] == k && el[i] == l && em[i] == m && ec[i] == c) hit = i
    for (i = 1; i <= n && !hit; i++)
      if (!used[i] && ek[i] == k && el[i] == l && em[i] == m && ec[i] == "*") hit = i
    if (hit) used[hit] = 1
    else extra[++nx] = sprintf("  %s at %s:%s: %s", k, l, c, m)
  }
  END {
    for (i = 1; i <= n; i++)
      if (!used[i]) miss[++nm] = sprintf("  %s at %s:%s: %s", ek[i], el[i], ec[i], em[i])
    if (nm) { print "FAIL: expected but not printed (kind at line:col: message):"; for (i = 1; i <= nm; i++) print miss[i] }
    if (nx) { print "FAIL: printed but not expected:"; for (i = 1; i <= nx; i++) print extra[i] }
    exit (nm || nx) ? 1 : 0
  }' "$tmp/actual" || fail=1

# The human format of the same run: every located error and note is followed by its source
# line and a caret under its column.
limited "$NNC" --check "$FILE" >/dev/null 2>"$tmp/human"
awk -v src="$FILE" '
  BEGIN { while ((getline l < src) > 0) text[++n] = l }
  # A long line is shown as a window of it, marked "..." where it was cut.
  want_src { got = substr($0, 9); left = substr(got, 1, 3) == "..."
             if (left) got = substr(got, 4)
             if (substr(got, length(got) - 2) == "...") got = substr(got, 1, length(got) - 3)
             ws = index(text[want_line], got)
             if (substr($0, 1, 8) != sprintf("%5d | ", want_line) || ws == 0 || (!left && ws != 1))
               bad("source line", $0)
             want_src = 0; want_caret = 1; next }
  want_caret { at = 8 + (left ? 3 : 0) + want_col - ws + 1
               pad = substr($0, 9, at - 9); gsub(/[ \t]/, "", pad)
               if (substr($0, 1, 8) != "      | " || pad != "" || substr($0, at, 1) != "^")
                 bad("caret under column " want_col, $0)
               want_caret = 0; next }
  match($0, /:[0-9]+:[0-9]+: (error|warning|note): /) {
    split(substr($0, RSTART + 1, RLENGTH), p, ":"); want_line = p[1]; want_col = p[2]; want_src = 1
  }
  function bad(what, got) { printf "FAIL: human format: expected the %s, got: %s\n", what, got; failed = 1 }
  END { exit failed || want_src || want_caret }' "$tmp/human" || { fail=1; cat "$tmp/human"; }

if [ "$fail" -ne 0 ]; then
  echo "--- nnc --check --diag-format=test $FILE (exit $rc) printed:"
  head -40 "$tmp/stderr"
  exit 1
fi
echo "ok: $(wc -l <"$tmp/actual" | tr -d ' ') diagnostics as expected in $(basename "$FILE")"
exit 0
