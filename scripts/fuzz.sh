#!/usr/bin/env bash
# fuzz.sh: fuzz nnc's input parsers with libFuzzer for a bounded time (clang-19).
#
#   ./scripts/fuzz.sh                 each harness for 60 s (source, csv, idx, safetensors, checkpoint)
#   ./scripts/fuzz.sh -t 30 csv idx   30 s each, only those harnesses
#
# Configures build-fuzz/ with clang-19: the whole tree instrumented for libFuzzer's coverage and
# built with the address and undefined-behaviour sanitizers (warnings are not errors there; the
# gcc build checks them, and clang warns on the parser bison writes). Builds the fuzz_* programs
# and runs each with tests/fuzz/run.sh, as the CMake target `fuzz` does; corpora grow in
# build-fuzz/tests/fuzz/corpus/. Any crash, sanitizer report, leak, 10 s hang or allocation
# past 2 GB fails the run, and the input that caused it is saved in
# tests/fuzz/regressions/HARNESS/: ctest replays that directory from then on
# (fuzz_replay_HARNESS), so fix the bug and commit the file with the fix.
# Exit 0 when every harness ran clean, 1 when one found something, 2 on a usage error.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

die() { printf 'fuzz.sh: error: %s\n' "$*" >&2; exit 2; }

seconds=60
harnesses=()
while (($#)); do
  case $1 in
    -t | --seconds) [[ ${2-} =~ ^[1-9][0-9]*$ ]] || die "$1 needs a number of seconds"
                    seconds=$2; shift 2 ;;
    -h | --help) sed -n '2,15s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    source | csv | idx | safetensors | checkpoint) harnesses+=("$1"); shift ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done
((${#harnesses[@]})) || harnesses=(source csv idx safetensors checkpoint)

scripts/setup.sh --deps-only
command -v clang-19 >/dev/null || die "clang-19 is missing (apt-get install clang-19 libclang-rt-19-dev)"

printf '\n==> %s\n' "Configuring build-fuzz/ (clang-19, libFuzzer, ASan, UBSan)"
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-19 \
  -DNNC_SANITIZE=ON -DNNC_FUZZ=ON -DNNC_WERROR=OFF \
  "-DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link -fno-sanitize-recover=all" \
  -DNNC_FUZZ_SECONDS="$seconds" >/dev/null

printf '\n==> %s\n' "Building the harnesses"
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}"

printf '\n==> %s\n' "Fuzzing ${harnesses[*]}: $seconds s each"
exec sh tests/fuzz/run.sh "$PWD/build-fuzz/tests/fuzz" "$seconds" "${harnesses[@]}"
