# Shared start of the golden scripts (sourced by diag_golden.sh, diag_human.sh, emit_golden.sh
# once NNC is set).

# golden_start TOOL SECONDS FILE...: NNC must be executable and every FILE readable (else TOOL
# says which is not and the script exits 1). Makes the directory $tmp, removed on exit, and sets
# TIMEOUT to "timeout SECONDS" where the timeout command exists (empty otherwise).
golden_start() {
  _tool=$1; _secs=$2; shift 2
  [ -x "$NNC" ] || { echo "$_tool: nnc '$NNC' is not executable"; exit 1; }
  for _f in "$@"; do
    [ -r "$_f" ] || { echo "$_tool: cannot read '$_f'"; exit 1; }
  done
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/$_tool.XXXXXX") || exit 1
  trap 'rm -rf "$tmp"' EXIT INT TERM
  TIMEOUT=
  command -v timeout >/dev/null 2>&1 && TIMEOUT="timeout $_secs"
}

# instrumented EXE: true when EXE was built with AddressSanitizer (cmake -DNNC_SANITIZE=ON):
# gcc links libasan.so, clang exports __asan_init.
instrumented() {
  ldd "$1" 2>/dev/null | grep -q 'libasan\.so' && return 0
  nm -D "$1" 2>/dev/null | grep -q ' __asan_init' && return 0
  return 1
}

# limited CMD...: runs CMD with TIMEOUT and 2 GB of address space, so a hang or a runaway
# allocation fails the test instead of the host (exit 124 on a timeout). An nnc built with
# AddressSanitizer reserves terabytes of shadow memory and cannot start under that limit; it
# runs with the timeout only, and ASan's own allocation limit (ASAN_OPTIONS, set by
# scripts/test.sh --sanitize) stands in for ulimit.
limited() {
  if instrumented "$1"; then
    $TIMEOUT "$@"
  else
    (ulimit -v 2000000 2>/dev/null; exec $TIMEOUT "$@")
  fi
}

# replace_all FROM TO <IN >OUT: every occurrence of the text FROM (taken literally, not as a
# pattern) becomes TO.
replace_all() {
  awk -v from="$1" -v to="$2" '{
    out = ""; s = $0
    while ((i = index(s, from)) > 0) { out = out substr(s, 1, i - 1) to; s = substr(s, i + length(from)) }
    print out s
  }'
}
