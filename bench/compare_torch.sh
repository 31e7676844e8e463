#!/usr/bin/env bash
# compare_torch.sh - the notebook's MLP trained by PyTorch
# (../shared/reference/torch_mlp.py) and by libtensor (examples/mlp_names)
# with the same steps, dev-evaluation cadence and thread count; prints both
# training-loop times (each program's own timer: torch's `train_seconds X`,
# mlp_names' `time: X s`), the ratio, and both final dev losses.
#
#   bench/compare_torch.sh [NAMES_TXT] [STEPS] [THREADS] [MLP_NAMES_BINARY]
#
# Defaults: ../shared/data/names.txt (beside the repository), 200000 steps,
# 1 thread, build/examples/mlp_names. EVAL_EVERY=N in the environment
# changes the cadence (default 1000, the notebook's), PYTHON=... the
# interpreter (default /usr/bin/python3). The torch run is skipped, with a
# message, when the interpreter cannot import torch.
#
# The final dev losses should be close, not equal: torch_mlp.py draws its
# minibatches from torch's unseeded global generator, mlp_names from its
# own seeded one (--batch-seed), so the two runs see different batches.
#
# PyTorch runs with OPENBLAS_CORETYPE removed from its environment, in its
# command alone (the environment may pin OpenBLAS for other programs), and
# with the OMP/OpenBLAS/MKL thread counts equal to THREADS, and on 2 or
# more threads with OMP_WAIT_POLICY=PASSIVE (OpenMP's spinning
# workers otherwise fight a loaded machine's other processes for the
# cores); the script prints both, and the BLAS PyTorch loaded with the
# kernels OpenBLAS chose (bench/torch_blas.py: unset, OpenBLAS 0.3.21 falls
# back to "Prescott", SSE3, on a CPU it does not know).
# TORCH_CORETYPE=SkylakeX (say) sets OPENBLAS_CORETYPE for PyTorch instead.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
names="${1:-$root/../shared/data/names.txt}"
steps="${2:-200000}"
threads="${3:-1}"
bin="${4:-$root/build/examples/mlp_names}"
eval_every="${EVAL_EVERY:-1000}"
torch_script="$root/../shared/reference/torch_mlp.py"
python="${PYTHON:-/usr/bin/python3}"

# shellcheck source=bench/compare_common.sh
. "$root/bench/compare_common.sh"
cmp_init compare_torch
[[ "$steps" =~ ^[0-9]+$ && "$steps" -gt 0 ]] || die "STEPS must be a positive integer, got '$steps'"
[[ "$threads" =~ ^[0-9]+$ && "$threads" -ge 1 && "$threads" -le 64 ]] || die "THREADS must be 1..64, got '$threads'"
[[ "$eval_every" =~ ^[0-9]+$ ]] || die "EVAL_EVERY must be a non-negative integer, got '$eval_every'"
[ -r "$names" ] || die "$names: not readable (pass the path of names.txt)"
cmp_check_bin "$bin"

echo "compare_torch: $steps steps, dev loss every $eval_every, $threads thread(s), data $names"

# field after `key` on the line starting with `prefix` (last such line)
field() { awk -v p="$2" -v k="$3" 'index($0, p) == 1 { for (i = 1; i < NF; i++) if ($i == k) v = $(i + 1) } END { print v }' "$1"; }

# PyTorch's environment: see the header
mapfile -t torch_env < <(torch_env "$threads")

have_torch=0
if [ -x "$python" ] && [ -r "$torch_script" ] && "$python" -c 'import torch' 2>/dev/null; then
  have_torch=1
  cmp_check_torch "$python"
  echo "torch runs under: ${torch_env[*]}"
  "${torch_env[@]}" "$python" "$root/bench/torch_blas.py" || die "bench/torch_blas.py failed"
  "${torch_env[@]}" "$python" "$torch_script" "$names" "$steps" "$eval_every" "$threads" >"$tmp/torch.out" 2>&1 ||
    { tail -20 "$tmp/torch.out" >&2; die "torch_mlp.py failed"; }
  t_torch="$(field "$tmp/torch.out" train_seconds train_seconds)"
  dev_torch="$(field "$tmp/torch.out" 'train ' dev)"
  [ -n "$t_torch" ] || { tail -20 "$tmp/torch.out" >&2; die "no train_seconds in torch_mlp.py's output"; }
else
  echo "torch:     skipped ($python cannot import torch, or $torch_script is missing)"
fi

"$bin" --data "$names" --steps "$steps" --eval-every "$eval_every" --threads "$threads" --quiet \
  >"$tmp/lt.out" 2>&1 || { tail -20 "$tmp/lt.out" >&2; die "$bin failed"; }
t_lt="$(field "$tmp/lt.out" 'time:' 'time:')"
dev_lt="$(field "$tmp/lt.out" 'final:' dev)"
[ -n "$t_lt" ] || { tail -20 "$tmp/lt.out" >&2; die "no 'time: X s' line in mlp_names' output"; }

report() { # name seconds dev
  awk -v n="$1" -v t="$2" -v d="$3" -v s="$steps" \
    'BEGIN { printf "%-10s train_seconds %8.2f  (%6.0f steps/s)  final dev loss %s\n", n":", t, (t > 0 ? s / t : 0), d }'
}
[ "$have_torch" = 1 ] && report torch "$t_torch" "$dev_torch"
report libtensor "$t_lt" "$dev_lt"
if [ "$have_torch" = 1 ]; then
  awk -v a="$t_torch" -v b="$t_lt" 'BEGIN { if (b > 0) printf "ratio:     torch / libtensor = %.2fx\n", a / b }'
fi
