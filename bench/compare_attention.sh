#!/usr/bin/env bash
# compare_attention.sh - attention forward + backward side by side: PyTorch
# 1.13 (bench/torch_attention.py: the ops composed as makemore.py writes
# them), libtensor's fused lt_scaled_dot_product_attention and the same
# attention composed from libtensor's ops (bench_attention), all on one
# thread, at makemore's shape (32,4,16,16) and (8,8,256,64), causal and not.
#
#   bench/compare_attention.sh [ROUNDS] [BENCH_ATTENTION_BINARY]
#
# The two programs run alternately, A B A B ... (ROUNDS each, default 3),
# so that a change in the machine's load hits both, and each keeps its best
# (smallest) figure per case. Wall-clock and process CPU time are both
# reported; on a loaded machine the CPU time is the fairer one. "paired" is
# bench_attention's own composed/fused CPU-time ratio (fused and composed
# batches alternate within the program), the median over rounds: the
# steadiest figure when the load changes.
#
# PyTorch runs with OPENBLAS_CORETYPE removed from its environment (and
# only from its command): the environment may pin OpenBLAS for the library's
# own comparisons. Unset, OpenBLAS picks kernels for the CPU itself, and on a
# CPU OpenBLAS 0.3.21 does not know it falls back to "Prescott" (SSE3);
# TORCH_CORETYPE=SkylakeX (say) sets OPENBLAS_CORETYPE for PyTorch instead.
# OMP/OPENBLAS/MKL thread counts are 1. The BLAS PyTorch loaded and the
# kernels OpenBLAS chose are printed (bench/torch_blas.py). PYTHON=... sets the interpreter (default /usr/bin/python3);
# TORCH_ENV="VAR=value ..." adds variables to PyTorch's command only (e.g.
# LD_LIBRARY_PATH pointing at an OpenBLAS where the system BLAS is the
# reference one). SHAPES="B,H,T,D ..." replaces the two shapes.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${1:-3}"
bin="${2:-$root/build/bench/bench_attention}"
python="${PYTHON:-/usr/bin/python3}"
shapes="${SHAPES:-32,4,16,16 8,8,256,64}"

# shellcheck source=bench/compare_common.sh
. "$root/bench/compare_common.sh"
cmp_init compare_attention
cmp_check_rounds "$rounds"
cmp_check_bin "$bin"
cmp_check_torch "$python"
mapfile -t env1 < <(torch_env 1)

cases=()
for s in $shapes; do
  [[ "$s" =~ ^[0-9]+,[0-9]+,[0-9]+,[0-9]+$ ]] || die "a shape is B,H,T,D, got '$s'"
  cases+=("$s,1" "$s,0")
done

echo "compare_attention: $rounds round(s), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= rounds; r++)); do
  # shellcheck disable=SC2086 # TORCH_ENV is a list of assignments
  "${env1[@]}" ${TORCH_ENV:-} "$python" "$root/bench/torch_attention.py" "${cases[@]}" >>"$tmp/torch.out" 2>&1 ||
    { tail -20 "$tmp/torch.out" >&2; die "torch_attention.py failed"; }
  for s in $shapes; do
    "$bin" --threads 1 --shape "$s" >>"$tmp/lt.out" 2>&1 || { tail -20 "$tmp/lt.out" >&2; die "$bin failed"; }
  done
done
grep -m1 '^torch ' "$tmp/torch.out"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# best (smallest) wall and cpu per program and case, then one row per case
cat "$tmp/torch.out" "$tmp/lt.out" | awk '
  $1 == "result" && $2 == "paired" {
    key = $3 " " $4 " " $5 " " $6 " " $7
    paired[key, ++npaired[key]] = $9
    next
  }
  $1 == "result" {
    key = $3 " " $4 " " $5 " " $6 " " $7; prog = $2
    if (!((prog, key, "w") in best) || $9 < best[prog, key, "w"]) best[prog, key, "w"] = $9
    if (!((prog, key, "c") in best) || $11 < best[prog, key, "c"]) best[prog, key, "c"] = $11
    if (!(key in seen)) { seen[key] = 1; order[n++] = key }
  }
  function median(key,    i, j, n, t, v) {
    n = npaired[key]
    for (i = 1; i <= n; i++) v[i] = paired[key, i]
    for (i = 2; i <= n; i++)
      for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return n == 0 ? 0 : (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2)
  }
  END {
    printf "%-16s %-6s | %-21s | %-21s | %-21s | %-15s | %-15s | %s\n", "shape", "mask", "torch us (cpu)",
           "fused us (cpu)", "composed us (cpu)", "torch/fused", "composed/fused", "paired"
    for (i = 0; i < n; i++) {
      split(order[i], k, " ")
      shape = "(" k[1] "," k[2] "," k[3] "," k[4] ")"
      tw = best["torch", order[i], "w"]; tc = best["torch", order[i], "c"]
      fw = best["fused", order[i], "w"]; fc = best["fused", order[i], "c"]
      cw = best["composed", order[i], "w"]; cc = best["composed", order[i], "c"]
      printf "%-16s %-6s | %9.1f (%9.1f) | %9.1f (%9.1f) | %9.1f (%9.1f) | %5.2fx (%5.2fx) | %5.2fx (%5.2fx) | %5.2fx\n",
             shape, k[5] ? "causal" : "full", tw, tc, fw, fc, cw, cc,
             (fw > 0 ? tw / fw : 0), (fc > 0 ? tc / fc : 0), (fw > 0 ? cw / fw : 0), (fc > 0 ? cc / fc : 0),
             median(order[i])
    }
  }'
