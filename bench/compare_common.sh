# shellcheck shell=bash
# compare_common.sh - what the bench/compare_*.sh scripts share; sourced by
# them, not run. After `cmp_init NAME`:
#   die MSG             prints "NAME: MSG" on stderr and exits 1
#   cmp_check_rounds R  R must be a positive integer (the ROUNDS argument)
#   cmp_check_bin PATH  PATH must be an executable (a benchmark binary)
#   cmp_check_torch PY  the interpreter PY must import torch, and its BLAS
#                       must be OpenBLAS (bench/torch_blas.py --check; set
#                       ANY_BLAS=1 to compare against another BLAS anyway)
#   torch_env N         PyTorch's environment for N threads, one word a line
#                       (read it with mapfile): OPENBLAS_CORETYPE removed, or
#                       set to $TORCH_CORETYPE when that is set; the OMP,
#                       OpenBLAS and MKL thread counts N; and on 2 or more
#                       threads OMP_WAIT_POLICY=PASSIVE (OpenMP's spinning
#                       workers otherwise fight a loaded machine's other
#                       processes for the cores)
#   $tmp                a temporary directory, removed when the script exits

cmp_init() {
  cmp_name="$1"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
}

die() { echo "$cmp_name: $*" >&2; exit 1; }

cmp_check_rounds() {
  [[ "$1" =~ ^[0-9]+$ && "$1" -ge 1 ]] || die "ROUNDS must be a positive integer, got '$1'"
}

cmp_check_bin() {
  [ -x "$1" ] || die "$1: not an executable (build it: cmake --build build, or pass its path)"
}

cmp_check_torch() {
  "$1" -c 'import torch' 2>/dev/null || die "$1 cannot import torch"
  [ "${ANY_BLAS:-0}" = 1 ] && return 0
  "$1" "$(dirname "${BASH_SOURCE[0]}")/torch_blas.py" --check 2>"$tmp/blas_check" ||
    die "$(cat "$tmp/blas_check")"
}

torch_env() {
  local n="$1"
  printf '%s\n' env -u OPENBLAS_CORETYPE ${TORCH_CORETYPE:+OPENBLAS_CORETYPE="$TORCH_CORETYPE"}
  printf '%s\n' OMP_NUM_THREADS="$n" OPENBLAS_NUM_THREADS="$n" MKL_NUM_THREADS="$n"
  [ "$n" -lt 2 ] || printf '%s\n' OMP_WAIT_POLICY=PASSIVE
}
