"""makemore_ref.py - makemore.py's own model classes, for the scripts that
compare with them (tools/golden_makemore.py, bench/torch_makemore.py).

makemore.py is imported (its main is guarded) from ../shared/reference
beside the repository, or from $MAKEMORE_DIR; nothing of it is copied.
"""
import contextlib
import io
import os
import sys
import warnings

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.environ.get("MAKEMORE_DIR", os.path.join(_ROOT, "..", "shared", "reference")))
import makemore  # noqa: E402,F401  (also for the callers: makemore_ref.makemore)

# makemore.py calls F.tanh and F.sigmoid, which PyTorch 1.13 flags as deprecated
warnings.filterwarnings("ignore", message="nn.functional.(tanh|sigmoid) is deprecated")

TYPES = ["bigram", "mlp", "rnn", "gru", "bow", "transformer"]


def build(kind, vocab_size, block_size, n_layer=4, n_head=4, n_embd=64, n_embd2=64):
    """makemore.py's model of type kind, as its main constructs it (its
    defaults for the sizes), drawing from the global generator."""
    cfg = makemore.ModelConfig(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=n_head,
                               n_embd=n_embd, n_embd2=n_embd2)
    with contextlib.redirect_stdout(io.StringIO()):  # Transformer prints its size
        if kind == "bigram":
            return makemore.Bigram(cfg)
        if kind == "mlp":
            return makemore.MLP(cfg)
        if kind in ("rnn", "gru"):
            return makemore.RNN(cfg, cell_type=kind)
        if kind == "bow":
            return makemore.BoW(cfg)
        if kind == "transformer":
            return makemore.Transformer(cfg)
    raise ValueError("unknown model type %r" % kind)
