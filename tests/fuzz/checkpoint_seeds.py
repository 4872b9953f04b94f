#!/usr/bin/env python3
"""checkpoint_seeds.py NNC: (re)writes tests/fuzz/seeds/checkpoint/, the seeds of fuzz_checkpoint.

Compiles tests/fuzz/checkpoint.nn with NNC, trains it (a whole run, and a shorter one) and turns
each checkpoint it writes into the harness's recipe (see fuzz_checkpoint.c): every tensor with
its real bytes, every metadata entry, the statistics as the fixture's (so --resume accepts them).
Each checkpoint gives a recipe for --resume, --init and predict's weights, and a few recipes
that differ from a good one in one thing (a mid-epoch position, a missing optimizer state, a
wrong shape, dtype, hash or RNG state), so fuzzing starts next to each check. Deterministic for
a given compiler; run it again when checkpoint.nn's hash changes (and update HASH in the
harness to the one it prints).
"""
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "seeds", "checkpoint")


def read_checkpoint(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    tensors = [(name, t["dtype"], t["shape"], body[t["data_offsets"][0]:t["data_offsets"][1]])
               for name, t in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])]
    return meta, tensors


def recipe(mode, meta, tensors, extra=""):
    lines = ["mode " + mode] + ["meta %s %s" % kv for kv in meta.items()]
    for name, dtype, shape, data in tensors:
        fill = name[len("__standardize."):] if name.startswith("__standardize.") else \
            "hex:" + data.hex()
        lines.append("tensor %s %s %s %s" % (name, dtype, ",".join(map(str, shape)), fill))
    return "\n".join(lines) + "\n" + extra


def variants(meta, tensors):
    """name -> (meta, tensors): a good checkpoint changed in one thing."""
    def meta_with(**kw):
        return dict(meta, **kw)

    def without(name):
        return [t for t in tensors if t[0] != name]

    def changed(name, dtype=None, shape=None):
        return [(n, dtype or d, shape or s, b) if n == name else (n, d, s, b)
                for n, d, s, b in tensors]
    return {
        "mid_epoch": (meta_with(epoch="2", position="2"), tensors),
        "bad_position": (meta_with(position="3"), tensors),
        "no_optimizer_state": (meta, without("W.m")),
        "no_order": (meta, without("__order")),
        "no_best": (meta, without("__best.W")),
        "W_transposed": (meta, changed("W", shape=[2, 3])),
        "b_as_I64": (meta, changed("b", dtype="I64")),
        "wrong_hash": (meta_with(model_hash="0123456789abcdef"), tensors),
        "zero_rng": (meta_with(rng_shuffle="0" * 64), tensors),
        "no_step": ({k: v for k, v in meta.items() if k != "step"}, tensors),
        "other_batch": (meta_with(batch="1"), tensors),
    }


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: checkpoint_seeds.py NNC")
    nnc = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp()
    try:
        shutil.copy(os.path.join(HERE, "checkpoint.nn"), work)
        rng = random.Random(1)
        with open(os.path.join(work, "train.csv"), "w") as f:
            for _ in range(8):
                f.write(",".join("%.3f" % rng.uniform(-1, 1) for _ in range(5)) + "\n")
        subprocess.run([nnc, "checkpoint.nn", "-o", "ck"], cwd=work, check=True)
        runs = {"full": [], "short": ["--epochs", "3"]}
        shutil.rmtree(OUT, ignore_errors=True)
        os.makedirs(OUT)
        for run, args in runs.items():
            subprocess.run(["./ck", "train", "--save", run + ".st"] + args, cwd=work, check=True,
                           stdout=subprocess.DEVNULL)
            meta, tensors = read_checkpoint(os.path.join(work, run + ".st"))
            print("%s: model_hash %s" % (run, meta.get("model_hash")))
            for mode in ("run", "init", "weights"):
                with open(os.path.join(OUT, "%s_%s" % (run, mode)), "w") as f:
                    f.write(recipe(mode, meta, tensors, "epochs 6\n" if mode == "run" else ""))
            if run == "full":
                for name, (m, t) in variants(meta, tensors).items():
                    with open(os.path.join(OUT, name), "w") as f:
                        f.write(recipe("run", m, t))
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
