#!/usr/bin/python3
"""The notebook's training loop in PyTorch with seeded minibatches, printing
each step's batch loss as CSV (step,batch_loss), to compare step by step
with `mlp_names --log`.

usage: torch_steps.py NAMES_TXT [STEPS=100] [BATCH_SEED=42] [SEED=2147483647]

mlp_names draws batches as torch.randint(0, n_train, (32,), generator=g) with
g = torch.Generator().manual_seed(BATCH_SEED); this script does the same.
"""
import random
import sys

import torch
import torch.nn.functional as F

path = sys.argv[1]
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 100
batch_seed = int(sys.argv[3]) if len(sys.argv) > 3 else 42
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 2147483647
torch.set_num_threads(1)

words = open(path).read().splitlines()
chars = sorted(list(set(''.join(words))))
stoi = {s: i + 1 for i, s in enumerate(chars)}
stoi['.'] = 0
block_size = 3


def build_dataset(words):
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + '.':
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return torch.tensor(X), torch.tensor(Y)


random.seed(42)
random.shuffle(words)
n1 = int(0.8 * len(words))
Xtr, Ytr = build_dataset(words[:n1])

g = torch.Generator().manual_seed(seed)
C = torch.randn((27, 10), generator=g)
W1 = torch.randn((30, 200), generator=g)
b1 = torch.randn(200, generator=g)
W2 = torch.randn((200, 27), generator=g)
b2 = torch.randn(27, generator=g)
parameters = [C, W1, b1, W2, b2]
for p in parameters:
    p.requires_grad = True

gb = torch.Generator().manual_seed(batch_seed)
print('step,batch_loss')
for i in range(steps):
    ix = torch.randint(0, Xtr.shape[0], (32,), generator=gb)
    emb = C[Xtr[ix]]
    h = torch.tanh(emb.view(-1, 30) @ W1 + b1)
    loss = F.cross_entropy(h @ W2 + b2, Ytr[ix])
    for p in parameters:
        p.grad = None
    loss.backward()
    lr = 0.1 if i < 100000 else 0.01
    for p in parameters:
        p.data += -lr * p.grad
    print('%d,%.6f' % (i, loss.item()))
