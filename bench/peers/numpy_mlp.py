"""Plain numpy peer of bench/models/fm_*.nn: the 784-128-64-10 ReLU MLP with softmax
cross-entropy, forward and backward written out by hand in float32 (the textbook way, with
in-place updates), Glorot-uniform weights and zero biases as nnc's dense() has.

  train: one epoch over the 60,000 preloaded training images in a random order; the timer covers
         the loop only (batch gather, forward, loss, backward, SGD or Adam update). The order is
         drawn before the timer, and one throwaway step runs first.
  infer: softmax outputs of the 10,000 test images in chunks of --batch rows, --reps times.

Prints one JSON object. numpy's matrix products go to OpenBLAS (Debian's libblas.so.3
alternative); its threads are OPENBLAS_NUM_THREADS, which the driver sets."""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist  # noqa: E402
import numpy as np  # noqa: E402

F32 = np.float32
SIZES = [784, 128, 64, 10]


def init(rng):
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        lim = np.sqrt(6.0 / (fan_in + fan_out))
        params.append(rng.uniform(-lim, lim, (fan_in, fan_out)).astype(F32))
        params.append(np.zeros(fan_out, F32))
    return params


def forward(p, x):
    W1, b1, W2, b2, W3, b3 = p
    z1 = x @ W1
    z1 += b1
    a1 = np.maximum(z1, 0, out=z1)
    z2 = a1 @ W2
    z2 += b2
    a2 = np.maximum(z2, 0, out=z2)
    z3 = a2 @ W3
    z3 += b3
    return a1, a2, z3


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    e /= e.sum(axis=1, keepdims=True)
    return e


def grads(p, x, y):
    """Mean cross-entropy of the batch and the gradients of the six parameters."""
    W1, b1, W2, b2, W3, b3 = p
    n = x.shape[0]
    a1, a2, z3 = forward(p, x)
    prob = softmax(z3)
    rows = np.arange(n)
    loss = -np.log(prob[rows, y]).mean()
    d3 = prob
    d3[rows, y] -= 1
    d3 *= F32(1.0 / n)
    gW3 = a2.T @ d3
    gb3 = d3.sum(axis=0)
    d2 = d3 @ W3.T
    d2 *= a2 > 0
    gW2 = a1.T @ d2
    gb2 = d2.sum(axis=0)
    d1 = d2 @ W2.T
    d1 *= a1 > 0
    gW1 = x.T @ d1
    gb1 = d1.sum(axis=0)
    return float(loss), [gW1, gb1, gW2, gb2, gW3, gb3]


class SGD:
    def __init__(self, params, lr=0.1):
        self.p, self.lr = params, F32(lr)

    def step(self, g):
        for p, gp in zip(self.p, g):
            gp *= self.lr
            p -= gp


class Adam:
    def __init__(self, params, lr=0.001, b1=0.9, b2=0.999, eps=1e-8):
        self.p, self.lr, self.b1, self.b2, self.eps = params, lr, b1, b2, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, g):
        self.t += 1
        b1, b2 = self.b1, self.b2
        alpha = F32(self.lr * np.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t))
        for p, gp, m, v in zip(self.p, g, self.m, self.v):
            m *= F32(b1)
            m += F32(1 - b1) * gp
            v *= F32(b2)
            gp *= gp
            gp *= F32(1 - b2)
            v += gp
            d = np.sqrt(v)
            d += F32(self.eps)
            np.divide(m, d, out=d)
            d *= alpha
            p -= d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["train", "infer"])
    ap.add_argument("--opt", choices=["sgd", "adam"], default="sgd")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1, help="recorded only: set OPENBLAS_NUM_THREADS")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--reps", type=int, default=10)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    if a.mode == "train":
        X, Y = fmnist.load("train")
        rows, b = X.shape[0], a.batch
        p = init(rng)
        opt = SGD(p) if a.opt == "sgd" else Adam(p)
        warm = init(rng)
        (SGD(warm) if a.opt == "sgd" else Adam(warm)).step(grads(warm, X[:b], Y[:b])[1])
        perm = rng.permutation(rows)
        total = 0.0
        t0 = time.perf_counter()
        for s in range(0, rows, b):
            idx = perm[s:s + b]
            xb, yb = X[idx], Y[idx]
            loss, g = grads(p, xb, yb)
            opt.step(g)
            total += loss * xb.shape[0]
        sec = time.perf_counter() - t0
        print(json.dumps({"system": "numpy", "mode": "train", "opt": a.opt, "batch": b,
                          "threads": a.threads, "seconds": sec, "loss": total / rows}))
    else:
        X, _ = fmnist.load("t10k")
        p = init(rng)
        rows, b = X.shape[0], a.batch
        for s in range(0, rows, b):
            softmax(forward(p, X[s:s + b])[2])
        t0 = time.perf_counter()
        for _ in range(a.reps):
            for s in range(0, rows, b):
                softmax(forward(p, X[s:s + b])[2])
        sec = time.perf_counter() - t0
        print(json.dumps({"system": "numpy", "mode": "infer", "batch": b, "threads": a.threads,
                          "seconds": sec, "rows_per_s": rows * a.reps / sec}))


if __name__ == "__main__":
    main()
