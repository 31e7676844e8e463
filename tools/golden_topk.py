#!/usr/bin/python3
"""Writes tests/data/golden_topk.h: torch.topk's indices from PyTorch 1.13 on
rows full of equal values, NaNs and signed zeros, for tests/test_topk.c.

usage: tools/golden_topk.py [OUTPUT]   (default tests/data/golden_topk.h)

Among equal values torch.topk's order is whatever libstdc++'s partial_sort
(k * 64 <= n) or nth_element + sort leave, so these cases are chosen to
exercise both, with many ties. To keep the header small the inputs are not
stored: each is torch.randint(0, levels, shape) or torch.rand(shape) from
torch.Generator().manual_seed(seed), which lt_rng_randint / lt_rng_uniform
reproduce exactly (tests/test_rng.c checks that), then mapped as MODES says.
Two inputs made by McIlroy's quicksort adversary (which drive nth_element
into its heap-select fallback) are stored as they are (ADVERSARIAL).
"""
import os
import sys

import torch

# How a case's input is made from its generator (the C test does the same):
MODES = {
    0: "randint(0, levels) - levels // 2 (small integers, many ties)",
    1: "randint(0, levels), and NaN where it is levels - 1",
    2: "randint(0, 2): +0.0 where 0, -0.0 where 1 (ties of signed zeros)",
    3: "rand (distinct values almost surely)",
}
# Where the values sit: (rows, n) with topk along dim 1; (n, rows) along
# dim 0; or the transposed view of an (n, rows) tensor, along dim 1.
LAYOUTS = {0: "(rows, n), dim 1", 1: "(n, rows), dim 0", 2: "(n, rows).t(), dim 1"}

CASES = [  # (seed, rows, n, k, largest, levels, mode, layout)
    # nth_element + sort (k * 64 > n)
    (1, 40, 3, 1, True, 2, 0, 0), (2, 40, 3, 2, False, 2, 0, 0), (3, 40, 3, 3, True, 3, 0, 0),
    (4, 30, 17, 5, True, 3, 0, 0), (5, 30, 17, 17, False, 2, 0, 0), (6, 20, 27, 27, True, 4, 0, 0),
    (7, 20, 27, 10, True, 27, 0, 0), (8, 10, 100, 50, True, 5, 0, 0), (9, 10, 100, 99, False, 3, 0, 0),
    (10, 4, 1000, 200, True, 10, 0, 0), (11, 3, 2000, 40, True, 7, 0, 0),
    (12, 20, 40, 12, True, 5, 1, 0), (13, 20, 40, 40, False, 5, 1, 0), (14, 20, 33, 9, True, 2, 2, 0),
    (15, 20, 33, 33, False, 2, 2, 0), (16, 10, 50, 20, True, 0, 3, 0),
    # partial_sort (k * 64 <= n)
    (21, 10, 64, 1, True, 3, 0, 0), (22, 10, 128, 2, False, 4, 0, 0), (23, 5, 300, 4, True, 2, 0, 0),
    (24, 3, 3000, 46, True, 20, 0, 0), (25, 5, 640, 10, False, 3, 1, 0), (26, 5, 200, 3, True, 2, 2, 0),
    (27, 5, 500, 7, True, 0, 3, 0),
    # other layouts
    (31, 6, 30, 7, True, 3, 0, 1), (32, 6, 200, 3, False, 3, 0, 1), (33, 6, 30, 30, True, 4, 1, 2),
    (34, 6, 256, 4, True, 2, 0, 2),
    # k = 0 and k = n = 1
    (41, 3, 5, 0, True, 3, 0, 0), (42, 4, 1, 1, False, 3, 0, 0),
]


