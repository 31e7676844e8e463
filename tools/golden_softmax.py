#!/usr/bin/python3
"""Writes tests/data/golden_softmax.h: PyTorch 1.13 reference values for the
softmax family, the embedding lookup, the notebook's first loss and the
cross-entropy with an ignore index over (B,T,V) logits (makemore's).

usage: tools/golden_softmax.py [OUTPUT]   (default tests/data/golden_softmax.h)

Every tensor the tests need is stored as data (inputs included), so the C
tests depend neither on PyTorch nor on the library's random number generator.
"""
import torch
import torch.nn.functional as F

from golden_common import c_floats, c_ints, c_scalar, output_path, write

WORDS = ["emma", "olivia", "ava", "isabella", "sophia"]  # names.txt[:5]
BLOCK = 3


def softmax_cases(out):
    """softmax / log_softmax of a (3,4,5) tensor along each dim, with the
    input gradient for a fixed upstream gradient G."""
    g = torch.Generator().manual_seed(1234)
    x = torch.randn((3, 4, 5), generator=g) * 3
    up = torch.randn((3, 4, 5), generator=g)
    out.append("/* softmax family: X (3,4,5), upstream gradient G (3,4,5) */\n")
    out.append(c_floats("golden_sm_x", x))
    out.append(c_floats("golden_sm_g", up))
    for dim in range(3):
        for fn, tag in ((F.softmax, "softmax"), (F.log_softmax, "log_softmax")):
            xr = x.clone().requires_grad_(True)
            y = fn(xr, dim=dim)
            y.backward(up)
            out.append(c_floats("golden_%s_d%d_y" % (tag, dim), y))
            out.append(c_floats("golden_%s_d%d_dx" % (tag, dim), xr.grad))


def write_cross_entropy(out, tag, comment, logits, targets, **options):
    """F.cross_entropy(logits.view(-1, C), targets.view(-1), **options) and
    its gradient, written as golden_<tag>_logits, _targets, _loss, _dlogits."""
    logits = logits.requires_grad_(True)
    loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1), **options)
    loss.backward()
    out.append("/* %s */\n" % comment)
    out.append(c_floats("golden_%s_logits" % tag, logits))
    out.append(c_ints("golden_%s_targets" % tag, targets))
    out.append(c_scalar("golden_%s_loss" % tag, loss.item()))
    out.append(c_floats("golden_%s_dlogits" % tag, logits.grad))


def cross_entropy_case(out):
    """A fixed (8,27) batch: loss and d(loss)/d(logits)."""
    g = torch.Generator().manual_seed(4321)
    logits = torch.randn((8, 27), generator=g) * 2
    targets = torch.randint(0, 27, (8,), generator=g)
    write_cross_entropy(out, "ce", "cross_entropy of logits (8,27) against targets (8,)", logits, targets)


def cross_entropy_ignore_cases(out):
    """Cross-entropy skipping an ignore index, as makemore computes it:
    F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=-1)
    over (B,T,V) = (4,5,27) logits whose targets end in runs of -1; then an
    ignore index inside the class range (3) over (6,5) logits."""
    g = torch.Generator().manual_seed(777)
    logits = torch.randn((4, 5, 27), generator=g) * 2
    targets = torch.randint(0, 27, (4, 5), generator=g)
    for b, length in enumerate([5, 3, 1, 4]):  # row b keeps `length` targets
        targets[b, length:] = -1
    write_cross_entropy(out, "cei", "cross_entropy ignore_index=-1 of logits (4,5,27), targets (4,5)", logits, targets,
                        ignore_index=-1)
    logits = torch.randn((6, 5), generator=g)
    write_cross_entropy(out, "cei3", "cross_entropy ignore_index=3 (a class) of logits (6,5)", logits,
                        torch.tensor([3, 0, 3, 4, 1, 3]), ignore_index=3)


def notebook_case(out):
    """The notebook's first check: the seeded parameters on the 32 examples
    of the first five names. C, X, Y, emb = C[X], the logits and the loss."""
    stoi = {ch: i + 1 for i, ch in enumerate("abcdefghijklmnopqrstuvwxyz")}
    stoi["."] = 0
    xs, ys = [], []
    for w in WORDS:
        context = [0] * BLOCK
        for ch in w + ".":
            xs.append(context)
            ys.append(stoi[ch])
            context = context[1:] + [stoi[ch]]
    X, Y = torch.tensor(xs), torch.tensor(ys)
    g = torch.Generator().manual_seed(2147483647)
    C = torch.randn((27, 10), generator=g)
    W1 = torch.randn((30, 200), generator=g)
    b1 = torch.randn(200, generator=g)
    W2 = torch.randn((200, 27), generator=g)
    b2 = torch.randn(27, generator=g)
    emb = C[X]
    logits = (torch.tanh(emb.view(-1, 30) @ W1 + b1) @ W2 + b2).requires_grad_(True)
    loss = F.cross_entropy(logits, Y)
    loss.backward()
    out.append("/* notebook: seed 2147483647, C (27,10), X (32,3) and Y (32,) from\n"
               " * emma olivia ava isabella sophia; emb = C[X] (32,3,10);\n"
               " * logits = tanh(emb.view(-1,30) @ W1 + b1) @ W2 + b2 (32,27) */\n")
    out.append(c_ints("golden_nb_x", X))
    out.append(c_ints("golden_nb_y", Y))
    out.append(c_floats("golden_nb_c", C))
    out.append(c_floats("golden_nb_emb", emb))
    out.append(c_floats("golden_nb_logits", logits))
    out.append(c_scalar("golden_nb_loss", loss.item()))
    out.append(c_floats("golden_nb_dlogits", logits.grad))


def main():
    out = ["/* golden_softmax.h - GENERATED by tools/golden_softmax.py with PyTorch %s.\n"
           " * Do not edit; rerun the script instead. */\n"
           "#ifndef LT_GOLDEN_SOFTMAX_H\n#define LT_GOLDEN_SOFTMAX_H\n\n#include <stdint.h>\n\n"
           % torch.__version__.split("a")[0]]
    softmax_cases(out)
    cross_entropy_case(out)
    notebook_case(out)
    cross_entropy_ignore_cases(out)
    out.append("\n#endif\n")
    write(output_path("golden_softmax.h"), "\n".join(out))


if __name__ == "__main__":
    main()
