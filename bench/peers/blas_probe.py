"""One OpenBLAS configuration's single-thread SGEMM, checked and timed (bench.py runs it once per
candidate OPENBLAS_CORETYPE to give the peers their fastest correct kernels). Prints one JSON
line: the OPENBLAS_CORETYPE it ran with, whether float32 products agree with float64 ones, and GFLOP/s on
the MLP's largest product shape (256 x 784 @ 784 x 128), best of several runs."""
import json
import os
import sys
import time

import numpy as np

np.random.seed(0)
a64 = np.random.standard_normal((256, 784))
b64 = np.random.standard_normal((784, 128))
a, b = a64.astype(np.float32), b64.astype(np.float32)
ref = a.astype(np.float64) @ b.astype(np.float64)
err = float(np.max(np.abs(a @ b - ref)) / np.max(np.abs(ref)))
best = float("inf")
for _ in range(30):
    t = time.perf_counter()
    for _ in range(10):
        a @ b
    best = min(best, (time.perf_counter() - t) / 10)
print(json.dumps({"coretype": os.environ.get("OPENBLAS_CORETYPE"), "max_rel_err": err,
                  "ok": err < 1e-4, "gflops": 2 * 256 * 784 * 128 / best / 1e9}))
sys.stdout.flush()
