# Shared helpers of the hostile-input tests (sourced after tests/e2e/lib.sh, which makes the
# temporary directory, cds into it and provides run, expect_rc, contains, fail, pass, finish).

# expect_clean NAME WANT_RC MESSAGE WHAT: run NAME ended with exit WANT_RC, its stderr contains
# MESSAGE, and nothing on stderr looks like a crash: no sanitizer report, no internal error, no
# signal (exit >= 128).
expect_clean() {
  expect_rc "$1" "$2" "$4"
  contains "$1.err" "$3" "$4: the message says '$3'"
  if grep -qE 'Sanitizer|runtime error:|internal error|Segmentation|Aborted' "$1.err"; then
    fail "$4: stderr shows a crash or an internal error"; sed 's/^/  | /' "$1.err" | head -20
  fi
}

# no_file PATH WHAT: PATH does not exist (a failed run leaves no partial output).
no_file() {
  if [ -e "$1" ]; then fail "$2: '$1' exists"; else pass "$2: no '$1' left behind"; fi
}

# within SECONDS CMD...: runs CMD with a time limit (exit 124 when it is exceeded).
within() {
  _s=$1; shift
  if command -v timeout >/dev/null 2>&1; then timeout "$_s" "$@"; else "$@"; fi
}
