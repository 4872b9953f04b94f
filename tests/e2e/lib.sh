# Shared helpers of the end-to-end tests (sourced). Each test runs in a fresh temp directory
# (removed on exit) and counts failures; `finish` prints the verdict and sets the exit code.
set -u
FAILS=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nnc-e2e.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT INT TERM
cd "$WORK" || exit 1

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }

# run NAME CMD...: runs CMD with stdout in NAME.out, stderr in NAME.err and its status in RC.
run() {
  name=$1; shift
  "$@" >"$name.out" 2>"$name.err"
  RC=$?
}

# show NAME: prints what a run printed, for a failure message.
show() {
  echo "  --- stdout of $1:"; sed 's/^/  | /' "$1.out" | head -30
  echo "  --- stderr of $1:"; sed 's/^/  | /' "$1.err" | head -30
}

# expect_rc NAME WANT WHAT: the last run's exit status must be WANT.
expect_rc() {
  if [ "$RC" -eq "$2" ]; then pass "$3: exit $RC"; else fail "$3: exit $RC, expected $2"; show "$1"; fi
}

# contains NAME.out|NAME.err TEXT WHAT: a fixed string must occur in the file.
contains() {
  if grep -qF -- "$2" "$1"; then pass "$3"; else
    fail "$3: '$2' not found in $1"; sed 's/^/  | /' "$1" | head -30
  fi
}

finish() {
  if [ "$FAILS" -eq 0 ]; then echo "PASS"; exit 0; fi
  echo "$FAILS check(s) failed"; exit 1
}
