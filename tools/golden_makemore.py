#!/usr/bin/python3
"""Writes tests/data/golden_makemore.h: PyTorch 1.13 reference values for
makemore.py's six models (tests/test_makemore_models.c).

usage: /usr/bin/python3 tools/golden_makemore.py [OUTPUT]
       (default tests/data/golden_makemore.h; makemore.py is read from
       ../shared/reference beside the repository, or $MAKEMORE_DIR)

The models are makemore.py's own classes (imported, not rewritten) at its
default sizes (n_layer 4, n_head 4, n_embd 64, n_embd2 64). Each case seeds
torch.manual_seed(3407), draws the split's torch.randperm(n) when n > 0 (as
makemore.py does before it builds the model; n 32033 is names.txt's size),
then constructs the model. Recorded per case:
  - every parameter in model.parameters() order: its state_dict name,
    shape, the FNV-1a 64 hash of its float bits (bit-exact initialisation)
    and its first value;
  - logits for a fixed batch idx (B, T) of tokens (T may be below the
    block size), in full;
  - the loss F.cross_entropy(logits.view(-1, V), targets.view(-1),
    ignore_index=-1) on fixed targets holding some -1;
  - after loss.backward(): for every parameter, the 2-norm of its gradient
    (in double) and SAMPLES values spread over it (every numel//SAMPLES-th).
The idx and targets come from torch.Generator().manual_seed(7) and are
stored as integers, so the C test needs no generator for them.
"""
import contextlib
import io
import os
import sys
import warnings

import torch
import torch.nn.functional as F

from golden_common import Header, output_path, write

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.environ.get("MAKEMORE_DIR", os.path.join(HERE, "..", "..", "shared", "reference"))
sys.path.insert(0, REFERENCE)
import makemore  # noqa: E402  (the reference's classes; its main is guarded)

warnings.filterwarnings("ignore", message="nn.functional.(tanh|sigmoid) is deprecated")

SEED = 3407
SAMPLES = 16
B = 3
TYPES = ["bigram", "mlp", "rnn", "gru", "bow", "transformer"]
# (vocab_size, block_size, randperm n before the model, T of the batch)
SHAPES = [(27, 16, 32033, 16), (11, 7, 0, 5)]


def fnv1a64(data):
    """FNV-1a (64-bit) over bytes; tests/rng_checks.h computes the same."""
    h = 0xcbf29ce484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001b3) & 0xffffffffffffffff
    return h


def f32_bytes(t):
    return t.detach().to(torch.float32).contiguous().numpy().tobytes()


def build(kind, vocab, block):
    cfg = makemore.ModelConfig(vocab_size=vocab, block_size=block, n_layer=4, n_head=4, n_embd=64, n_embd2=64)
    with contextlib.redirect_stdout(io.StringIO()):  # Transformer prints its size
        if kind == "bigram":
            return makemore.Bigram(cfg)
        if kind == "mlp":
            return makemore.MLP(cfg)
        if kind in ("rnn", "gru"):
            return makemore.RNN(cfg, cell_type=kind)
        if kind == "bow":
            return makemore.BoW(cfg)
        return makemore.Transformer(cfg)


def batch(vocab, T):
    """idx (B,T) tokens and targets (B,T): the next tokens, -1 after a stop."""
    g = torch.Generator().manual_seed(7)
    idx = torch.randint(0, vocab, (B, T), generator=g)
    targets = torch.randint(0, vocab, (B, T), generator=g)
    targets[0, T - 2:] = -1  # a sequence that ended early
    targets[2, T - 1] = -1
    return idx, targets


def samples(t):
    flat = t.detach().reshape(-1)
    step = max(1, flat.numel() // SAMPLES)
    return flat[::step][:SAMPLES].tolist() + [0.0] * max(0, SAMPLES - (flat.numel() + step - 1) // step)


def add_case(h, c, kind, vocab, block, perm_n, T):
    torch.manual_seed(SEED)
    if perm_n:
        torch.randperm(perm_n)
    model = build(kind, vocab, block)
    named = list(model.named_parameters())
    assert [p for _, p in named] == list(model.parameters())
    idx, targets = batch(vocab, T)
    logits, loss = model(idx, targets)
    loss.backward()
    ref = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
    assert torch.equal(ref, loss)

    h.comment("case %d: %s, vocab %d, block %d, randperm(%d) first, batch (%d,%d)"
              % (c, kind, vocab, block, perm_n, B, T))
    p = "G_MM%d_" % c
    h.define(p + "N_PARAM", len(named))
    h.define(p + "PARAM_COUNT", sum(t.numel() for _, t in named))
    h.parts.append("static const char *const %sNAMES[%d] = {\n%s\n};"
                   % (p, len(named), "\n".join('    "%s",' % n for n, _ in named)))
    h.ints(p + "SHAPES", "int64_t", [d for _, t in named for d in (list(t.shape) + [0, 0])[:2]])
    h.ints(p + "HASH", "uint64_t", [fnv1a64(f32_bytes(t)) for _, t in named])
    h.floats(p + "FIRST", [t.detach().reshape(-1)[0].item() for _, t in named])
    h.ints(p + "IDX", "int32_t", idx.reshape(-1).tolist())
    h.ints(p + "TARGETS", "int32_t", targets.reshape(-1).tolist())
    h.floats(p + "LOGITS", logits.detach().reshape(-1).tolist())
    h.floats(p + "LOSS", [loss.item()])
    h.doubles(p + "GRAD_NORM", [t.grad.double().norm().item() for _, t in named])
    h.floats(p + "GRAD_SAMPLES", [v for _, t in named for v in samples(t.grad)])


def main():
    h = Header()
    h.parts.append("/* golden_makemore.h - generated by tools/golden_makemore.py from makemore.py's models\n"
                   " * (PyTorch %s); do not edit. */" % torch.__version__)
    h.define("G_MM_SEED", SEED)
    h.define("G_MM_B", B)
    h.define("G_MM_SAMPLES", SAMPLES)
    cases = []
    for vocab, block, perm_n, T in SHAPES:
        for kind in TYPES:
            add_case(h, len(cases), kind, vocab, block, perm_n, T)
            cases.append((kind, vocab, block, perm_n, T))
    h.define("G_MM_N_CASES", len(cases))
    h.parts.append("/* type, vocab_size, block_size, randperm n, T */")
    h.parts.append("static const struct { const char *type; int vocab, block, perm_n, T; } G_MM_CASES[%d] = {\n%s\n};"
                   % (len(cases), "\n".join('    {"%s", %d, %d, %d, %d},' % cs for cs in cases)))
    h.parts.append("#define G_MM_CASE_DATA(c) { G_MM##c##_N_PARAM, G_MM##c##_PARAM_COUNT, G_MM##c##_NAMES, "
                   "G_MM##c##_SHAPES, G_MM##c##_HASH, G_MM##c##_FIRST, G_MM##c##_IDX, G_MM##c##_TARGETS, "
                   "G_MM##c##_LOGITS, G_MM##c##_LOSS, G_MM##c##_GRAD_NORM, G_MM##c##_GRAD_SAMPLES }")
    write(output_path("golden_makemore.h"), "\n".join(h.parts) + "\n")


if __name__ == "__main__":
    main()
