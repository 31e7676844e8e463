#!/usr/bin/python3
"""torch_makemore.py - makemore.py's training step timed in PyTorch, with its
own classes (imported through tools/makemore_ref.py from
../shared/reference/makemore.py or $MAKEMORE_DIR), for each type at its
defaults (n_layer 4, n_head 4, n_embd 64, n_embd2 64, batch 32, block 16,
vocab 27). One step is makemore.py's loop body: model(X, Y) (forward +
cross-entropy with ignore_index -1), zero_grad(set_to_none=True), backward,
AdamW(lr 5e-4, betas 0.9/0.99, eps 1e-8, weight decay 0.01).step(), on

  - without --data: one fixed batch of random tokens, the targets after a
    random stop set to -1 (the model's step alone, which favours PyTorch:
    makemore.py's data loading is left out);
  - with --data names.txt: the next batch of makemore.py's own
    InfiniteDataLoader over its create_datasets() training split
    (batch_size 32, pin_memory True, num_workers 0), fetched inside the
    step as makemore.py does (what its "step time" measures).

usage: torch_makemore.py [--threads N] [--type T ...] [--time S] [--data NAMES_TXT]

Prints one line per type for bench/compare_makemore.sh:
  result torch|torch-loop <type> <threads> <steps/s wall> <steps/s cpu>
Each figure is the best of 5 batches of steps lasting >= S/5 seconds each,
after a warm-up.
"""
import argparse
import contextlib
import io
import os
import warnings
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
from makemore_ref import TYPES, build, makemore  # noqa: E402  (makemore.py's classes)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_blas import describe  # noqa: E402

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


def batches(data):
    """The next (X, Y): makemore.py's loader over data's training split, or
    the one fixed batch."""
    if not data:
        fixed = batch()
        return lambda: fixed
    with contextlib.redirect_stdout(io.StringIO()):
        train, _ = makemore.create_datasets(data)
    assert train.get_vocab_size() == V and train.get_output_length() == T, "expected names.txt's vocab 27, block 16"
    loader = makemore.InfiniteDataLoader(train, batch_size=B, pin_memory=True, num_workers=0)
    return lambda: [t.to("cpu") for t in loader.next()]


def time_type(kind, seconds, data):
    torch.manual_seed(3407)
    next_batch = batches(data)
    model = build(kind, V, T)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01, betas=(0.9, 0.99), eps=1e-8)

    def step():
        X, Y = next_batch()
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
    ap.add_argument("--data", help="names.txt: time makemore.py's loop with its own data loader")
    a = ap.parse_args()
    warnings.filterwarnings("ignore", message=".*pin_memory.*")  # no CUDA here
    torch.set_num_threads(a.threads)
    print("%s; %d thread(s), OMP_WAIT_POLICY=%s" % (describe(), torch.get_num_threads(),
                                                     os.environ.get("OMP_WAIT_POLICY", "(unset)")))
    for kind in a.type:
        w, c = time_type(kind, a.time, a.data)
        print("result %s %s %d %.2f %.2f" % ("torch-loop" if a.data else "torch", kind, a.threads, w, c), flush=True)


if __name__ == "__main__":
    main()
