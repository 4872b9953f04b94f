"""Fashion-MNIST for the Python peers: the gzipped IDX files of Debian's dataset-fashion-mnist,
decoded once into float32 arrays scaled by 1/255 (as the nnc models' `scale = 1/255`) and cached
as .npy files, so that a peer process loads them in a fraction of a second. Loading is never
inside a timed region."""
import gzip
import os

import numpy as np

DATA_DIR = os.environ.get("NNC_BENCH_DATA", "/usr/share/datasets/fashion-mnist")
CACHE_DIR = os.environ.get("NNC_BENCH_CACHE", "/tmp/nnc-bench-cache")


def _read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(split="train"):
    """(x float32 [rows, 784] in [0, 1], y int64 [rows]) for split 'train' or 't10k'."""
    os.makedirs(CACHE_DIR, exist_ok=True)
    cx = os.path.join(CACHE_DIR, f"{split}-x.npy")
    cy = os.path.join(CACHE_DIR, f"{split}-y.npy")
    if not (os.path.exists(cx) and os.path.exists(cy)):
        x = _read_idx(os.path.join(DATA_DIR, f"{split}-images-idx3-ubyte.gz"))
        y = _read_idx(os.path.join(DATA_DIR, f"{split}-labels-idx1-ubyte.gz"))
        x = (x.reshape(x.shape[0], -1).astype(np.float32) * np.float32(1 / 255))
        np.save(cx + ".tmp.npy", x)
        np.save(cy + ".tmp.npy", y.astype(np.int64))
        os.replace(cx + ".tmp.npy", cx)
        os.replace(cy + ".tmp.npy", cy)
    return np.load(cx), np.load(cy)


if __name__ == "__main__":
    # Writes the cache, plus the test images as raw float32 for bench/infer.c.
    x, y = load("train")
    xt, yt = load("t10k")
    xt.tofile(os.path.join(CACHE_DIR, "t10k-x.f32"))
    print(f"train {x.shape} test {xt.shape} cached in {CACHE_DIR}")
