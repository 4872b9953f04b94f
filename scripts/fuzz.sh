#!/usr/bin/env bash
# fuzz.sh: fuzz nnc's input parsers with libFuzzer (clang-19), and whole generated programs, for a
# bounded time.
#
#   ./scripts/fuzz.sh                 each libFuzzer harness for 60 s (source, csv, idx, safetensors, checkpoint)
#   ./scripts/fuzz.sh -t 30 csv idx   30 s each, only those harnesses
#   ./scripts/fuzz.sh -t 3600 programs  generated programs end to end for an hour
#   ./scripts/fuzz.sh -t 600 repl     REPL sessions (tests/fuzz/repl_session.sh) for 600 s
#
# Configures build-fuzz/ with clang-19: the whole tree instrumented for libFuzzer's coverage and
# built with the address and undefined-behaviour sanitizers (warnings are not errors there; the
# gcc build checks them, and clang warns on the parser bison writes). Builds the fuzz_* programs
# and runs each with tests/fuzz/run.sh, as the CMake target `fuzz` does; corpora grow in
# build-fuzz/tests/fuzz/corpus/. Any crash, sanitizer report, leak, 10 s hang or allocation
# past 2 GB fails the run, and the input that caused it is saved in
# tests/fuzz/regressions/HARNESS/: ctest replays that directory from then on
# (fuzz_replay_HARNESS), so fix the bug and commit the file with the fix.
#
# The harness `programs` is not libFuzzer's: it configures build-gen/ (the default compiler,
# with NNC_SANITIZE, so nnc and the programs it links run under ASan and UBSan), builds nnc and
# tests/fuzz/gen_program, and runs tests/fuzz/gen_run.sh on random seeds for the time given:
# each generated program is compiled, trained, evaluated, queried, resumed and described, and
# one that fails is saved in tests/fuzz/regressions/programs/seed-N/ (fuzz_programs_replay).
# The harness `repl` runs tests/fuzz/repl_session.sh on build/nnc: 1,000-input sessions from
# random seeds until the time is up, the first also checking the memory bound over 1,000 inputs.
# `programs` and `repl` run only when named (ctest runs a short seeded campaign of each).
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
    -h | --help) sed -n '2,29s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    source | csv | idx | safetensors | checkpoint | programs | repl) harnesses+=("$1"); shift ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done
((${#harnesses[@]})) || harnesses=(source csv idx safetensors checkpoint)
libfuzzer=()
programs= repl=
for h in "${harnesses[@]}"; do
  case $h in
    programs) programs=1 ;;
    repl) repl=1 ;;
    *) libfuzzer+=("$h") ;;
  esac
done

scripts/setup.sh --deps-only

# programs_campaign: generated programs end to end in build-gen (sanitized); its exit status.
programs_campaign() {
  printf '\n==> %s\n' "Configuring build-gen/ (NNC_SANITIZE) for generated programs"
  cmake -S . -B build-gen -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNNC_SANITIZE=ON >/dev/null
  cmake --build build-gen -j"$(nproc)" --target nnc gen_program
  printf '\n==> %s\n' "Generated programs for $seconds s"
  sh tests/fuzz/gen_run.sh --nnc build-gen/nnc --gen build-gen/tests/fuzz/gen_program \
    --budget "$seconds" --save tests/fuzz/regressions/programs
}
# repl_campaign: REPL sessions on build/nnc for the time given; its exit status.
repl_campaign() {
  printf '\n==> %s\n' "Fuzzing repl sessions: $seconds s"
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j"$(nproc)" --target nnc
  local seed=$RANDOM end=$((SECONDS + seconds)) failed=0
  sh tests/fuzz/repl_session.sh build/nnc "$seed" 1 1000 1000 || failed=1
  while ((SECONDS < end)); do
    seed=$((seed + 1))
    sh tests/fuzz/repl_session.sh build/nnc "$seed" 1 1000 || failed=1
  done
  return "$failed"
}
# The campaigns that are not libFuzzer's; their exit status.
campaigns() {
  local status=0
  if [[ -n $repl ]]; then repl_campaign || status=1; fi
  if [[ -n $programs ]]; then programs_campaign || status=1; fi
  return "$status"
}
if ((${#libfuzzer[@]} == 0)); then
  campaigns
  exit
fi
command -v clang-19 >/dev/null || die "clang-19 is missing (apt-get install clang-19 libclang-rt-19-dev)"

printf '\n==> %s\n' "Configuring build-fuzz/ (clang-19, libFuzzer, ASan, UBSan)"
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-19 \
  -DNNC_SANITIZE=ON -DNNC_FUZZ=ON -DNNC_WERROR=OFF \
  "-DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link -fno-sanitize-recover=all" \
  -DNNC_FUZZ_SECONDS="$seconds" >/dev/null

printf '\n==> %s\n' "Building the harnesses"
targets=()
for h in "${libfuzzer[@]}"; do targets+=("fuzz_$h"); done
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}"

printf '\n==> %s\n' "Fuzzing ${libfuzzer[*]}: $seconds s each"
status=0
sh tests/fuzz/run.sh "$PWD/build-fuzz/tests/fuzz" "$seconds" "${libfuzzer[@]}" || status=$?
campaigns || status=1
exit "$status"
