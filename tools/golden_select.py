#!/usr/bin/python3
"""Writes tests/data/golden_select.h: PyTorch 1.13 reference values for the
selection, masking and shape ops (where, masked_fill, tril/triu, gather,
one_hot, stack, expand, roll) and for a causal self-attention block written
with them, forward and backward.

usage: tools/golden_select.py [OUTPUT]   (default tests/data/golden_select.h)

Every tensor the tests need is stored as data (inputs included), so the C
tests depend neither on PyTorch nor on the library's random number generator.
A case named X holds its inputs, the output X_y, an upstream gradient X_g
(same shape as the output) and the inputs' gradients for y.backward(g).
Conditions and masks are stored as int32 0/1 (the library has no bool dtype).
"""
import math

import torch
import torch.nn.functional as F

from golden_common import c_floats, c_ints, c_scalar, output_path, write

OUT = []


def emit_floats(name, t):
    OUT.append(c_floats("golden_" + name, t))


def emit_ints(name, t):
    OUT.append(c_ints("golden_" + name, t.to(torch.int32)))


def comment(text):
    OUT.append("\n/* %s */\n" % text)


def randn(g, *shape, scale=1.0):
    return (torch.randn(shape, generator=g) * scale).requires_grad_(True)


def backward_with(g, y):
    up = torch.randn(y.shape, generator=g)
    y.backward(up)
    return up


def where_cases(g):
    for name, sc, sa, sb in [("where_same", (2, 3), (2, 3), (2, 3)),
                             ("where_bcast", (2, 1, 4), (3, 1), (4,))]:
        comment("%s: where(cond %s, a %s, b %s)" % (name, sc, sa, sb))
        cond = torch.randint(0, 2, sc, generator=g)
        a, b = randn(g, *sa), randn(g, *sb)
        y = torch.where(cond.bool(), a, b)
        up = backward_with(g, y)
        emit_ints(name + "_cond", cond)
        for suffix, t in [("a", a), ("b", b), ("y", y), ("g", up), ("da", a.grad), ("db", b.grad)]:
            emit_floats(name + "_" + suffix, t)


def masked_fill_cases(g):
    for name, st, sm, value in [("mfill_inf", (2, 3, 4), (3, 4), -math.inf),
                                ("mfill_bcast", (3, 1), (2, 3, 4), 2.5)]:
        comment("%s: t %s masked_fill(mask %s, %s)" % (name, st, sm, value))
        mask = torch.randint(0, 2, sm, generator=g)
        t = randn(g, *st)
        y = t.masked_fill(mask.bool(), value)
        up = backward_with(g, y)
        emit_ints(name + "_mask", mask)
        for suffix, x in [("t", t), ("y", y), ("g", up), ("dt", t.grad)]:
            emit_floats(name + "_" + suffix, x)


def triangle_cases(g):
    for name, fn, shape, diag in [("tril0", torch.tril, (2, 3, 4, 5), 0), ("tril_m1", torch.tril, (2, 3, 4, 5), -1),
                                  ("tril_2", torch.tril, (5, 3), 2), ("triu0", torch.triu, (2, 3, 4, 5), 0),
                                  ("triu_1", torch.triu, (2, 3, 4, 5), 1), ("triu_m2", torch.triu, (5, 3), -2)]:
        comment("%s: %s(t %s, %d)" % (name, fn.__name__, shape, diag))
        t = randn(g, *shape)
        y = fn(t, diag)
        up = backward_with(g, y)
        for suffix, x in [("t", t), ("y", y), ("g", up), ("dt", t.grad)]:
            emit_floats(name + "_" + suffix, x)


def gather_cases(g):
    for name, st, dim, si in [("gather_rows", (3, 5), 1, (3, 2)),      # pick 2 of 5 per row
                              ("gather_dim0", (4, 3, 5), 0, (6, 2, 4)),  # repeats: scatter-add, index smaller
                              ("gather_last", (2, 3, 6), -1, (2, 3, 1))]:  # target probabilities
        comment("%s: gather(t %s, %d, index %s)" % (name, st, dim, si))
        t = randn(g, *st)
        index = torch.randint(0, st[dim], si, generator=g)
        y = torch.gather(t, dim, index)
        up = backward_with(g, y)
        emit_ints(name + "_index", index)
        for suffix, x in [("t", t), ("y", y), ("g", up), ("dt", t.grad)]:
            emit_floats(name + "_" + suffix, x)


def one_hot_cases(g):
    comment("one_hot: index (2,3) with 5 classes, and inferred (max + 1)")
    index = torch.randint(0, 5, (2, 3), generator=g)
    emit_ints("one_hot_index", index)
    emit_floats("one_hot_y", F.one_hot(index, 5))
    emit_floats("one_hot_inferred", F.one_hot(index))
    OUT.append("#define GOLDEN_ONE_HOT_INFERRED_CLASSES %d\n" % (int(index.max()) + 1))


