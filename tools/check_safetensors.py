#!/usr/bin/env python3
"""check_safetensors.py - reads a safetensors file written by libtensor with
Python alone, as an interoperability check, and prints its metadata and
tensors.

The format is parsed here with struct + json (the `safetensors` package is not
packaged by Debian bookworm, and PyTorch 1.13 has no safetensors reader). When
the `safetensors` package or torch is importable it is used as well:
`safetensors.safe_open` must agree with this parser, and tensors are shown as
torch tensors built with torch.frombuffer.

    python3 tools/check_safetensors.py FILE [--values N]

Exit status 0 when the file is valid, 1 (with a message) otherwise. The checks
follow the specification (and the reference implementation's validation):
header length within the file, JSON object, known dtypes, data_offsets that
match dtype size * element count and tile the byte buffer exactly.
"""
import argparse
import json
import struct
import sys

DTYPE_SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "F64": 8, "I64": 8, "U64": 8,
}
STRUCT_CODES = {"F32": "f", "I32": "i", "F64": "d", "I64": "q", "U8": "B",
                "I8": "b", "I16": "h", "U16": "H", "U32": "I", "U64": "Q", "BOOL": "?"}
MAX_HEADER = 100_000_000


class FormatError(Exception):
    pass


def reject_duplicates(pairs):
    keys = [k for k, _ in pairs]
    for k in keys:
        if keys.count(k) > 1:
            raise FormatError(f"duplicate key {k!r}")
    return dict(pairs)


def parse(blob):
    """Returns (metadata, [(name, dtype, shape, bytes)]) in header order."""
    if len(blob) < 8:
        raise FormatError(f"file is {len(blob)} bytes, too short")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8 or n > MAX_HEADER:
        raise FormatError(f"header length {n} exceeds file size {len(blob)}")
    if (8 + n) % 8 != 0:
        print(f"note: data starts at byte {8 + n}, not 8-byte aligned", file=sys.stderr)
    header = json.loads(blob[8:8 + n].decode("utf-8"), object_pairs_hook=reject_duplicates)
    if not isinstance(header, dict):
        raise FormatError("header is not a JSON object")
    data = blob[8 + n:]
    meta = header.pop("__metadata__", None) or {}
    if not all(isinstance(v, str) for v in meta.values()):
        raise FormatError("metadata values must be strings")
    tensors, ranges = [], []
    for name, info in header.items():
        if set(info) != {"dtype", "shape", "data_offsets"}:
            raise FormatError(f"{name!r}: fields {sorted(info)}")
        dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in DTYPE_SIZES:
            raise FormatError(f"{name!r}: unknown dtype {dtype!r}")
        if any(not isinstance(d, int) or d < 0 for d in shape):
            raise FormatError(f"{name!r}: bad shape {shape}")
        numel = 1
        for d in shape:
            numel *= d
        if not 0 <= begin <= end <= len(data) or end - begin != numel * DTYPE_SIZES[dtype]:
            raise FormatError(f"{name!r}: data_offsets {[begin, end]} do not fit {dtype} {shape}")
        tensors.append((name, dtype, shape, data[begin:end]))
        ranges.append((begin, end, name))
    covered = 0
    for begin, end, name in sorted(ranges):
        if begin != covered:
            raise FormatError(f"{name!r}: bytes {begin}..{end} overlap or leave a hole at {covered}")
        covered = end
    if covered != len(data):
        raise FormatError(f"data bytes {covered}..{len(data)} are not covered by any tensor")
    return meta, tensors


def values(dtype, raw):
    code = STRUCT_CODES.get(dtype)
    if code is None:
        return None
    return list(struct.unpack("<%d%s" % (len(raw) // struct.calcsize(code), code), raw))


def show_with_torch(dtype, shape, raw):
    try:
        import torch
    except ImportError:
        return None
    tdt = {"F32": torch.float32, "I32": torch.int32, "F64": torch.float64, "I64": torch.int64,
           "U8": torch.uint8}.get(dtype)
    if tdt is None:
        return None
    if len(raw) == 0:
        return torch.empty(shape, dtype=tdt)
    return torch.frombuffer(bytearray(raw), dtype=tdt).reshape(shape)


def cross_check_with_package(path, tensors, meta):
    try:
        from safetensors import safe_open
    except ImportError:
        print("(the safetensors package is not installed: parsed with struct/json only)")
        return
    with safe_open(path, framework="pt") as f:
        assert set(f.keys()) == {t[0] for t in tensors}, "key sets differ"
        assert (f.metadata() or {}) == meta, "metadata differs"
        for name, dtype, shape, raw in tensors:
            ref = f.get_tensor(name)
            mine = show_with_torch(dtype, shape, raw)
            assert list(ref.shape) == shape and (mine is None or ref.equal(mine)), name
    print("safetensors.safe_open agrees")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("--values", type=int, default=8, help="values shown per tensor (default 8)")
    args = ap.parse_args()
    with open(args.file, "rb") as f:
        blob = f.read()
    try:
        meta, tensors = parse(blob)
    except (FormatError, ValueError, TypeError, UnicodeDecodeError) as e:
        print(f"{args.file}: invalid: {e}", file=sys.stderr)
        return 1
    print(f"{args.file}: {len(tensors)} tensors, {len(meta)} metadata entries")
    for k, v in meta.items():
        print(f"  meta {k!r} = {v!r}")
    for name, dtype, shape, raw in tensors:
        vals = values(dtype, raw)
        shown = "" if vals is None else " " + repr(vals[:args.values]) + (" ..." if len(vals) > args.values else "")
        print(f"  {name!r} {dtype} {shape}{shown}")
        t = show_with_torch(dtype, shape, raw)
        if t is not None and t.numel() <= args.values:
            print(f"    torch: {t!r}")
    cross_check_with_package(args.file, tensors, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
