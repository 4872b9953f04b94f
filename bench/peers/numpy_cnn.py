"""Plain numpy peer of examples/fashion_cnn.nn (the network of bench/peers/torch_cnn.py): conv 32
3x3 same + ReLU, max-pool 2, conv 64 3x3 same + ReLU, max-pool 2, flatten, dense 128 ReLU
(dropout --dropout), dense 10, softmax cross-entropy, Adam lr 0.001, forward and backward by hand
in float32, the textbook way: images as [n, H, W, C]; a convolution is im2col (a strided window
view copied to [n*H*W, C*9]) times the [C*9, F] kernel matrix, its weight gradient colsᵀ @ δ, its
input gradient δ @ Wᵀ folded back (col2im) by nine shifted adds; max-pool's gradient goes to
the window's first maximum. He-normal kernels, Glorot-uniform dense weights, zero biases (nnc's
defaults).

  train: one epoch over the 60,000 preloaded training images in a random order; the timer covers
         the loop only (batch gather, forward, loss, backward, Adam update). One throwaway step
         runs first.
  infer: softmax outputs of the 10,000 test images in chunks of --batch rows, --reps times.

Prints one JSON object. The matrix products go to OpenBLAS (OPENBLAS_NUM_THREADS threads)."""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist  # noqa: E402
import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402
from numpy_mlp import Adam, softmax  # noqa: E402

F32 = np.float32
CONVS = [(1, 32), (32, 64)]  # (channels in, filters), 3x3, padding 1
DENSE = [(64 * 7 * 7, 128), (128, 10)]


def init(rng):
    p = []
    for c, f in CONVS:
        p += [rng.normal(0, np.sqrt(2.0 / (9 * c)), (9 * c, f)).astype(F32), np.zeros(f, F32)]
    for fan_in, fan_out in DENSE:
        lim = np.sqrt(6.0 / (fan_in + fan_out))
        p += [rng.uniform(-lim, lim, (fan_in, fan_out)).astype(F32), np.zeros(fan_out, F32)]
    return p


def im2col(x):
    """[n, H, W, C] -> [n*H*W, C*9]: each output pixel's 3x3xC window, zero-padded."""
    n, h, w, c = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    return sliding_window_view(xp, (3, 3), axis=(1, 2)).reshape(n * h * w, c * 9)


def col2im(dcols, shape):
    """The adjoint of im2col: each window's gradient added back to the pixels it read."""
    n, h, w, c = shape
    d = dcols.reshape(n, h, w, c, 3, 3)
    dxp = np.zeros((n, h + 2, w + 2, c), F32)
    for i in range(3):
        for j in range(3):
            dxp[:, i:i + h, j:j + w, :] += d[..., i, j]
    return dxp[:, 1:-1, 1:-1, :]


def conv_relu_pool(x, W, b):
    n, h, w, _ = x.shape
    cols = im2col(x)
    a = cols @ W
    a += b
    np.maximum(a, 0, out=a)
    # each 2x2 window's four values side by side: [n, H/2, W/2, 4, F]
    a = a.reshape(n, h // 2, 2, w // 2, 2, -1).transpose(0, 1, 3, 2, 4, 5).reshape(
        n, h // 2, w // 2, 4, -1)
    first_max = a.argmax(axis=3)[:, :, :, None]
    out = np.take_along_axis(a, first_max, 3)[:, :, :, 0]
    return out, (x.shape, cols, first_max, out)


def conv_relu_pool_back(dout, W, cache, need_dx):
    shape, cols, first_max, out = cache
    n, h2, w2, f = out.shape
    dout = dout * (out > 0)  # ReLU: a window whose maximum is 0 passes nothing
    d = np.zeros((n, h2, w2, 4, f), F32)
    np.put_along_axis(d, first_max, dout[:, :, :, None], 3)  # to the window's first maximum
    d = d.reshape(n, h2, w2, 2, 2, f).transpose(0, 1, 3, 2, 4, 5).reshape(cols.shape[0], f)
    dW, db = cols.T @ d, d.sum(axis=0)
    return (col2im(d @ W.T, shape) if need_dx else None), dW, db


def grads(p, x, y, rng, dropout):
    """Mean cross-entropy of the batch and the gradients of the eight parameters."""
    W1, b1, W2, b2, W3, b3, W4, b4 = p
    n = x.shape[0]
    o1, c1 = conv_relu_pool(x.reshape(n, 28, 28, 1), W1, b1)
    o2, c2 = conv_relu_pool(o1, W2, b2)
    f = o2.reshape(n, -1)
    h = f @ W3
    h += b3
    np.maximum(h, 0, out=h)
    if dropout > 0:
        h *= (rng.random(h.shape, F32) >= dropout) * F32(1 / (1 - dropout))
    prob = softmax(h @ W4 + b4)
    rows = np.arange(n)
    loss = -np.log(prob[rows, y]).mean()
    d4 = prob
    d4[rows, y] -= 1
    d4 *= F32(1.0 / n)
    gW4, gb4 = h.T @ d4, d4.sum(axis=0)
    d3 = d4 @ W4.T
    d3 *= h > 0  # ReLU and the dropout mask: h is 0 where either dropped it
    gW3, gb3 = f.T @ d3, d3.sum(axis=0)
    do2 = (d3 @ W3.T).reshape(o2.shape)
    do1, gW2, gb2 = conv_relu_pool_back(do2, W2, c2, True)
    _, gW1, gb1 = conv_relu_pool_back(do1, W1, c1, False)
    return float(loss), [gW1, gb1, gW2, gb2, gW3, gb3, gW4, gb4]


def predict(p, x):
    W1, b1, W2, b2, W3, b3, W4, b4 = p
    o, _ = conv_relu_pool(x.reshape(x.shape[0], 28, 28, 1), W1, b1)
    o, _ = conv_relu_pool(o, W2, b2)
    return softmax(np.maximum(o.reshape(x.shape[0], -1) @ W3 + b3, 0) @ W4 + b4)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["train", "infer"])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1,
                    help="recorded only: set OPENBLAS_NUM_THREADS")
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--rows", type=int, default=0, help="train on the first ROWS rows (0: all)")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    common = {"system": "numpy", "mode": a.mode, "batch": a.batch, "threads": a.threads}
    if a.mode == "train":
        X, Y = fmnist.load("train")
        if a.rows:
            X, Y = X[:a.rows], Y[:a.rows]
        rows, b = X.shape[0], a.batch
        p = init(rng)
        opt = Adam(p)
        warm = init(rng)
        Adam(warm).step(grads(warm, X[:b], Y[:b], rng, a.dropout)[1])
        perm = rng.permutation(rows)
        total = 0.0
        t0 = time.perf_counter()
        for s in range(0, rows, b):
            idx = perm[s:s + b]
            loss, g = grads(p, X[idx], Y[idx], rng, a.dropout)
            opt.step(g)
            total += loss * len(idx)
        sec = time.perf_counter() - t0
        print(json.dumps(dict(common, seconds=sec, loss=total / rows, rows=rows)))
    else:
        X, _ = fmnist.load("t10k")
        p = init(rng)
        rows, b = X.shape[0], a.batch
        t0 = time.perf_counter()
        for _ in range(a.reps):
            for s in range(0, rows, b):
                predict(p, X[s:s + b])
        sec = time.perf_counter() - t0
        print(json.dumps(dict(common, seconds=sec, rows_per_s=rows * a.reps / sec)))


if __name__ == "__main__":
    main()