def stack_cases(g):
    for dim in (0, 1, -1):
        name = "stack_%s" % ("m1" if dim < 0 else dim)
        comment("%s: stack of three (2,3) along %d" % (name, dim))
        ts = [randn(g, 2, 3) for _ in range(3)]
        y = torch.stack(ts, dim)
        up = backward_with(g, y)
        for i, t in enumerate(ts):
            emit_floats("%s_t%d" % (name, i), t)
            emit_floats("%s_dt%d" % (name, i), t.grad)
        emit_floats(name + "_y", y)
        emit_floats(name + "_g", up)


def expand_cases(g):
    comment("expand_mul: x (3,1) expanded to (2,3,4), times w (2,3,4)")
    x, w = randn(g, 3, 1), randn(g, 2, 3, 4)
    y = x.expand(2, 3, 4) * w
    up = backward_with(g, y)
    for suffix, t in [("x", x), ("w", w), ("y", y), ("g", up), ("dx", x.grad), ("dw", w.grad)]:
        emit_floats("expand_mul_" + suffix, t)
    comment("expand_mm: x (1,4) expanded to (2,3,4), @ w (2,4,5)")
    x, w = randn(g, 1, 4), randn(g, 2, 4, 5)
    y = x.expand(2, 3, 4) @ w
    up = backward_with(g, y)
    for suffix, t in [("x", x), ("w", w), ("y", y), ("g", up), ("dx", x.grad), ("dw", w.grad)]:
        emit_floats("expand_mm_" + suffix, t)


def roll_cases(g):
    for name, shape, shift, dim in [("roll_cols", (3, 5), 2, 1), ("roll_neg", (3, 5), -7, 0),
                                    ("roll_mid", (2, 3, 4), 4, 1)]:
        comment("%s: roll(t %s, %d, %d)" % (name, shape, shift, dim))
        t = randn(g, *shape)
        y = torch.roll(t, shift, dim)
        up = backward_with(g, y)
        for suffix, x in [("t", t), ("y", y), ("g", up), ("dt", t.grad)]:
            emit_floats(name + "_" + suffix, x)
    comment("roll_context: makemore's context window, idx = roll(idx, 1, 1); idx[:, 0] = ix")
    idx = torch.randint(0, 27, (4, 3), generator=g)
    ix = torch.randint(0, 27, (4,), generator=g)
    rolled = torch.roll(idx, 1, 1)
    rolled[:, 0] = ix
    emit_ints("roll_context_idx", idx)
    emit_ints("roll_context_ix", ix)
    emit_ints("roll_context_y", rolled)


# The attention block's sizes (tests/test_attention_ops.c uses the same).
B, T, C, NH, V = 2, 5, 8, 2, 7


def attention_case(g):
    comment("attention: a causal self-attention block (B,T,C) = (%d,%d,%d), %d heads, vocabulary %d; "
            "loss = mean -log softmax(logits)[target], target picked with gather" % (B, T, C, NH, V))
    hs = C // NH
    x = randn(g, B, T, C)
    ws = 1.0 / math.sqrt(C)  # weights of a usual init scale: moderate logits
    wq, wk, wv = randn(g, C, C, scale=ws), randn(g, C, C, scale=ws), randn(g, C, C, scale=ws)
    wo = randn(g, C, V, scale=ws)
    targets = torch.randint(0, V, (B, T), generator=g)

    def heads(t):  # (B,T,C) -> (B,nh,T,hs)
        return t.view(B, T, NH, hs).transpose(1, 2)

    q, k, v = heads(x @ wq), heads(x @ wk), heads(x @ wv)
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
    att = att.masked_fill(torch.triu(torch.ones(T, T), 1).bool(), float("-inf"))
    att = F.softmax(att, dim=-1)
    y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
    probs = F.softmax(y @ wo, dim=-1)
    picked = torch.gather(probs, -1, targets.unsqueeze(-1))
    loss = -torch.log(picked).mean()
    loss.backward()
    emit_ints("attn_targets", targets)
    for suffix, t in [("x", x), ("wq", wq), ("wk", wk), ("wv", wv), ("wo", wo), ("att", att),
                      ("dx", x.grad), ("dwq", wq.grad), ("dwk", wk.grad), ("dwv", wv.grad), ("dwo", wo.grad)]:
        emit_floats("attn_" + suffix, t)
    OUT.append(c_scalar("golden_attn_loss", loss.item()))


def main():
    g = torch.Generator().manual_seed(1313)
    OUT.append("/* golden_select.h - GENERATED by tools/golden_select.py with PyTorch %s.\n"
               " * Do not edit; rerun the script instead. */\n"
               "#ifndef LT_GOLDEN_SELECT_H\n#define LT_GOLDEN_SELECT_H\n\n#include <math.h>\n#include <stdint.h>\n"
               % torch.__version__.split("a")[0])
    for cases in (where_cases, masked_fill_cases, triangle_cases, gather_cases, one_hot_cases, stack_cases,
                  expand_cases, roll_cases, attention_case):
        cases(g)
    OUT.append("\n#endif\n")
    write(output_path("golden_select.h"), "".join(OUT))


if __name__ == "__main__":
    main()
