"""PyTorch peer of examples/fashion_cnn.nn: conv 32 3x3 same + ReLU, max-pool 2, conv 64 3x3 same
+ ReLU, max-pool 2, flatten, dense 128 ReLU (dropout --dropout when the example has one), dense
10, softmax cross-entropy, torch.optim.Adam(lr=0.001) with its defaults, in plain eager PyTorch
(nn.Conv2d, nn.MaxPool2d, nn.Linear, F.cross_entropy, PyTorch's default initialisation).

  train: one epoch over the 60,000 preloaded training images, batch --batch, in a fresh random
         order; the timer covers the loop only (batch gather, forward, loss, backward, Adam step,
         loss.item() accumulated as nnc accumulates the epoch's loss). The permutation is drawn
         before the timer; five throwaway steps on a separate model warm up oneDNN's primitive
         cache and the allocator first (this favours PyTorch).
  infer: softmax outputs of the 10,000 test images in chunks of --batch rows, model.eval() under
         torch.no_grad(), one warm-up pass then --reps passes; prints images per second.
  probe: the settings check, not timed by the driver: whether oneDNN (mkldnn) is available and
         which aten convolution ops a training step and an inference pass dispatch to (from the
         autograd profiler), and seconds per training step and per inference chunk with the
         contiguous (NCHW) and the channels_last (NHWC) memory format; "train_layout" and
         "infer_layout" name the faster, which the driver then passes as --layout.
  full:  --epochs (default 10) epochs, printing the test accuracy after each (the docs'
         accuracy comparison; not part of the timed runs).

Prints JSON on stdout (full: one object per epoch). Threads: torch.set_num_threads(T); the driver
also sets OMP_NUM_THREADS and OPENBLAS_NUM_THREADS (and OPENBLAS_CORETYPE) for this process.
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

nn = torch.nn
LAYOUTS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


def make_model(dropout, layout):
    layers = [nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
              nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
              nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(128, 10))
    return nn.Sequential(*layers).to(memory_format=LAYOUTS[layout])


def images(split, layout):
    xn, yn = fmnist.load(split)
    x = torch.from_numpy(xn).view(-1, 1, 28, 28).contiguous(memory_format=LAYOUTS[layout])
    return x, torch.from_numpy(yn)


def step(model, opt, xb, yb):
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(xb), yb)
    loss.backward()
    opt.step()
    return loss


def warmed_model(a, layout, X, Y):
    """A fresh model and optimizer, after a few throwaway steps on another model."""
    warm = make_model(a.dropout, layout)
    wopt = torch.optim.Adam(warm.parameters(), lr=0.001)
    for _ in range(5):
        step(warm, wopt, X[:a.batch], Y[:a.batch]).item()
    model = make_model(a.dropout, layout)
    return model, torch.optim.Adam(model.parameters(), lr=0.001)


def train_epoch(model, opt, X, Y, b):
    """One epoch in a fresh order: (seconds of the loop, mean loss)."""
    rows = X.shape[0]
    perm = torch.randperm(rows)
    total = 0.0
    model.train()
    t0 = time.perf_counter()
    for s in range(0, rows, b):
        idx = perm[s:s + b]
        xb, yb = X[idx], Y[idx]
        total += step(model, opt, xb, yb).item() * xb.shape[0]
    return time.perf_counter() - t0, total / rows


@torch.no_grad()
def infer_pass(model, X, b):
    for s in range(0, X.shape[0], b):
        model(X[s:s + b]).softmax(1)


def accuracy(model, X, Y, b):
    model.eval()
    correct = 0
    with torch.no_grad():
        for s in range(0, X.shape[0], b):
            correct += (model(X[s:s + b]).argmax(1) == Y[s:s + b]).sum().item()
    return correct / X.shape[0]


def conv_ops(fn):
    """The aten convolution ops fn dispatches to (mkldnn_convolution is oneDNN's path)."""
    with torch.autograd.profiler.profile() as prof:
        fn()
    return sorted({e.name for e in prof.function_events if "conv" in e.name})


def seconds_per_call(fn, calls=5):
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def probe(a):
    out = {"mkldnn_available": torch.backends.mkldnn.is_available(),
           "mkldnn_enabled": torch.backends.mkldnn.enabled, "threads": a.threads}
    calls = {}  # "LAYOUT_train_step_s" / "LAYOUT_infer_chunk_s" -> the call it times
    for layout in LAYOUTS:
        X, Y = images("train", layout)
        model, opt = warmed_model(a, layout, X, Y)
        xb, yb, xi = X[:a.batch], Y[:a.batch], X[:a.infer_batch]
        out[f"{layout}_train_ops"] = conv_ops(lambda: step(model, opt, xb, yb))
        with torch.no_grad():
            out[f"{layout}_infer_ops"] = conv_ops(lambda: model.eval()(xi))
        model.train()
        eval_model = make_model(a.dropout, layout).eval()
        calls[f"{layout}_train_step_s"] = lambda m=model, o=opt, x=xb, y=yb: step(m, o, x, y)
        calls[f"{layout}_infer_chunk_s"] = lambda m=eval_model, x=xi: infer_pass(m, x, len(x))
    # Three interleaved blocks of each, keeping each one's least: the layouts meet the same load,
    # the least is the block that other processes on the machine disturbed least, and the first
    # block's warm-up is not it.
    for key in calls:
        out[key] = float("inf")
    for _ in range(3):
        for key, fn in calls.items():
            out[key] = min(out[key], seconds_per_call(fn))
    for mode, key in (("train", "train_step_s"), ("infer", "infer_chunk_s")):
        out[f"{mode}_layout"] = min(LAYOUTS, key=lambda lay: out[f"{lay}_{key}"])
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["train", "infer", "probe", "full"])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--infer-batch", type=int, default=256, help="probe: the inference chunk")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--layout", choices=list(LAYOUTS), default="contiguous")
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    common = {"system": "torch", "mode": a.mode, "batch": a.batch, "threads": a.threads,
              "layout": a.layout, "dropout": a.dropout}

    if a.mode == "probe":
        probe(a)
    elif a.mode == "train":
        X, Y = images("train", a.layout)
        model, opt = warmed_model(a, a.layout, X, Y)
        sec, loss = train_epoch(model, opt, X, Y, a.batch)
        print(json.dumps(dict(common, seconds=sec, loss=loss)))
    elif a.mode == "infer":
        X, _ = images("t10k", a.layout)
        model = make_model(a.dropout, a.layout).eval()
        infer_pass(model, X, a.batch)
        t0 = time.perf_counter()
        for _ in range(a.reps):
            infer_pass(model, X, a.batch)
        sec = time.perf_counter() - t0
        print(json.dumps(dict(common, seconds=sec, rows_per_s=X.shape[0] * a.reps / sec)))
    else:
        X, Y = images("train", a.layout)
        Xt, Yt = images("t10k", a.layout)
        model = make_model(a.dropout, a.layout)
        opt = torch.optim.Adam(model.parameters(), lr=0.001)
        for e in range(1, a.epochs + 1):
            sec, loss = train_epoch(model, opt, X, Y, a.batch)
            print(json.dumps(dict(common, epoch=e, seconds=sec, loss=loss,
                                  test_accuracy=accuracy(model, Xt, Yt, 1000))), flush=True)


if __name__ == "__main__":
    main()
