#!/usr/bin/python3
"""torch_blas.py - which BLAS PyTorch uses here, for the compare_*.sh headers
and the torch_*.py benchmarks: the BLAS_INFO of torch.__config__.show(),
the BLAS/LAPACK shared objects mapped into the process, and, when that is
OpenBLAS, the kernels it chose (openblas_get_corename: without
OPENBLAS_CORETYPE it detects the CPU itself, and OpenBLAS 0.3.21 does not
know every CPU: on the Xeon VM of docs/performance.md it falls back to
"Prescott", SSE3).

usage: torch_blas.py   (prints one line: "torch BLAS: ...")
"""
import ctypes
import os
import re

import torch


def blas_in_use():
    """The BLAS/LAPACK shared objects mapped into this process."""
    return ", ".join(os.path.basename(p) for p in _blas_paths()) or "none found"


def _blas_paths():
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if line.rstrip().endswith(".so") or ".so." in line}
    except OSError:
        return []
    return sorted(p for p in libs if any(k in os.path.basename(p) for k in ("blas", "mkl", "lapack")))


def openblas_core():
    """OpenBLAS's kernel choice ("SkylakeX", "Haswell", "Prescott", ...), or
    "not OpenBLAS"."""
    torch.ones(2, 2) @ torch.ones(2, 2)  # make sure the BLAS is loaded
    for path in _blas_paths():
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib.openblas_get_corename().decode()
        except (OSError, AttributeError):
            continue
    return "not OpenBLAS"


def describe():
    """One line: torch's version, its build's BLAS_INFO, the libraries, the core."""
    info = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    return "torch %s BLAS: BLAS_INFO=%s (torch.__config__.show()), loaded %s, OpenBLAS core %s, OPENBLAS_CORETYPE=%s" % (
        torch.__version__, info.group(1) if info else "?", blas_in_use(), openblas_core(),
        os.environ.get("OPENBLAS_CORETYPE", "(unset)"))


if __name__ == "__main__":
    print(describe())
