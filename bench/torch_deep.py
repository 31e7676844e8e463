#!/usr/bin/python3
"""torch_deep.py - deep_names' two headline models trained in PyTorch 1.13,
the PyTorch side of bench/compare_deep.sh (bench_deep is libtensor's).

  wide:    C (27, 32) -> embedding dropout 0.1 -> (B, 256) -> Linear(256, 2048,
           no bias) -> LayerNorm -> ReLU -> dropout 0.4 -> Linear(2048, 27);
           AdamW (betas 0.9/0.999, eps 1e-8; weight decay 0.1 on C and the
           matrices, 0 on gains and biases), lr 2e-3 cosine to 2e-5, batch 256
  wavenet: C (27, 24) -> (B, 8, 24); three levels of [pairs of steps side by
           side -> Linear(2 * width, 128, no bias) -> BatchNorm -> Tanh] ->
           Linear(128, 27); SGD lr 0.1, 0.01 from 3/4 of the steps, batch 32

The shapes, parameters and optimisers of deep_model.c / deep_names.c. As
there, the WaveNet's rows stay 2-D, (B*T, width), and batchnorm runs over
them (makemore part 5's batchnorm over dims (0, 1)), here with
F.batch_norm: PyTorch's fused kernel, faster than part 5's hand-written
mean/var, so the conservative yardstick. The data is names.txt's training
split as the notebook makes it (Python's shuffle, seed 42, 80%); minibatch
rows from torch.randint; one step is index, forward, cross-entropy,
zero_grad(set_to_none=True), backward, the learning rate set, step.

usage: torch_deep.py --model wide|wavenet [--steps N] [--threads N] [--data NAMES_TXT]

The first steps/10 steps are a warm-up; the rest are timed. Prints the BLAS
PyTorch loaded and the kernels OpenBLAS chose (torch_blas.py), then
    result torch <model> <threads> <steps/s wall> <steps/s cpu> loss <last batch loss>
"""
import argparse
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_blas import describe  # noqa: E402

BLOCK = 8


def training_split(path):
    """(X, Y) of the first 80% of the words after random.seed(42) shuffle."""
    with open(path, encoding="utf-8") as f:
        words = [w.strip() for w in f if w.strip()]
    stoi = {c: i + 1 for i, c in enumerate(sorted(set("".join(words))))}
    random.seed(42)
    random.shuffle(words)
    X, Y = [], []
    for w in words[:int(0.8 * len(words))]:
        context = [0] * BLOCK
        for c in w + ".":
            ix = stoi.get(c, 0)
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return torch.tensor(X), torch.tensor(Y), len(stoi) + 1


class Wide(torch.nn.Module):
    def __init__(self, vocab, emb=32, hidden=2048):
        super().__init__()
        self.C = torch.nn.Parameter(torch.randn(vocab, emb))
        self.w = torch.nn.Parameter(torch.randn(BLOCK * emb, hidden) * math.sqrt(2.0 / (BLOCK * emb)))
        self.ln = torch.nn.LayerNorm(hidden)
        self.w_out = torch.nn.Parameter(torch.randn(hidden, vocab) * 0.1 / math.sqrt(hidden))
        self.b_out = torch.nn.Parameter(torch.zeros(vocab))

    def forward(self, x):
        h = F.dropout(self.C[x], 0.1, self.training).view(x.shape[0], -1)
        h = F.dropout(F.relu(self.ln(h @ self.w)), 0.4, self.training)
        return h @ self.w_out + self.b_out


class WaveNet(torch.nn.Module):
    def __init__(self, vocab, emb=24, hidden=128):
        super().__init__()
        self.C = torch.nn.Parameter(torch.randn(vocab, emb))
        fan_in = [2 * emb] + [2 * hidden] * (int(math.log2(BLOCK)) - 1)
        self.w = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.randn(f, hidden) * (5 / 3) / math.sqrt(f)) for f in fan_in])
        self.bn = torch.nn.ModuleList([torch.nn.BatchNorm1d(hidden) for _ in fan_in])
        self.w_out = torch.nn.Parameter(torch.randn(hidden, vocab) * 0.1 / math.sqrt(hidden))
        self.b_out = torch.nn.Parameter(torch.zeros(vocab))

    def forward(self, x):
        B, T = x.shape
        h = self.C[x]  # (B, T, emb)
        for w, bn in zip(self.w, self.bn):
            T //= 2
            h = torch.tanh(bn(h.reshape(B * T, -1) @ w))  # (B*T, hidden): two steps side by side
        return h @ self.w_out + self.b_out


def setup(model, vocab):
    """The model, its optimiser and its learning rate at a step."""
    if model == "wide":
        m = Wide(vocab)
        decay = [m.C, m.w, m.w_out]
        plain = [m.ln.weight, m.ln.bias, m.b_out]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": plain, "weight_decay": 0.0}],
                                lr=2e-3, betas=(0.9, 0.999), eps=1e-8)
        return m, opt, lambda step, total: 2e-5 + 0.5 * (2e-3 - 2e-5) * (1 + math.cos(math.pi * step / total))
    m = WaveNet(vocab)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    return m, opt, lambda step, total: 0.1 if step < total * 3 // 4 else 0.01


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["wide", "wavenet"], required=True)
    ap.add_argument("--steps", type=int, default=0, help="default: 300 (wide), 20000 (wavenet)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   "..", "..", "shared", "data", "names.txt"))
    a = ap.parse_args()
    steps = a.steps or (300 if a.model == "wide" else 20000)
    batch = 256 if a.model == "wide" else 32
    if steps < 2 or a.threads < 1:
        sys.exit("torch_deep.py: --steps must be at least 2 and --threads at least 1")
    torch.set_num_threads(a.threads)
    torch.manual_seed(42)
    X, Y, vocab = training_split(a.data)
    m, opt, lr_at = setup(a.model, vocab)
    m.train()
    print("%s; %d thread(s), OMP_WAIT_POLICY=%s"
          % (describe(), torch.get_num_threads(), os.environ.get("OMP_WAIT_POLICY", "(unset)")))
    warmup = max(1, steps // 10)
    for step in range(steps):
        if step == warmup:
            w0, c0 = time.perf_counter(), time.process_time()
        ix = torch.randint(0, X.shape[0], (batch,))
        loss = F.cross_entropy(m(X[ix]), Y[ix])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps)
        opt.step()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    timed = steps - warmup
    print("result torch %s %d %.3f %.3f loss %.6f" % (a.model, a.threads, timed / wall, timed / cpu, loss.item()))


if __name__ == "__main__":
    main()
