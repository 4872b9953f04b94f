#!/usr/bin/env bash
# test.sh: install what is missing (shared with setup.sh), build build/ with debug information
# (warnings are errors), and run the whole test suite through ctest. The exit code is ctest's.
#
#   ./scripts/test.sh                 every test
#   ctest --test-dir build -L unit    afterwards, one layer: unit, golden or e2e
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh --deps-only

printf '\n==> %s\n' "Configuring build/ (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo

printf '\n==> %s\n' "Building nnc, the runtime library and the tests"
cmake --build build -j"$(nproc)"

printf '\n==> %s\n' "Running the tests"
rc=0
ctest --test-dir build --output-on-failure -j2 --no-tests=error || rc=$?
exit "$rc"