def make_input(seed, rows, n, levels, mode, layout):
    g = torch.Generator().manual_seed(seed)
    shape = (rows, n) if layout == 0 else (n, rows)
    if mode == 3:
        x = torch.rand(shape, generator=g)
    else:
        r = torch.randint(0, 2 if mode == 2 else levels, shape, generator=g).float()
        if mode == 0:
            x = r - float(levels // 2)
        elif mode == 1:
            x = torch.where(r == levels - 1, torch.tensor(float("nan")), r)
        else:
            x = torch.where(r == 0, torch.tensor(0.0), torch.tensor(-0.0))
    return x.t() if layout == 2 else x


# Inputs on which libstdc++'s nth_element runs out of quickselect depth and
# falls back to heap selection: made by McIlroy's quicksort adversary ("A
# killer adversary for quicksort", 1999) run against a model of libstdc++'s
# algorithms (the one lib/ops/topk.c follows). Each is used as it is with
# largest=False (k, values) and negated with largest=True.
ADVERSARIAL = [
    (40, [38, 1, 36, 3, 34, 5, 32, 7, 37, 9, 33, 11, 39, 13, 31, 15, 35, 17, 20, 19, 0, 2, 4, 6, 8,
          10, 12, 14, 16, 18, 30, 27, 28, 25, 26, 23, 24, 21, 22, 29]),
    (90, [83, 1, 61, 3, 75, 5, 59, 7, 89, 9, 57, 11, 24, 13, 55, 15, 56, 17, 53, 19, 54, 21, 51, 23,
          88, 86, 84, 82, 80, 78, 76, 74, 72, 70, 68, 66, 64, 62, 60, 58, 81, 71, 85, 69, 79, 67, 87,
          65, 77, 63, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 52, 49, 50, 47, 48, 45, 46, 43, 44,
          41, 42, 39, 40, 37, 38, 35, 36, 33, 34, 31, 32, 29, 30, 27, 28, 25, 26, 73, 90, 91, 92, 93,
          94, 95, 96, 97, 98, 99]),
]


def c_ints(name, ctype, vals, per_line=16):
    body = ",\n".join("    " + ", ".join(str(v) for v in vals[i:i + per_line])
                      for i in range(0, len(vals), per_line))
    return "static const %s %s[%d] = {\n%s\n};\n" % (ctype, name, len(vals), body or "    0")


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "golden_topk.h")
    out = []
    indices = []
    for seed, rows, n, k, largest, levels, mode, layout in CASES:
        x = make_input(seed, rows, n, levels, mode, layout)
        dim = 0 if layout == 1 else 1
        _, ix = torch.topk(x, k, dim=dim, largest=largest)
        indices += ix.flatten().tolist()
    cols = list(zip(*CASES))
    out.append("/* golden_topk.h - GENERATED by tools/golden_topk.py with PyTorch %s.\n"
               " * Do not edit; rerun the script instead. */\n" % torch.__version__)
    out.append("#ifndef LT_GOLDEN_TOPK_H\n#define LT_GOLDEN_TOPK_H\n\n#include <stdint.h>\n\n")
    out.append("/* Cases (seed, rows, n, k, largest, levels, mode, layout); modes:\n")
    for m, text in MODES.items():
        out.append(" *   %d: %s\n" % (m, text))
    out.append(" * layouts:\n")
    for m, text in LAYOUTS.items():
        out.append(" *   %d: %s\n" % (m, text))
    out.append(" * then torch.topk's indices of every case, in the output's row-major order. */\n")
    out.append("#define G_TOPK_CASES %d\n" % len(CASES))
    for name, col, ctype in [("SEED", 0, "uint64_t"), ("ROWS", 1, "int64_t"), ("N", 2, "int64_t"),
                             ("K", 3, "int64_t"), ("LARGEST", 4, "int32_t"), ("LEVELS", 5, "int64_t"),
                             ("MODE", 6, "int32_t"), ("LAYOUT", 7, "int32_t")]:
        out.append(c_ints("G_TOPK_" + name, ctype, [int(v) for v in cols[col]]))
    out.append(c_ints("G_TOPK_INDICES", "int32_t", indices))
    out.append("\n/* ADVERSARIAL inputs (k, n, values), concatenated, and torch.topk's indices on\n"
               " * each with largest=False, then on its negation with largest=True. */\n")
    out.append("#define G_TOPK_ADV_CASES %d\n" % len(ADVERSARIAL))
    out.append(c_ints("G_TOPK_ADV_K", "int64_t", [k for k, _ in ADVERSARIAL]))
    out.append(c_ints("G_TOPK_ADV_N", "int64_t", [len(v) for _, v in ADVERSARIAL]))
    out.append(c_ints("G_TOPK_ADV_VALUES", "int32_t", sum((v for _, v in ADVERSARIAL), [])))
    adv = []
    for k, values in ADVERSARIAL:
        x = torch.tensor(values, dtype=torch.float32)
        adv += torch.topk(x, k, largest=False)[1].tolist()
        adv += torch.topk(-x, k, largest=True)[1].tolist()
    out.append(c_ints("G_TOPK_ADV_INDICES", "int32_t", adv))
    out.append("\n#endif\n")
    with open(path, "w") as f:
        f.write("".join(out))


if __name__ == "__main__":
    main()
