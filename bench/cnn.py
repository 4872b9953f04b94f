"""The benchmark's cnn part (bench/bench.py --parts cnn): examples/fashion_cnn.nn against
bench/peers/torch_cnn.py (eager PyTorch, oneDNN convolutions) and bench/peers/numpy_cnn.py.

  train  one epoch of the 60,000 training images at batch 64 with Adam, 1 and 2 threads. nnc runs
         a benchmark variant of the example (bench_variant: no validation, no schedule or
         checkpoints, so its --log-json "seconds" is the training loop alone) as
         `./cnn train --epochs 1 --batch 64 --threads T --log-json F`; PyTorch times its loop over
         preloaded tensors in the memory format its probe found faster; numpy (a whole epoch
         takes it about a minute) times its first --cnn-numpy-rows rows and is scaled to 60,000.
  infer  softmax outputs of the 10,000 test images in chunks of 256, 1 thread, images/s: nnc's
         library object of the variant with batch 256 (bench/infer.c) against the peers' infer.
  share  the convolutions' arithmetic per epoch (conv_flops, analytic) over the measured epoch
         seconds, as a share of the FMA peak bench/peak.c measures at the same thread count:
         a lower bound of the convolution kernels' rate, since the epoch also holds the dense
         layers, pooling, the loss and the Adam update.

The nnc model is examples/fashion_cnn.nn, or the .nn file of the same network that bench.py
--cnn-example PATH names; without it the nnc rows are skipped with a message and the peers run.
"""
import os
import re

from util import PY, fmt, last_json, log, median, ratio, run

ROWS, TEST_ROWS = 60000, 10000
TRAIN_CFGS = ("train b64 t1", "train b64 t2")
INFER_CFG = "infer b256 t1"
# (input channels, filters, output height = width) of the example's 3x3 "same" convolutions
CONVS = [(1, 32, 28), (32, 64, 14)]
K2 = 9
# train-block settings that would put validation, checkpoints or a varying rate into the epoch
DROPPED = ("validate", "validation_split", "early_stopping", "checkpoint_every", "schedule",
           "warmup")


def conv_flops():
    """(training FLOP per image, inference FLOP per image) of the convolutions. A layer's forward
    is 2·OH·OW·F·C·k² per image; its weight gradient and its input gradient are each as much
    again, and the first layer has no input gradient (its input is the data)."""
    fwd = [2 * oh * oh * f * c * K2 for c, f, oh in CONVS]
    train = sum(3 * x for x in fwd) - fwd[0]
    return train, sum(fwd)


def bench_variant(src, batch):
    """The example's source with `batch = B` in its train block and the DROPPED settings removed
    (a setting's value may span lines inside one pair of parentheses)."""
    value = r"(?:\w+\s*\([^()]*\)|[^\n]*)"
    for key in DROPPED:
        src = re.sub(rf"^[ \t]*{key}[ \t]*=[ \t]*{value}[ \t]*\n", "", src, flags=re.M)
    src, n = re.subn(r"^([ \t]*batch[ \t]*=[ \t]*)\d+", rf"\g<1>{batch}", src, flags=re.M)
    if n != 1:
        raise RuntimeError(f"the CNN example: expected one `batch = N` in its train block, "
                           f"found {n}")
    return src


def dropout_rate(src):
    """The rate of the example's dropout, its call's last argument (0: none)."""
    m = re.search(r"dropout\s*\([^\n]*?,\s*(?:(?:p|rate)\s*=\s*)?([0-9.eE+-]+)\s*\)", src)
    return float(m.group(1)) if m else 0.0


def parse_peak(out):
    """bench/peak.c's lines `VARIANT tT: G GFLOP/s ...` as {(variant, T): G}."""
    return {(m.group(1), int(m.group(2))): float(m.group(3))
            for m in re.finditer(r"^(\w+) t(\d+): ([\d.]+) GFLOP/s", out, re.M)}


