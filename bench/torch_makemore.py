#!/usr/bin/python3
"""torch_makemore.py - makemore.py's training step timed in PyTorch, with its
own model classes (imported through tools/makemore_ref.py from
../shared/reference/makemore.py or $MAKEMORE_DIR): for each type at its defaults (n_layer 4, n_head 4, n_embd
64, n_embd2 64, batch 32, block 16, vocab 27), one step is what makemore.py's
loop does per batch: model(X, Y) (forward + cross-entropy with ignore_index
-1), zero_grad(set_to_none=True), backward, AdamW(lr 5e-4, betas 0.9/0.99,
eps 1e-8, weight decay 0.01).step(). The batch is random tokens with the
targets after a random stop set to -1, drawn once (makemore.py's data
loader is left out, which only favours PyTorch).

usage: torch_makemore.py [--threads N] [--type T ...] [--time S]

Prints one line per type for bench/compare_makemore.sh:
  result torch <type> <threads> <steps/s wall> <steps/s cpu>
Each figure is the best of 5 batches of steps lasting >= S/5 seconds each,
after a warm-up.
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
from makemore_ref import TYPES, build  # noqa: E402  (makemore.py's classes)

B, T, V = 32, 16, 27


def batch():
    g = torch.Generator().manual_seed(1)
    X = torch.randint(1, V, (B, T), generator=g)
    Y = torch.randint(1, V, (B, T), generator=g)
    stops = torch.randint(3, T, (B,), generator=g)
    for b in range(B):
        Y[b, stops[b]] = 0
        Y[b, stops[b] + 1:] = -1
    return X, Y


def time_type(kind, seconds):
    torch.manual_seed(3407)
    model = build(kind, V, T)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01, betas=(0.9, 0.99), eps=1e-8)
    X, Y = batch()

    def step():
        logits, loss = model(X, Y)
        model.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    n = 1
    while True:  # warm-up, and the batch size of steps
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        if time.perf_counter() - t0 >= seconds / 5:
            break
        n *= 2
    best_wall = best_cpu = float("inf")
    for _ in range(5):
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            step()
        best_wall = min(best_wall, (time.perf_counter() - w0) / n)
        best_cpu = min(best_cpu, (time.process_time() - c0) / n)
    return 1 / best_wall, 1 / best_cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--type", nargs="*", default=TYPES, choices=TYPES)
    ap.add_argument("--time", type=float, default=2.0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print("torch %s, %d thread(s), BLAS: %s" % (torch.__version__, torch.get_num_threads(),
          "openblas" if "openblas" in torch.__config__.show().lower() else "other"))
    for kind in a.type:
        w, c = time_type(kind, a.time)
        print("result torch %s %d %.2f %.2f" % (kind, a.threads, w, c), flush=True)


if __name__ == "__main__":
    main()
