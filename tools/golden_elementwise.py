#!/usr/bin/python3
"""Writes tests/data/golden_elementwise.h: PyTorch 1.13 reference values for
the broadcasting binary ops (add, sub, mul, div), their scalar forms (x op s,
and s - x, s / x as Python writes them), the unary ops (neg, tanh, exp, log,
relu, pow, sqrt, rsqrt, abs) and clamp.

usage: tools/golden_elementwise.py [OUTPUT]   (default tests/data/golden_elementwise.h)

Every tensor the tests need is stored as data (inputs included), so the C
tests depend neither on PyTorch nor on any random number generator. Each case
stores an upstream gradient G and the input gradients of backward(G).
"""
import math

import torch

from golden_common import c_float, c_floats, output_path, shape_text, write

# (shape of a, shape of b): both broadcast directions, rank 0, higher ranks
BINARY_SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 1), (1, 4)),
    ((4,), (3, 4)),
    ((3, 4), (4,)),
    ((2, 1, 4), (3, 1)),
    ((3, 4), (3, 1)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((), ()),
    ((1,), (5,)),
    ((2, 3, 1, 5), (4, 1)),
    ((1, 3, 1), (2, 1, 4)),
]
BINARY_OPS = [("add", torch.add), ("sub", torch.sub), ("mul", torch.mul), ("div", torch.div)]

INF, NAN = math.inf, math.nan


def c_shape(s):
    return "{" + ", ".join(str(d) for d in s) + "}" if s else "{0}"



def binary_cases(out):
    g = torch.Generator().manual_seed(2024)
    rows = []
    for i, (sa, sb) in enumerate(BINARY_SHAPES):
        a = torch.rand(sa, generator=g) * 4 - 2
        # b stays away from 0 so that div is well conditioned
        sign = torch.where(torch.rand(sb, generator=g) < 0.5, -1.0, 1.0)
        b = sign * (torch.rand(sb, generator=g) * 1.5 + 0.5)
        sy = torch.broadcast_shapes(sa, sb)
        up = torch.randn(sy, generator=g)
        out.append("/* case %d: %s with %s -> %s */\n" % (i, shape_text(sa), shape_text(sb), shape_text(sy)))
        out.append(c_floats("gb%d_a" % i, a))
        out.append(c_floats("gb%d_b" % i, b))
        out.append(c_floats("gb%d_g" % i, up))
        for name, fn in BINARY_OPS:
            ar, br = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
            y = fn(ar, br)
            y.backward(up)
            out.append(c_floats("gb%d_%s_y" % (i, name), y))
            out.append(c_floats("gb%d_%s_da" % (i, name), ar.grad))
            out.append(c_floats("gb%d_%s_db" % (i, name), br.grad))
        ops = [name for name, _ in BINARY_OPS]
        rows.append(
            "    {\"%s op %s\", %d, %d, %d, %s, %s, %s, gb%d_a, gb%d_b, gb%d_g,\n"
            "     {%s}, {%s}, {%s}},\n"
            % (shape_text(sa), shape_text(sb), len(sa), len(sb), len(sy), c_shape(sa), c_shape(sb),
               c_shape(sy), i, i, i, ", ".join("gb%d_%s_y" % (i, o) for o in ops),
               ", ".join("gb%d_%s_da" % (i, o) for o in ops), ", ".join("gb%d_%s_db" % (i, o) for o in ops)))
    out.append("static const golden_binary golden_binary_cases[] = {\n%s};\n" % "".join(rows))
    out.append("#define GOLDEN_BINARY_COUNT %d\n\n" % len(rows))


