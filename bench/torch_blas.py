#!/usr/bin/python3
"""torch_blas.py - which BLAS PyTorch uses here, for the compare_*.sh headers
and the torch_*.py benchmarks: the BLAS_INFO of torch.__config__.show(),
the BLAS/LAPACK shared objects mapped into the process, and, when that is
OpenBLAS, the kernels it chose (openblas_get_corename: without
OPENBLAS_CORETYPE it detects the CPU itself, and OpenBLAS 0.3.21 does not
know every CPU: on the Xeon VM of docs/performance.md it falls back to
"Prescott", SSE3).

usage: torch_blas.py           prints one line: "torch BLAS: ..."
       torch_blas.py --check   prints nothing and exits 0 when PyTorch's
                               BLAS is OpenBLAS; else explains on stderr and
                               exits 1 (the compare_*.sh scripts refuse to
                               compare against another BLAS)

Why the check: Debian's python3-torch links libblas.so.3, whatever the
alternatives system points it at. On a machine with only libblas3 (the
reference BLAS: plain loops, no blocking) PyTorch ran makemore's
transformer at 7.9 steps/s against 60.5 with OpenBLAS, so every ratio
against it was 7-8x too flattering.
"""
import ctypes
import os
import re
import sys

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
    paths = _blas_paths()
    # libblas.so.3 is what torch's GEMM calls: ask it alone when it is
    # loaded, since an OpenBLAS pulled in by liblapack.so.3 alone does not
    # serve those calls (Debian's alternatives can point the two at
    # different libraries)
    blas = [p for p in paths if os.path.basename(p).startswith("libblas")]
    for path in blas or paths:
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


def check_openblas():
    """0 when PyTorch runs on OpenBLAS; else 1, with the reason on stderr."""
    if openblas_core() != "not OpenBLAS":
        return 0
    sys.stderr.write(
        "PyTorch's BLAS is not OpenBLAS (loaded: %s); on Debian that is the reference "
        "BLAS, several times slower, and a ratio against it means nothing. Install "
        "OpenBLAS (apt-get install -y libopenblas0-pthread), which takes over "
        "libblas.so.3, or set ANY_BLAS=1 to compare anyway\n" % blas_in_use())
    return 1


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(check_openblas())
    if sys.argv[1:]:
        sys.exit("usage: torch_blas.py [--check]")
    print(describe())