class CnnPart:
    def __init__(self, b, here, root):
        self.b, self.here, self.root = b, here, root
        self.ready = False
        self.exe = None  # nnc's training program; None when the example does not exist
        self.infer_exe = None
        self.layout = {"train": "contiguous", "infer": "contiguous"}
        self.dropout = 0.0

    # ---- setup -------------------------------------------------------------------------------
    def setup(self):
        self.ready = True
        src_path = os.path.join(self.root, self.b.a.cnn_example)
        if os.path.exists(src_path):
            with open(src_path) as f:
                src = f.read()
            self.dropout = dropout_rate(src)
            self.compile_nnc(src)
        else:
            log(f"  cnn: nnc rows skipped: {src_path} does not exist yet")
        if "torch" in self.b.peers:
            self.probe_torch()
        self.b.info["cnn_dropout"] = self.dropout

    def compile_nnc(self, src):
        tmp = self.b.tmp
        for batch in (64, 256):
            with open(os.path.join(tmp, f"cnn_b{batch}.nn"), "w") as f:
                f.write(bench_variant(src, batch))
        self.exe = os.path.join(tmp, "cnn")
        run([self.b.nnc, os.path.join(tmp, "cnn_b64.nn"), "-o", self.exe])
        d = os.path.join(tmp, "cnn_infer")
        os.makedirs(d, exist_ok=True)
        run([self.b.nnc, os.path.join(tmp, "cnn_b256.nn"), "-c", "-o",
                  os.path.join(d, "fashion.o"), "--header", os.path.join(d, "fashion.h"),
                  "--prefix", "fashion"])
        self.infer_exe = os.path.join(d, "infer")
        cc = os.environ.get("CC", "cc")
        run([cc, "-O2", "-I", d, os.path.join(self.here, "infer.c"),
                  os.path.join(d, "fashion.o"), self.b.rt, "-lz", "-lm", "-pthread", "-o",
                  self.infer_exe])

    def probe_torch(self):
        """oneDNN's availability, the conv ops dispatched and the faster memory format."""
        for t in (1, 2):
            _, out = run([PY, self.peer("torch"), "probe", "--threads", str(t),
                               "--dropout", str(self.dropout)], env=self.b.peer_env(t))
            p = last_json(out)
            if t == 1:
                self.layout = {"train": p["train_layout"], "infer": p["infer_layout"]}
                self.b.info["torch_mkldnn_available"] = p["mkldnn_available"]
                self.b.info["torch_conv_ops"] = p["channels_last_train_ops"]
            self.b.info[f"torch_cnn_probe_t{t}"] = {
                k: round(v, 5) if isinstance(v, float) else v for k, v in p.items()
                if k.endswith("_s") or k.endswith("_layout")}
        self.b.info["torch_cnn_layout"] = self.layout

    def peer(self, system):
        return os.path.join(self.here, "peers", f"{system}_cnn.py")

    # ---- one round ---------------------------------------------------------------------------
    def round(self, r):
        if not self.ready:
            self.setup()
        systems = (["nnc"] if self.exe else []) + self.b.peers
        k = r % max(len(systems), 1)
        order = systems[k:] + systems[:k]
        for t in (1, 2):
            for s in order:
                self.train_one(s, t)
        for s in order:
            self.infer_one(s)
        log(f"  cnn: round {r + 1} done")

    def train_one(self, system, t):
        cfg = f"train b64 t{t}"
        if system == "nnc":
            js = os.path.join(self.b.tmp, "cnn.json")
            run([self.exe, "train", "--epochs", "1", "--batch", "64", "--threads", str(t),
                 "--log-json", js, "--save", os.path.join(self.b.tmp, "cnn.safetensors")],
                env=self.b.env)
            with open(js) as f:
                e = last_json(f.read())
            self.b.add("cnn", "nnc", cfg, e["seconds"], loss=e["loss"])
            return
        cmd = [PY, self.peer(system), "train", "--batch", "64", "--threads", str(t),
               "--dropout", str(self.dropout)]
        if system == "torch":
            cmd += ["--layout", self.layout["train"]]
        elif self.b.a.cnn_numpy_rows:
            cmd += ["--rows", str(self.b.a.cnn_numpy_rows)]
        _, out = run(cmd, env=self.b.peer_env(t))
        e = last_json(out)
        scale = ROWS / e.get("rows", ROWS)
        self.b.add("cnn", system, cfg, e["seconds"] * scale, loss=e["loss"],
                   rows=e.get("rows", ROWS))

    def infer_one(self, system):
        images = os.path.join(self.b.env["NNC_BENCH_CACHE"], "t10k-x.f32")
        reps = str(self.b.a.cnn_infer_reps)
        if system == "nnc":
            if not os.path.exists(images):
                log("  cnn: nnc inference skipped (the test images are decoded by "
                    "bench/peers/fmnist.py, which needs numpy)")
                return
            _, out = run([self.infer_exe, images, str(TEST_ROWS), reps], env=self.b.env)
        else:
            cmd = [PY, self.peer(system), "infer", "--batch", "256", "--reps", reps,
                   "--dropout", str(self.dropout)]
            if system == "torch":
                cmd += ["--layout", self.layout["infer"]]
            _, out = run(cmd, env=self.b.peer_env(1))
        self.b.add("cnn", system, INFER_CFG, last_json(out)["rows_per_s"])

    # ---- report ------------------------------------------------------------------------------
    def report(self, out, targets):
        b = self.b
        systems = (["nnc"] if self.exe else []) + b.peers
        if not systems:
            return
        med = lambda s, c: median(b.values("cnn", s, c))  # noqa: E731
        out(f"\n-- cnn: {b.a.cnn_example}, 1 epoch (60,000 images) at batch 64, Adam, seconds "
            "(min-max) --")
        if not self.exe:
            out(f"  nnc: skipped, {b.a.cnn_example} does not exist yet")
        if "numpy" in b.peers and b.a.cnn_numpy_rows:
            out(f"  numpy: its first {b.a.cnn_numpy_rows:,} rows, scaled to 60,000")
        hdr = f"{'config':14s}"
        for s in systems:
            hdr += f" {s:>20s}" + (f" {s + '/nnc':>10s}" if self.exe and s != "nnc" else "")
        out(hdr)
        for cfg in TRAIN_CFGS:
            row = f"{cfg:14s}"
            for s in systems:
                v = b.values("cnn", s, cfg)
                row += f" {fmt(median(v)):>8s} ({fmt(min(v, default=None))}-" \
                       f"{fmt(max(v, default=None))})"
                if self.exe and s != "nnc":
                    row += f" {fmt(ratio(med(s, cfg), med('nnc', cfg)), 2):>9s}x"
            out(row)
        out(f"\n-- cnn infer: {TEST_ROWS:,} test images in chunks of 256, 1 thread, images/s --")
        for s in systems:
            v = med(s, INFER_CFG)
            line = f"  {s:5s} {v:12,.0f}" if v else f"  {s:5s} -"
            if self.exe and s != "nnc" and v:
                line += f"   nnc/{s} {ratio(med('nnc', INFER_CFG), v):.2f}x"
            out(line)
        self.report_share(out, targets, systems, med)
        if self.exe and "torch" in b.peers:
            targets.append(("CNN epoch, nnc vs PyTorch, 1 thread",
                            ratio(med("torch", TRAIN_CFGS[0]), med("nnc", TRAIN_CFGS[0])),
                            ">= 1.5x", 1.5))
            targets.append(("CNN inference, nnc vs PyTorch, 1 thread",
                            ratio(med("nnc", INFER_CFG), med("torch", INFER_CFG)), ">= 2x", 2.0))

    def report_share(self, out, targets, systems, med):
        train, infer = conv_flops()
        out("\n-- cnn: convolution arithmetic as a share of the FMA peak (bench/peak.c) --")
        out(f"  conv FLOP per image: forward {infer:,} (2·OH·OW·F·C·k² per layer); training "
            f"{train:,} (+ weight gradients, + the input gradient of conv 2)")
        out(f"  per epoch: {train * ROWS / 1e12:.3f} TFLOP; per inference pass: "
            f"{infer * TEST_ROWS / 1e9:.1f} GFLOP")
        peaks = sorted(self.b.peak.items())
        out("  peak: " + ", ".join(f"{v} t{t} {g:.1f}" for (v, t), g in peaks)
            + " GFLOP/s")
        out("  rate = conv FLOP / the whole epoch's (or pass's) seconds: a lower bound of the")
        out("  convolution kernels' rate, as a share of the best variant's peak at that thread")
        out("  count")
        # (config, threads, GFLOP/s from the sample: epoch seconds or images per second)
        rows = [(cfg, int(cfg[-1]), lambda sec: train * ROWS / sec / 1e9) for cfg in TRAIN_CFGS]
        rows.append((INFER_CFG, 1, lambda per_s: infer * per_s / 1e9))
        for s in systems:
            for cfg, t, gflops_of in rows:
                v = med(s, cfg)
                if not v:
                    continue
                gflops = gflops_of(v)
                share = self.share(gflops, t)
                out(f"  {s:5s} {cfg:14s} {gflops:7.1f} GFLOP/s  "
                    f"{'-' if share is None else f'{share:.0%}'} of peak")
                if s == "nnc" and cfg == TRAIN_CFGS[0]:
                    targets.append(("CNN conv rate, nnc 1 thread, share of peak (lower bound)",
                                    share, ">= 0.60", 0.60))

    def share(self, gflops, threads):
        p = self.b.best_peak(threads)
        return gflops / p if p else None
