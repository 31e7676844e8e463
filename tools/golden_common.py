"""golden_common.py - what the golden-value generators share (tools/golden_*.py,
tools/gen_rng_golden.py): C literals for float32 values, C arrays of them,
where the generated header goes, and writing it.

A generator builds its header as a list of strings with c_floats / c_ints /
c_scalar and writes it with write(output_path("golden_x.h"), text): the first
command-line argument, or tests/data/golden_x.h. Python 3 standard library;
torch tensors are accepted wherever values are (nothing here imports torch).
"""
import math
import os
import sys
import textwrap

DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "data")


def c_float(v):
    """A C float literal that round-trips the float32 v exactly (9 digits)."""
    if math.isnan(v):
        return "NAN"
    if math.isinf(v):
        return "INFINITY" if v > 0 else "-INFINITY"
    text = "%.9g" % v
    if not any(ch in text for ch in ".en"):
        text += ".0"  # "2f" is not a C literal, "2.0f" is
    return text + "f"


def values_of(t):
    """A flat list of Python numbers from a tensor (as float32) or a sequence."""
    if hasattr(t, "detach"):
        import torch  # only when given a tensor
        return t.detach().to(torch.float32).reshape(-1).tolist()
    return list(t)


def c_floats(name, t, per_line=6):
    """static const float name[n] = {...}; with per_line values a line."""
    vals = values_of(t)
    body = ",\n".join(
        "    " + ", ".join(c_float(v) for v in vals[i:i + per_line]) for i in range(0, len(vals), per_line))
    return "static const float %s[%d] = {\n%s\n};\n" % (name, len(vals), body)


def c_ints(name, t, ctype="int32_t", per_line=16):
    """static const int32_t name[n] = {...}; from a tensor or a sequence of ints."""
    vals = t.reshape(-1).tolist() if hasattr(t, "reshape") else list(t)
    body = ",\n".join(
        "    " + ", ".join("%d" % v for v in vals[i:i + per_line]) for i in range(0, len(vals), per_line))
    return "static const %s %s[%d] = {\n%s\n};\n" % (ctype, name, len(vals), body)


def c_scalar(name, v):
    """static const float name = v;"""
    return "static const float %s = %s;\n" % (name, c_float(v))


def shape_text(s):
    """(32,3,10): a shape as the library prints it."""
    return "(" + ",".join(str(d) for d in s) + ")"


def output_path(default_name):
    """The header to write: the first command-line argument, or tests/data/default_name."""
    return sys.argv[1] if len(sys.argv) > 1 else os.path.join(DATA_DIR, default_name)


def write(path, text):
    """Writes the generated header (creating its directory)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


class Header:
    """Collects C declarations whose values are exact (hexadecimal floats,
    integers with their C suffixes) and prints them as one header."""

    def __init__(self):
        self.parts = []

    def comment(self, text):
        lines = textwrap.wrap(text, 76)
        self.parts.append("\n/* " + "\n * ".join(lines) + " */")

    def define(self, name, value):
        self.parts.append("#define %s %s" % (name, value))

    def floats(self, name, values):
        items = ["%sf" % float(v).hex() for v in values]
        self._array("float", name, items, 3)

    def doubles(self, name, values):
        self._array("double", name, [float(v).hex() for v in values], 3)

    def ints(self, name, ctype, values):
        suffix = {"uint32_t": "u", "uint64_t": "ull", "int64_t": "ll"}.get(ctype, "")
        items = []
        for v in values:
            if ctype == "int32_t" and v == -2**31:
                items.append("(-2147483647 - 1)")  # INT32_MIN has no literal
            else:
                items.append("%d%s" % (v, suffix))
        self._array(ctype, name, items, 3 if "64" in ctype else 6)

    def _array(self, ctype, name, items, per_line):
        lines = []
        for i in range(0, len(items), per_line):
            lines.append("    " + ", ".join(items[i:i + per_line]) + ",")
        self.parts.append("static const %s %s[%d] = {\n%s\n};"
                          % (ctype, name, len(items), "\n".join(lines)))
