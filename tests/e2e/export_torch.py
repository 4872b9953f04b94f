"""export_torch.py MODE WEIGHTS DATA PREDICTIONS: loads nnc's safetensors weights outside nnc and
checks that the same network answers what `./m predict --data DATA` printed (PREDICTIONS).

MODE flats-numpy: examples/flats.nn (dense layers, tanh, standardised inputs) in numpy alone.
MODE flats-torch: the same model as torch.nn.Linear layers.
MODE bars-torch:  tests/e2e/cnn_lib.sh's bars CNN (conv, batch norm, max pool, dropout, dense,
                  softmax; inputs scaled by 1/9) as torch.nn modules.
The layouts docs/export.md describes: a dense layer's W is [in, out] (nn.Linear's weight is
[out, in]: transpose it), a conv2d's W is [filters, C, kh, kw] as in PyTorch, batch norm's
gamma/beta/running_mean/running_var are weight/bias/running_mean/running_var, and a model
with standardize = true holds __standardize.mean and __standardize.std: (x - mean) / std.
Exit 0 when every output agrees to 1e-4, 1 when one does not, 77 when torch is missing."""
import json
import struct
import sys

import numpy as np


def read_safetensors(path):
    """Every tensor of a safetensors file as a float32 or int64 numpy array, by name."""
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    dtypes = {"F32": "<f4", "I64": "<i8"}
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        raw = blob[8 + n + a:8 + n + b]
        out[name] = np.frombuffer(raw, dtype=dtypes[t["dtype"]]).reshape(t["shape"])
    return out


def read_rows(path, n_inputs, header):
    rows = np.loadtxt(path, delimiter=",", skiprows=1 if header else 0, dtype=np.float64)
    return rows[:, :n_inputs].astype(np.float32)


def expected(path):
    """The numbers ./m predict printed, one row a line; "  class K" dropped."""
    with open(path) as f:
        return np.array([[float(v) for v in line.split("class")[0].split()] for line in f])


def flats_numpy(w, x):
    x = (x - w["__standardize.mean"]) / w["__standardize.std"]
    h1 = np.tanh(x @ w["h1.W"] + w["h1.b"])  # W is [in, out]: x @ W, no transpose
    h2 = np.tanh(h1 @ w["h2.W"] + w["h2.b"])
    return 100 * (h2 @ w["y.W"] + w["y.b"])


def torch_or_skip():
    try:
        import torch
    except ImportError:
        print("SKIP: torch is not importable by %s" % sys.executable)
        sys.exit(77)
    return torch


def linear(torch, w, name):
    """nn.Linear from nnc's dense layer NAME: its weight is W transposed."""
    W = torch.from_numpy(w[name + ".W"].copy())
    lin = torch.nn.Linear(W.shape[0], W.shape[1])
    with torch.no_grad():
        lin.weight.copy_(W.T)
        lin.bias.copy_(torch.from_numpy(w[name + ".b"].copy()))
    return lin


def flats_torch(w, x):
    torch = torch_or_skip()
    net = torch.nn.Sequential(linear(torch, w, "h1"), torch.nn.Tanh(), linear(torch, w, "h2"),
                              torch.nn.Tanh(), linear(torch, w, "y"))
    mean, std = (torch.from_numpy(w["__standardize." + k].copy()) for k in ("mean", "std"))
    with torch.no_grad():
        return 100 * net((torch.from_numpy(x) - mean) / std).numpy()


def bars_torch(w, x):
    torch = torch_or_skip()
    nn = torch.nn

    def conv(name, c_in, filters):
        c = nn.Conv2d(c_in, filters, 3, padding=1, bias=False)  # padding "same"
        with torch.no_grad():
            c.weight.copy_(torch.from_numpy(w[name + ".W"].copy()))  # [F, C, kh, kw] as is
        return c

    def batch_norm(name, channels, momentum):
        bn = nn.BatchNorm2d(channels, eps=1e-5, momentum=momentum)
        with torch.no_grad():
            for ours, theirs in (("gamma", "weight"), ("beta", "bias"),
                                 ("running_mean", "running_mean"), ("running_var", "running_var")):
                getattr(bn, theirs).copy_(torch.from_numpy(w[name + "." + ours].copy()))
        return bn

    net = nn.Sequential(conv("c1", 1, 6), batch_norm("n1", 6, 0.1), nn.ReLU(), nn.MaxPool2d(2),
                        conv("c2", 6, 8), batch_norm("n2", 8, 0.2), nn.ReLU(), nn.Flatten(),
                        nn.Dropout(0.2), linear(torch, w, "z"), nn.Softmax(dim=1))
    net.eval()  # running statistics, no dropout: what predict computes
    with torch.no_grad():
        return net(torch.from_numpy(x / np.float32(9)).reshape(-1, 1, 6, 6)).numpy()


MODES = {  # mode: (forward, inputs per row, the data file has a header)
    "flats-numpy": (flats_numpy, 4, True),
    "flats-torch": (flats_torch, 4, True),
    "bars-torch": (bars_torch, 36, False),
}


def main():
    mode, weights, data, predictions = sys.argv[1:5]
    forward, n_inputs, header = MODES[mode]
    got = np.asarray(forward(read_safetensors(weights), read_rows(data, n_inputs, header)))
    want = expected(predictions)
    if got.shape != want.shape:
        print("FAIL: %s gives %s outputs, ./m predict %s" % (mode, got.shape, want.shape))
        return 1
    # predict prints %.6g: agree to its 6 digits (and rounding), relative to the size.
    err = np.max(np.abs(got - want) / np.maximum(np.abs(want), 1))
    ok = err < 1e-4
    print("%s: %s on %d rows, largest difference %.3g" % (mode, "ok" if ok else "FAIL",
                                                           len(want), err))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