def unary_table(out, tag, struct, cases):
    """cases: list of (op name, constant, x, fn); writes x, G, y and dx."""
    g = torch.Generator().manual_seed(77)
    rows = []
    for i, (name, const, x, fn) in enumerate(cases):
        up = torch.randn(x.shape, generator=g)
        xr = x.clone().requires_grad_(True)
        y = fn(xr)
        y.backward(up)
        out.append("/* %s %s */\n" % (name, c_float(const)))
        for part, t in (("x", x), ("g", up), ("y", y), ("dx", xr.grad)):
            out.append(c_floats("%s%d_%s" % (tag, i, part), t))
        rows.append("    {\"%s\", %s, %d, %s%d_x, %s%d_g, %s%d_y, %s%d_dx},\n"
                    % (name, c_float(const), x.numel(), tag, i, tag, i, tag, i, tag, i))
    out.append("static const %s %s_cases[] = {\n%s};\n" % (struct, struct, "".join(rows)))
    out.append("#define %s_COUNT %d\n\n" % (struct.upper(), len(rows)))


def uniform(g, n, lo, hi):
    return torch.rand(n, generator=g) * (hi - lo) + lo


def unary_cases(out):
    g = torch.Generator().manual_seed(99)
    t = lambda vals: torch.tensor(vals, dtype=torch.float32)
    cases = [
        ("neg", 0.0, torch.cat([uniform(g, 8, -3, 3), t([0.0, -0.0, INF, -INF])]), torch.neg),
        ("tanh", 0.0, torch.cat([uniform(g, 8, -3, 3), t([20, -20, 1e4, -1e4, 0, 1e-4])]), torch.tanh),
        ("exp", 0.0, torch.cat([uniform(g, 8, -5, 5), t([0, 88, 89, -104, -INF, 1e-3])]), torch.exp),
        ("log", 0.0, torch.cat([uniform(g, 8, 0.1, 5), t([1, 0, -1, INF, 1e-30, 1e30])]), torch.log),
        ("relu", 0.0, torch.cat([uniform(g, 8, -2, 2), t([0.0, -0.0, NAN, INF, -INF])]), torch.relu),
    ]
    for p in [2.0, 0.5, -1.0, 3.0, 0.0, 1.0, 1.5, -2.0, -0.5, 2.5, -3.0, 4.0]:
        x = torch.cat([uniform(g, 6, 0.2, 3), uniform(g, 2, -3, -0.2), t([0.0, -0.0, 1.0, -1.0])])
        cases.append(("pow", p, x, lambda v, p=p: torch.pow(v, p)))
    # added later: drawn after the cases above, so their values did not move
    cases += [
        ("sqrt", 0.0, torch.cat([uniform(g, 8, 0.01, 9), t([0.0, -0.0, -1.0, INF, 1e-30, 4.0])]), torch.sqrt),
        ("rsqrt", 0.0, torch.cat([uniform(g, 8, 0.01, 9), t([0.0, -0.0, -1.0, INF, 1e-30, 4.0])]), torch.rsqrt),
        ("abs", 0.0, torch.cat([uniform(g, 8, -3, 3), t([0.0, -0.0, NAN, INF, -INF])]), torch.abs),
    ]
    unary_table(out, "gu", "golden_unary", cases)


def clamp_cases(out):
    """clamp(x, lo, hi) for both bounds, one bound (the other infinite: the
    library's spelling of None, compared with PyTorch's None) and lo > hi."""
    g = torch.Generator().manual_seed(31)
    x = torch.cat([uniform(g, 10, -3, 3), torch.tensor([-1.0, 1.0, 0.5, -0.0, NAN, INF, -INF])])
    rows = []
    for i, (lo, hi) in enumerate([(-1.0, 1.0), (-INF, 0.5), (-1.0, INF), (1.0, -1.0), (0.5, 0.5), (-INF, INF)]):
        up = torch.randn(x.shape, generator=g)
        xr = x.clone().requires_grad_(True)
        y = torch.clamp(xr, None if lo == -INF else lo, None if hi == INF else hi) if (lo, hi) != (-INF, INF) \
            else torch.clamp(xr, min=-INF, max=INF)
        y.backward(up)
        out.append("/* clamp [%s, %s] */\n" % (c_float(lo), c_float(hi)))
        for part, v in (("x", x), ("g", up), ("y", y), ("dx", xr.grad)):
            out.append(c_floats("gc%d_%s" % (i, part), v))
        rows.append("    {%s, %s, %d, gc%d_x, gc%d_g, gc%d_y, gc%d_dx},\n" % (c_float(lo), c_float(hi), x.numel(), i, i, i, i))
    out.append("static const golden_clamp golden_clamp_cases[] = {\n%s};\n" % "".join(rows))
    out.append("#define GOLDEN_CLAMP_COUNT %d\n\n" % len(rows))


