#!/usr/bin/env bash
# test.sh: install what is missing (shared with setup.sh), build with debug information (warnings
# are errors), and run the test suite through ctest. The exit code is ctest's.
#
#   ./scripts/test.sh                 build/: every test
#   ./scripts/test.sh --sanitize      build-san/ (-DNNC_SANITIZE=ON: address, undefined-behaviour
#                                     and leak sanitizers, in nnc, the runtime and the programs
#                                     nnc links): every test but the slow ones (label slow)
#   ctest --test-dir build -L unit    afterwards, one layer: unit, golden, e2e, fuzz, hostile,
#                                     valgrind
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

dir=build
cmake_args=()
ctest_args=()
case "${1-}" in
  "") ;;
  --sanitize)
    dir=build-san
    cmake_args=(-DNNC_SANITIZE=ON)
    # The Fashion-MNIST runs take minutes under ASan; the normal build runs them.
    ctest_args=(-LE slow)
    # Every sanitizer report fails the run: UBSan stops at its first report (it only warns by
    # default), LSan reports leaks at exit (ASan's default), and an allocation beyond 2 GB
    # fails as it would under the goldens' `ulimit -v`, which ASan's shadow memory cannot run
    # under (tests/support/golden_lib.sh).
    export ASAN_OPTIONS=detect_leaks=1:max_allocation_size_mb=2048:allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}
    ;;
  -h | --help) sed -n '2,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) printf 'test.sh: error: unknown argument %s (try --help)\n' "$1" >&2; exit 2 ;;
esac

scripts/setup.sh --deps-only

printf '\n==> %s\n' "Configuring $dir/ (RelWithDebInfo${cmake_args:+, ${cmake_args[*]}})"
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${cmake_args[@]}"

printf '\n==> %s\n' "Building nnc, the runtime library and the tests in $dir/"
cmake --build "$dir" -j"$(nproc)"

printf '\n==> %s\n' "Running the tests in $dir/${ctest_args:+ (${ctest_args[*]})}"
rc=0
ctest --test-dir "$dir" --output-on-failure -j2 --no-tests=error "${ctest_args[@]}" || rc=$?
# A skipped test is easy to miss in ctest's list: repeat why each was skipped (the tests print
# "skipped: why" before they exit 77).
grep -h '^skipped: ' "$dir/Testing/Temporary/LastTest.log" 2>/dev/null | sort -u | sed 's/^/==> /' || true
exit "$rc"
