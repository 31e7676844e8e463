#!/usr/bin/python3
"""torch_attention.py - PyTorch 1.13's attention, composed as makemore.py's
CausalSelfAttention writes it, forward + backward, timed on one thread; the
PyTorch side of bench/compare_attention.sh.

usage: bench/torch_attention.py B,H,T,D[,causal] ...   (causal 1 or 0, default 1)

One step: the inputs' gradients cleared, att = (q @ k.transpose(-2, -1)) *
(1 / sqrt(D)), masked_fill(tril == 0, -inf) when causal, softmax(-1), @ v,
then y.backward(G) with a fixed G: what bench/bench_attention.c times for
libtensor. (PyTorch 1.13 has no F.scaled_dot_product_attention.) Each figure
is the median over 7 repetitions of the mean time of a batch of steps
lasting >= 20 ms, after a warm-up, as wall-clock and as process CPU time.

Prints one line per case:
    result torch B H T D causal wall_us X cpu_us Y
and, first, the BLAS library PyTorch loaded and OpenBLAS's kernels
(torch_blas.py).
"""
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_blas import describe  # noqa: E402


def make_step(B, H, T, D, causal):
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.rand((B, H, T, D), generator=g).mul_(2).sub_(1).requires_grad_(True) for _ in range(3))
    up = torch.rand((B, H, T, D), generator=g).mul_(2).sub_(1)
    bias = torch.tril(torch.ones(T, T)).view(1, 1, T, T)
    scale = 1.0 / math.sqrt(D)

    def step():
        for t in (q, k, v):
            t.grad = None
        att = (q @ k.transpose(-2, -1)) * scale
        if causal:
            att = att.masked_fill(bias[:, :, :T, :T] == 0, float("-inf"))
        y = torch.softmax(att, dim=-1) @ v
        y.backward(up)

    return step


def time_step(step):
    calls = 1
    while True:  # sizing the batch is the warm-up
        t0 = time.perf_counter()
        for _ in range(calls):
            step()
        if time.perf_counter() - t0 >= 20e-3:
            break
        calls *= 2
    wall, cpu = [], []
    for _ in range(7):
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(calls):
            step()
        wall.append((time.perf_counter() - w0) / calls)
        cpu.append((time.process_time() - c0) / calls)
    return sorted(wall)[3], sorted(cpu)[3]


def main():
    cases = []
    for arg in sys.argv[1:]:
        parts = [int(p) for p in arg.split(",")]
        if len(parts) not in (4, 5) or min(parts[:4]) < 1:
            sys.exit("usage: torch_attention.py B,H,T,D[,causal] ...")
        cases.append(tuple(parts[:4]) + (bool(parts[4]) if len(parts) == 5 else True,))
    torch.set_num_threads(1)
    print("%s; %d thread(s)" % (describe(), torch.get_num_threads()))
    for B, H, T, D, causal in cases:
        wall, cpu = time_step(make_step(B, H, T, D, causal))
        print("result torch %d %d %d %d %d wall_us %.3f cpu_us %.3f" % (B, H, T, D, causal, wall * 1e6, cpu * 1e6))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
