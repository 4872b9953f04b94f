#!/usr/bin/env bash
# setup.sh: from a fresh Debian 12 machine to a trained XOR network, in one idempotent command.
#
#   ./scripts/setup.sh              install what is missing, build nnc (Release), train examples/xor.nn
#   ./scripts/setup.sh --deps-only  install what is missing and stop (scripts/test.sh uses this)
#
# Everything comes from Debian's own packages; nothing else is downloaded. apt runs only when a
# package is missing, so a second run just rebuilds and trains.
set -euo pipefail

# What nnc needs to build and test, and the real data set of the later examples; clang-19 and
# libclang-rt-19-dev build the libFuzzer harnesses (scripts/fuzz.sh), valgrind checks nnc; Open MPI
# (openmpi-bin, libopenmpi-dev) builds and runs the data-parallel programs of nnc --mpi.
PACKAGES=(flex bison llvm-19-dev libcmocka-dev zlib1g-dev libedit-dev cmake gcc make
          dataset-fashion-mnist clang-19 libclang-rt-19-dev valgrind openmpi-bin libopenmpi-dev)

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'setup.sh: error: %s\n' "$*" >&2; exit 1; }

# The packages of PACKAGES that dpkg does not report as installed.
missing_packages() {
  local p status
  for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || printf '%s\n' "$p"
  done
}

install_deps() {
  step "Checking Debian packages: ${PACKAGES[*]}"
  command -v dpkg-query >/dev/null || die "dpkg-query not found: this script expects Debian 12"
  local missing
  mapfile -t missing < <(missing_packages)
  if ((${#missing[@]} == 0)); then
    echo "All ${#PACKAGES[@]} packages are installed."
    return 0
  fi
  echo "Missing: ${missing[*]}"
  if ((EUID != 0)); then
    die "installing packages needs root. Run as root, or install them yourself:
  apt-get update && apt-get install --no-install-recommends ${missing[*]}"
  fi
  step "Installing ${missing[*]}"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

main() {
  local deps_only=0
  case "${1-}" in
    "") ;;
    --deps-only) deps_only=1 ;;
    -h | --help) sed -n '2,8s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; return 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
  # Work from the repository root, wherever the script is called from.
  cd "$(dirname "${BASH_SOURCE[0]}")/.."

  install_deps
  ((deps_only)) && return 0

  step "Configuring build/ (Release)"
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release

  step "Building nnc and the runtime library"
  cmake --build build -j"$(nproc)"

  step "Compiling examples/xor.nn -> build/xor"
  build/nnc examples/xor.nn -o build/xor

  step "Training: build/xor"
  build/xor

  step "Asking the trained network: build/xor predict 1 0"
  build/xor predict 1 0

  step "Done. The compiler is build/nnc; run ./scripts/test.sh for the test suite."
}

main "$@"
