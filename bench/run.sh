#!/usr/bin/env bash
# bench/run.sh: builds nnc (Release) and runs the benchmark driver bench/bench.py with Debian's
# Python (/usr/bin/python3, where python3-torch and python3-numpy install).
#
#   bench/run.sh                          # everything, 5 rounds (about 8-10 minutes on 2 cores,
#                                         # and 3-5 minutes a round more for the cnn part)
#   bench/run.sh --rounds 3               # fewer rounds
#   bench/run.sh --parts train,xor        # some parts: train, xor, infer, compile, memory, cnn
#   bench/run.sh --skip torch             # leave a peer out (torch, numpy); --no-peers: nnc only
#   bench/run.sh --out results.json      # where every sample goes (default ./bench-results.json)
#
# Environment: NNC_BENCH_BUILD (default /tmp/build-bench) is the Release build directory;
# NNC_BENCH_NO_BUILD=1 uses the nnc already there; OPENBLAS_CORETYPE, if set, is passed to the
# peers as is (otherwise the driver sets SkylakeX on CPUs with AVX-512 and nothing elsewhere).
# The peers are optional: without them the driver says so and measures nnc alone. To install
# them (root, Debian 12): apt-get install -y python3-torch python3-numpy libopenblas-dev time
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="${NNC_BENCH_BUILD:-/tmp/build-bench}"
if [ "${NNC_BENCH_NO_BUILD:-0}" != 1 ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j2 --target nnc nnrt >/dev/null
fi
py=/usr/bin/python3
if [ ! -x "$py" ]; then py="$(command -v python3)"; fi
exec "$py" "$here/bench.py" --nnc "$build/nnc" "$@"
