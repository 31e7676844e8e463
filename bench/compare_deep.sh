#!/usr/bin/env bash
# compare_deep.sh - deep_names' two headline models (the wide MLP and the
# WaveNet of docs/results_deep.md) trained side by side by PyTorch 1.13
# (bench/torch_deep.py) and libtensor (bench_deep), on 1 and 2 threads.
#
#   bench/compare_deep.sh [ROUNDS] [BENCH_DEEP_BINARY]
#
# The two programs run alternately, A B A B ... (ROUNDS each, default 3), so
# that a change in the machine's load hits both; each keeps its best
# (largest) steps/s per model and thread count, as wall-clock time and as
# process CPU time, and the ratio libtensor / PyTorch of each is printed,
# then libtensor's speed on each thread count against its own on 1 thread.
# Both time their training loop alone, after a warm-up (the first tenth of
# the steps). The load average is printed before and after.
#
# PyTorch runs with OPENBLAS_CORETYPE removed from its environment, in its
# command alone (the environment may pin OpenBLAS for other programs), with
# torch.set_num_threads and the OMP/OpenBLAS/MKL thread variables equal to
# the thread count, and on 2 or more threads with OMP_WAIT_POLICY=PASSIVE
# (OpenMP's spinning workers otherwise fight the other processes of a loaded
# machine for the cores: the WaveNet ran at 4 steps/s instead of 100 here).
# The header shows which BLAS PyTorch loaded and the kernels OpenBLAS chose
# (bench/torch_blas.py): without OPENBLAS_CORETYPE, OpenBLAS 0.3.21 detects
# the CPU itself, and on a CPU it does not know falls back to old kernels
# ("Prescott", SSE3, on the Xeon VM of docs/performance.md). TORCH_CORETYPE=X
# runs PyTorch with OPENBLAS_CORETYPE=X instead (e.g. SkylakeX), to give it
# the AVX-512 kernels such a machine has.
#
# Environment: NAMES (default ../shared/data/names.txt beside the
# repository), MODELS (default "wide wavenet"), THREADS (default "1 2"),
# WIDE_STEPS (60), WAVENET_STEPS (2000): the steps of each run, the same for
# both programs; PYTHON (default /usr/bin/python3). libtensor's final batch
# loss must be the same on every thread count: the script says whether it is.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${1:-3}"
bin="${2:-$root/build/bench/bench_deep}"
python="${PYTHON:-/usr/bin/python3}"
models="${MODELS:-wide wavenet}"
threads="${THREADS:-1 2}"
names="${NAMES:-$root/../shared/data/names.txt}"
wide_steps="${WIDE_STEPS:-60}"
wavenet_steps="${WAVENET_STEPS:-2000}"

# shellcheck source=bench/compare_common.sh
. "$root/bench/compare_common.sh"
cmp_init compare_deep
cmp_check_rounds "$rounds"
[[ "$wide_steps" =~ ^[0-9]+$ && "$wide_steps" -ge 2 ]] || die "WIDE_STEPS must be 2 or more, got '$wide_steps'"
[[ "$wavenet_steps" =~ ^[0-9]+$ && "$wavenet_steps" -ge 2 ]] || die "WAVENET_STEPS must be 2 or more, got '$wavenet_steps'"
cmp_check_bin "$bin"
[ -r "$names" ] || die "$names: not readable (NAMES=path of names.txt)"
cmp_check_torch "$python"

steps_of() { [ "$1" = wide ] && echo "$wide_steps" || echo "$wavenet_steps"; }

echo "compare_deep: $rounds round(s), models: $models; threads: $threads; steps: wide $wide_steps, wavenet $wavenet_steps"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $threads; do
  mapfile -t envn < <(torch_env "$n")
  echo "PyTorch on $n thread(s) runs under: ${envn[*]}"
done
mapfile -t env1 < <(torch_env 1)
"${env1[@]}" "$python" "$root/bench/torch_blas.py" || die "torch_blas.py failed"

for ((r = 1; r <= rounds; r++)); do
  for n in $threads; do
    mapfile -t envn < <(torch_env "$n")
    for m in $models; do
      s="$(steps_of "$m")"
      "${envn[@]}" "$python" "$root/bench/torch_deep.py" --model "$m" --steps "$s" --threads "$n" --data "$names" \
        >>"$tmp/torch.out" 2>&1 || { tail -20 "$tmp/torch.out" >&2; die "torch_deep.py failed"; }
      "$bin" --model "$m" --steps "$s" --threads "$n" --data "$names" >>"$tmp/lt.out" 2>&1 ||
        { tail -20 "$tmp/lt.out" >&2; die "$bin failed"; }
    done
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# libtensor's results on every thread count: one distinct loss line per model
for m in $models; do
  awk -v m="$m" '/^bench_deep: model/ { cur = $3 } /^loss:/ && cur == m' \
    "$tmp/lt.out" | sort -u >"$tmp/loss.$m"
  if [ "$(wc -l <"$tmp/loss.$m")" = 1 ]; then
    echo "libtensor $m: the same final batch loss and parameters on every run (threads: $threads): $(cut -d' ' -f5- "$tmp/loss.$m")"
  else
    echo "libtensor $m: results DIFFER between runs:"; cat "$tmp/loss.$m"
  fi
done

# best (largest) steps/s per program, model and thread count; one row each,
# with libtensor's GFLOP/s at its best wall-clock speed and the % of the
# highest single-core peak bench_deep measured
cat "$tmp/torch.out" "$tmp/lt.out" | awk '
  /^bench_deep: model/ { cur = $3 }
  /^flops:/ { mflop[cur] = $2; p = $0; sub(/.*peak \(/, "", p); p += 0; if (p > peak) peak = p }
  $1 == "result" {
    key = $3 " " $4; prog = $2
    if ($5 > best[prog, key, "w"]) best[prog, key, "w"] = $5
    if ($6 > best[prog, key, "c"]) best[prog, key, "c"] = $6
    if (!(key in seen)) { seen[key] = 1; order[n++] = key }
  }
  function ratio(a, b) { return b > 0 ? a / b : 0 }
  END {
    printf "single-core peak: %.1f GFLOP/s (the highest bench_deep measured)\n", peak
    printf "%-8s %-3s | %-23s | %-23s | %-17s | %s\n", "model", "thr", "torch steps/s (cpu)", "lt steps/s (cpu)",
           "lt/torch (cpu)", "lt GFLOP/s, % of peak"
    for (i = 0; i < n; i++) {
      split(order[i], k, " ")
      tw = best["torch", order[i], "w"]; tc = best["torch", order[i], "c"]
      lw = best["lt", order[i], "w"]; lc = best["lt", order[i], "c"]
      gf = lw * mflop[k[1]] * 1e-3
      printf "%-8s %-3s | %10.2f (%10.2f) | %10.2f (%10.2f) | %6.2fx (%6.2fx) | %7.2f, %5.1f%%\n", k[1], k[2], tw, tc,
             lw, lc, ratio(lw, tw), ratio(lc, tc), gf, 100 * ratio(gf, peak)
    }
    # scaling: libtensor on n threads against its own 1-thread speed (best wall figures)
    for (i = 0; i < n; i++) {
      split(order[i], k, " ")
      one = best["lt", k[1] " 1", "w"]
      if (k[2] != 1 && one > 0)
        printf "libtensor %s on %s threads: %.2fx its 1-thread speed\n", k[1], k[2], ratio(best["lt", order[i], "w"], one)
    }
  }'
