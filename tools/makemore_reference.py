#!/usr/bin/python3
"""makemore.py's own numbers for a configuration, to compare with the C
program: parameter count, the initial losses on the whole train and test
splits (mean over the targets that are not ignored, as makemore's `init:`
line), and optionally the batch losses of its first training steps (its
InfiniteDataLoader, AdamW as makemore.py).

usage: tools/makemore_reference.py [-i names.txt] [--type transformer] [--n-layer 4] [--n-head 4]
           [--n-embd 64] [--n-embd2 64] [--seed 3407] [--steps 0] [-b 32] [-l 5e-4] [-w 0.01]

Needs PyTorch 1.13 (/usr/bin/python3) and makemore.py (found by
tools/makemore_ref.py: ../shared/reference, or MAKEMORE_DIR). Compare with:
  makemore -i names.txt --type mlp --max-steps 0        (params:, init:)
"""
import argparse
import contextlib
import io
import os
import sys

import torch
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import makemore_ref  # noqa: E402

mm = makemore_ref.makemore


def split_loss(model, ds):
    total, count = 0.0, 0
    with torch.no_grad():
        for b in range(0, len(ds), 1000):
            rows = [ds[i] for i in range(b, min(b + 1000, len(ds)))]
            X, Y = torch.stack([r[0] for r in rows]), torch.stack([r[1] for r in rows])
            logits, _ = model(X)
            total += F.cross_entropy(logits.view(-1, logits.size(-1)), Y.view(-1), ignore_index=-1,
                                     reduction="sum").item()
            count += (Y != -1).sum().item()
    return total / count


def main():
    p = argparse.ArgumentParser()
    p.add_argument("-i", "--input-file", default="names.txt")
    p.add_argument("--type", default="transformer", choices=makemore_ref.TYPES)
    for name, default in (("--n-layer", 4), ("--n-head", 4), ("--n-embd", 64), ("--n-embd2", 64), ("--seed", 3407),
                          ("--steps", 0), ("-b", 32)):
        p.add_argument(name, type=int, default=default)
    p.add_argument("-l", type=float, default=5e-4)
    p.add_argument("-w", type=float, default=0.01)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    with contextlib.redirect_stdout(io.StringIO()):
        train, test = mm.create_datasets(a.input_file)
    model = makemore_ref.build(a.type, train.get_vocab_size(), train.get_output_length(), a.n_layer, a.n_head,
                               a.n_embd, a.n_embd2)
    print("params: %d" % sum(p.numel() for p in model.parameters()))
    print("init: train %.6f test %.6f" % (split_loss(model, train), split_loss(model, test)))
    if a.steps > 0:
        opt = torch.optim.AdamW(model.parameters(), lr=a.l, weight_decay=a.w, betas=(0.9, 0.99), eps=1e-8)
        loader = mm.InfiniteDataLoader(train, batch_size=a.b, pin_memory=True, num_workers=0)
        for step in range(a.steps):
            X, Y = loader.next()
            _, loss = model(X, Y)
            model.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            print("step %d batch loss %.6f" % (step + 1, loss.item()))
        print("after %d steps: train %.6f test %.6f" % (a.steps, split_loss(model, train), split_loss(model, test)))


if __name__ == "__main__":
    main()
