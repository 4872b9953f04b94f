"""PyTorch peer of bench/models/fm_*.nn: the 784-128-64-10 ReLU MLP with softmax cross-entropy,
in plain eager PyTorch (nn.Linear, F.cross_entropy, torch.optim.SGD / Adam with their defaults).

  train: one epoch over the 60,000 preloaded training images in a fresh random order; the timer
         covers the loop only (batch gather, forward, loss, backward, optimizer step, loss.item()
         accumulated as nnc accumulates the epoch's loss). The permutation is drawn before the
         timer (nnc shuffles before its epoch timer too). Five throwaway steps on a separate
         model warm up the allocator and OpenBLAS's threads first (this favours PyTorch).
  infer: softmax outputs of the 10,000 test images in chunks of --batch rows under
         torch.no_grad(), repeated --reps times; prints rows per second.

Prints one JSON object on stdout. Threads: torch.set_num_threads(T); the driver also sets
OMP_NUM_THREADS and OPENBLAS_NUM_THREADS (and OPENBLAS_CORETYPE) before starting this process.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def make_model():
    return torch.nn.Sequential(
        torch.nn.Linear(784, 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 10))


def make_opt(name, params):
    if name == "sgd":
        return torch.optim.SGD(params, lr=0.1)
    return torch.optim.Adam(params, lr=0.001)


def step(model, opt, xb, yb):
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(xb), yb)
    loss.backward()
    opt.step()
    return loss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["train", "infer"])
    ap.add_argument("--opt", choices=["sgd", "adam"], default="sgd")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--reps", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    if a.mode == "train":
        xn, yn = fmnist.load("train")
        X, Y = torch.from_numpy(xn), torch.from_numpy(yn)
        rows, b = X.shape[0], a.batch
        warm = make_model()
        wopt = make_opt(a.opt, warm.parameters())
        for _ in range(5):
            step(warm, wopt, X[:b], Y[:b]).item()
        model = make_model()
        opt = make_opt(a.opt, model.parameters())
        perm = torch.randperm(rows)
        total = 0.0
        t0 = time.perf_counter()
        for s in range(0, rows, b):
            idx = perm[s:s + b]
            xb, yb = X[idx], Y[idx]
            loss = step(model, opt, xb, yb)
            total += loss.item() * xb.shape[0]
        sec = time.perf_counter() - t0
        print(json.dumps({"system": "torch", "mode": "train", "opt": a.opt, "batch": b,
                          "threads": a.threads, "seconds": sec, "loss": total / rows}))
    else:
        xn, _ = fmnist.load("t10k")
        X = torch.from_numpy(xn)
        model = make_model().eval()
        rows, b = X.shape[0], a.batch
        with torch.no_grad():
            for s in range(0, rows, b):  # warm-up pass
                model(X[s:s + b]).softmax(1)
            t0 = time.perf_counter()
            for _ in range(a.reps):
                for s in range(0, rows, b):
                    model(X[s:s + b]).softmax(1)
            sec = time.perf_counter() - t0
        print(json.dumps({"system": "torch", "mode": "infer", "batch": b, "threads": a.threads,
                          "seconds": sec, "rows_per_s": rows * a.reps / sec}))


if __name__ == "__main__":
    main()