def scalar_cases(out):
    g = torch.Generator().manual_seed(5)
    x = uniform(g, 12, -2, 2)
    xz = torch.cat([x[:4], torch.zeros(1)])  # 0 / 0 = NaN
    cases = []
    # the scalar as the library sees it: a float32 constant (0.3 is inexact)
    for name, s, v, fn in [("add_scalar", 0.75, x, torch.add), ("sub_scalar", -1.25, x, torch.sub),
                           ("mul_scalar", -3.5, x, torch.mul), ("div_scalar", 0.3, x, torch.div),
                           ("div_scalar", 0.0, xz, torch.div)]:
        s32 = torch.tensor(s, dtype=torch.float32)
        cases.append((name, s32.item(), v, lambda t, fn=fn, s32=s32: fn(t, s32)))
    # s - x and s / x with s a Python number, as a model writes them (PyTorch
    # computes s / x as x.reciprocal() * s)
    x3 = torch.cat([uniform(g, 8, -2, 2), torch.tensor([3.0, 7.0, 0.0, -0.0])])
    for name, s, fn in [("scalar_sub", 1.0, lambda t, s: s - t), ("scalar_sub", -1.25, lambda t, s: s - t),
                        ("scalar_div", 10.0, lambda t, s: s / t), ("scalar_div", 0.3, lambda t, s: s / t),
                        ("scalar_div", 0.0, lambda t, s: s / t), ("scalar_div", -1.0, lambda t, s: s / t)]:
        s32 = torch.tensor(s, dtype=torch.float32).item()
        cases.append((name, s32, x3, lambda t, fn=fn, s32=s32: fn(t, s32)))
    unary_table(out, "gs", "golden_scalar", cases)


HEADER = """/* golden_elementwise.h - GENERATED by tools/golden_elementwise.py from
 * PyTorch %s; do not edit. Reference values for add/sub/mul/div with
 * broadcasting, the scalar forms and the unary ops. Gradients are those of
 * backward(G) for the stored upstream gradient G. */
#ifndef GOLDEN_ELEMENTWISE_H
#define GOLDEN_ELEMENTWISE_H

#include <math.h>
#include <stdint.h>

typedef struct {
    const char *name;
    int ndim_a, ndim_b, ndim_y;
    int64_t shape_a[6], shape_b[6], shape_y[6];
    const float *a, *b, *g;            /* inputs; upstream gradient (shape_y) */
    const float *y[4], *da[4], *db[4]; /* add, sub, mul, div */
} golden_binary;

/* op applied to x (n values) with constant c (pow's exponent, else 0) */
typedef struct {
    const char *op;
    float c;
    int n;
    const float *x, *g, *y, *dx;
} golden_unary;

/* op (add_scalar, ...) applied to x with scalar c */
typedef golden_unary golden_scalar;

/* clamp(x, lo, hi); an infinite bound is PyTorch's None */
typedef struct {
    float lo, hi;
    int n;
    const float *x, *g, *y, *dx;
} golden_clamp;

"""


def main():
    out = [HEADER % torch.__version__]
    binary_cases(out)
    unary_cases(out)
    scalar_cases(out)
    clamp_cases(out)
    out.append("#endif\n")
    write(output_path("golden_elementwise.h"), "".join(out))


if __name__ == "__main__":
    main()
