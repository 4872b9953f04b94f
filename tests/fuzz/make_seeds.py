#!/usr/bin/env python3
"""make_seeds.py: (re)writes tests/fuzz/seeds/, the seed corpora of the four harnesses.

  python3 tests/fuzz/make_seeds.py

source: every .nn file of examples/ and tests/ (named by its path, '/' as '__').
csv, idx, safetensors: the repository's CSV files and small hand-made files, each behind the
settings bytes its harness reads first (see the comment at the top of fuzz_csv.c, fuzz_idx.c and
fuzz_safetensors.c). Run it again after adding examples or tests; the output is deterministic.
Crashes found by fuzzing go to tests/fuzz/regressions/HARNESS/ instead, by scripts/fuzz.sh.
"""
import gzip
import json
import os
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEEDS = os.path.join(ROOT, "tests", "fuzz", "seeds")


def fresh(name):
    d = os.path.join(SEEDS, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def put(d, name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, mtime=0)


def source_seeds():
    d = fresh("source")
    for top in ("examples", "tests"):
        for dirpath, dirnames, files in os.walk(os.path.join(ROOT, top)):
            dirnames.sort()
            if os.path.relpath(dirpath, ROOT).startswith(os.path.join("tests", "fuzz")):
                continue
            for f in sorted(files):
                if f.endswith(".nn"):
                    rel = os.path.relpath(os.path.join(dirpath, f), ROOT)
                    with open(os.path.join(ROOT, rel), "rb") as src:
                        put(d, rel.replace("/", "__"), src.read())


def csv_seeds():
    d = fresh("csv")
    # byte 0: header 1, delimiter bits 1-2 (, ; TAB ' '), classes 8, names 16, x_cols 32,
    # scale 64, gzip 128; byte 1: width-1 bits 0-1, two targets 4, gzip cut bits 3-4.
    with open(os.path.join(ROOT, "examples", "data", "flats.csv"), "rb") as f:
        flats = b"".join(f.readlines()[:12])
    iris = open(os.path.join(ROOT, "tests", "golden", "diag", "data", "iris.csv"), "rb").read()
    xor = open(os.path.join(ROOT, "tests", "golden", "diag", "data", "xor.csv"), "rb").read()
    put(d, "flats", bytes([1, 3]) + flats)
    put(d, "flats_gz", bytes([1 | 128, 3]) + flats)
    put(d, "flats_gz_cut1", bytes([1 | 128, 3 | 8]) + flats)
    put(d, "flats_gz_cut_trailer", bytes([1 | 128, 3 | 16]) + flats)
    put(d, "flats_gz_half", bytes([1 | 128, 3 | 24]) + flats)
    put(d, "flats_gzipped_file", bytes([1, 3]) + gz(flats))
    put(d, "iris_names", bytes([1 | 8 | 16, 1]) + iris)
    put(d, "xor_semicolon", bytes([2, 1]) + xor)
    put(d, "xor_two_targets", bytes([2, 0 | 4]) + xor)
    put(d, "quoted", bytes([1, 1]) + b'"a","b",y\r\n"1",  2 ,3\r\n"4","5""",6\r\n\r\n7,8,9\n')
    put(d, "tabs_classes", bytes([4 | 8, 0]) + b"0.5\t2\n1e3\t0\n-3\t1\n")
    put(d, "spaces_cols", bytes([6 | 32, 1]) + b"1 2 3\n4 5 6\n")
    put(d, "scale_overflow", bytes([64, 0]) + b"1e10,1\n2,3\n")
    put(d, "ragged", bytes([0, 1]) + b"1,2,3\n4,5\n")
    put(d, "bad_cell", bytes([0, 1]) + b"1,2,3\n4,x5,6\n")
    put(d, "empty", bytes([0, 0]))
    put(d, "blank_lines", bytes([1, 0]) + b"\n\n  \n")


def idx_file(dims, payload):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", n) for n in dims) + payload


def idx_seeds():
    d = fresh("idx")
    # byte 0: gzip inputs 1, gzip labels 2, cut 4, classes 8, width bits 4-5 (1 4 6 784),
    # scale 64, one-vs-rest 128; bytes 1-2: length of the inputs file, little-endian.
    def pair(name, flags, images, labels):
        put(d, name, bytes([flags]) + struct.pack("<H", len(images)) + images + labels)

    img4 = idx_file([3, 2, 2], bytes(range(12)))
    lab = idx_file([3], bytes([1, 3, 9]))
    pair("w4_classes", 8 | 16, img4, lab)
    pair("w4_regression_scaled", 16 | 64, img4, lab)
    pair("w4_one_vs_rest", 16 | 128, img4, lab)
    pair("w1", 8, idx_file([2, 1], bytes([5, 6])), idx_file([2], bytes([0, 7])))
    pair("w6_3d", 8 | 32, idx_file([2, 2, 3], bytes(range(12))), idx_file([2], bytes([2, 4])))
    img784 = idx_file([1, 28, 28], bytes(i % 256 for i in range(784)))
    pair("w784", 8 | 48, img784, idx_file([1], bytes([7])))
    pair("w784_gz", 8 | 48 | 1 | 2, img784, idx_file([1], bytes([7])))
    pair("w4_gz_cut", 8 | 16 | 1 | 2 | 4, img4, lab)
    pair("header_lies", 8 | 16, idx_file([60000, 2, 2], bytes(8)), lab)
    pair("wrong_magic", 8 | 16, b"\x00\x00\x09\x03" + img4[4:], lab)
    pair("label_too_big", 8 | 16, img4, idx_file([3], bytes([1, 3, 200])))
    pair("count_mismatch", 8 | 16, img4, idx_file([2], bytes([1, 3])))
    pair("trailing_bytes", 8 | 16, img4 + b"xx", lab)
    pair("empty", 8, b"", b"")


def safetensors_file(tensors, meta=True, pad=True):
    header = {}
    if meta:
        header["__metadata__"] = {"format": "nnc", "model": "fuzz"}
    data = b""
    for name, shape, values in tensors:
        raw = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def safetensors_seeds():
    d = fresh("safetensors")
    # byte 0: bit 0 the model standardises 3 inputs (two more tensors expected).
    W = ("W", [3, 2], [0.5, -1, 2, 0.25, 3, -4])
    b = ("b", [2], [0.125, -0.5])
    mean = ("__standardize.mean", [3], [1, 2, 3])
    std = ("__standardize.std", [3], [1, 0.5, 2])
    put(d, "good", b"\0" + safetensors_file([W, b]))
    put(d, "good_stats", b"\1" + safetensors_file([W, b, mean, std]))
    put(d, "good_no_metadata", b"\0" + safetensors_file([W, b], meta=False, pad=False))
    put(d, "missing_b", b"\0" + safetensors_file([W]))
    put(d, "wrong_shape", b"\0" + safetensors_file([("W", [2, 3], W[2]), b]))
    put(d, "state_tensor", b"\0" + safetensors_file([W, b, ("W.m", [3, 2], W[2])]))
    good = safetensors_file([W, b])
    put(d, "truncated", b"\0" + good[:-5])
    put(d, "header_too_long", b"\0" + struct.pack("<Q", 1 << 40) + good[8:])
    put(d, "not_json", b"\0" + struct.pack("<Q", 8) + b"not json" + bytes(32))
    text = (b'{"W":{"dtype":"F32","shape":[3,2],"data_offsets":[0,24]},'
            b'"b":{"dtype":"F16","shape":[2],"data_offsets":[16,24]}}')
    put(d, "f16",  b"\0" + struct.pack("<Q", len(text)) + text + bytes(32))
    text = (b'{"W":{"dtype":"F32","shape":[3,2],"data_offsets":[0,24]},'
            b'"b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}}')
    put(d, "overlap", b"\0" + struct.pack("<Q", len(text)) + text + bytes(32))
    text = (b'{"W":{"dtype":"F32","shape":[3,2],"data_offsets":[0,24]},'
            b'"b":{"dtype":"F32","shape":[2],"data_offsets":[24,4096]},'
            b'"__metadata__":{"a":[[[{"b":"\\u00e9\\ud83d\\ude00"}]]],"n":-1.5e3,"t":true}}')
    put(d, "offsets_past_end", b"\0" + struct.pack("<Q", len(text)) + text + bytes(32))
    put(d, "empty", b"\0")


if __name__ == "__main__":
    source_seeds()
    csv_seeds()
    idx_seeds()
    safetensors_seeds()
