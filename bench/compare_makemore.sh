#!/usr/bin/env bash
# compare_makemore.sh - makemore's training step side by side: makemore.py's
# own model classes in PyTorch 1.13 (bench/torch_makemore.py: forward +
# cross-entropy, zero_grad, backward, AdamW step, as makemore.py's loop) and
# libtensor's models (bench_makemore), for each type at makemore.py's
# defaults (batch 32, block 16, vocab 27, n_layer 4, n_head 4, n_embd 64,
# n_embd2 64), on 1 and 2 threads.
#
#   bench/compare_makemore.sh [ROUNDS] [BENCH_MAKEMORE_BINARY]
#
# PyTorch is timed twice when names.txt is there (NAMES=path, default
# ../shared/data/names.txt beside the repository): "torch-loop" is
# makemore.py's loop body with its own data loader (its InfiniteDataLoader,
# num_workers 0: what its printed step time measures, and what issue 14's
# acceptance compares with), "torch" the model's step alone on a fixed
# batch (faster: the conservative yardstick). bench_makemore builds its
# fixed batch once; the C program's batch assembly is microseconds.
#
# The two programs run alternately, A B A B ... (ROUNDS each, default 3), so
# that a change in the machine's load hits both, and each keeps its best
# (largest) steps/s per type and thread count; the ratio lt/torch is printed
# for wall-clock time and process CPU time (on a loaded machine the CPU time
# of the 1-thread runs is the fairer figure).
#
# PyTorch runs with OPENBLAS_CORETYPE removed from its environment (and only
# from its command: the environment may pin OpenBLAS for the library's own
# comparisons), with torch.set_num_threads equal to the thread count
# (OMP/MKL/OpenBLAS thread variables likewise), and on 2 or more threads with
# OMP_WAIT_POLICY=PASSIVE (OpenMP's spinning workers otherwise fight a loaded
# machine's other processes for the cores). Unset, OpenBLAS picks kernels for
# the CPU itself, and on a CPU OpenBLAS 0.3.21 does not know it falls back to
# "Prescott" (SSE3): the header line shows the BLAS PyTorch loaded and the
# kernels chosen (bench/torch_blas.py); TORCH_CORETYPE=SkylakeX (say) sets
# OPENBLAS_CORETYPE for PyTorch instead. PYTHON=... sets the interpreter (default
# /usr/bin/python3); TYPES="transformer mlp" restricts the types; THREADS="1"
# the thread counts; SECONDS_PER_TYPE (default 2) the time each program
# spends per type and round. The load average is printed before and after.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${1:-3}"
bin="${2:-$root/build/bench/bench_makemore}"
python="${PYTHON:-/usr/bin/python3}"
types="${TYPES:-bigram mlp rnn gru bow transformer}"
threads="${THREADS:-1 2}"
secs="${SECONDS_PER_TYPE:-2}"
names="${NAMES:-$root/../shared/data/names.txt}"

# shellcheck source=bench/compare_common.sh
. "$root/bench/compare_common.sh"
cmp_init compare_makemore
cmp_check_rounds "$rounds"
cmp_check_bin "$bin"
cmp_check_torch "$python"

echo "compare_makemore: $rounds round(s), types: $types; threads: $threads; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "PyTorch runs under env -u OPENBLAS_CORETYPE${TORCH_CORETYPE:+ OPENBLAS_CORETYPE=$TORCH_CORETYPE}, and with OMP_WAIT_POLICY=PASSIVE on 2 or more threads"
for ((r = 1; r <= rounds; r++)); do
  for n in $threads; do
    mapfile -t envn < <(torch_env "$n")
    # shellcheck disable=SC2086 # $types is a list
    for data in "" ${names:+"$names"}; do
      [ -z "$data" ] || [ -f "$data" ] || continue
      # shellcheck disable=SC2086 # $types is a list
      "${envn[@]}" "$python" -W ignore "$root/bench/torch_makemore.py" --threads "$n" --time "$secs" --type $types \
        ${data:+--data "$data"} >>"$tmp/torch.out" 2>&1 || { tail -20 "$tmp/torch.out" >&2; die "torch_makemore.py failed"; }
    done
    for t in $types; do
      "$bin" --threads "$n" --time "$secs" --type "$t" >>"$tmp/lt.out" 2>&1 ||
        { tail -20 "$tmp/lt.out" >&2; die "$bin failed"; }
    done
  done
done
grep -m1 '^torch ' "$tmp/torch.out"
grep -m1 'allocations' "$tmp/lt.out" >/dev/null && grep 'allocations' "$tmp/lt.out" | sed 's/.*allocations/lt allocations/' | sort -u
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

[ -f "$names" ] || echo "($names not found: PyTorch timed on a fixed batch only, without makemore.py's data loader)"

# best (largest) steps/s per program, type and thread count; one row each
cat "$tmp/torch.out" "$tmp/lt.out" | awk '
  $1 == "result" {
    key = $3 " " $4; prog = $2
    if ($5 > best[prog, key, "w"]) best[prog, key, "w"] = $5
    if ($6 > best[prog, key, "c"]) best[prog, key, "c"] = $6
    if (!(key in seen)) { seen[key] = 1; order[n++] = key }
  }
  function ratio(a, b) { return b > 0 ? a / b : 0 }
  END {
    printf "%-12s %-3s | %-21s | %-21s | %-21s | %-17s | %s\n", "type", "thr", "torch-loop st/s (cpu)",
           "torch st/s (cpu)", "lt st/s (cpu)", "lt/torch-loop", "lt/torch (cpu)"
    for (i = 0; i < n; i++) {
      split(order[i], k, " ")
      pw = best["torch-loop", order[i], "w"]; pc = best["torch-loop", order[i], "c"]
      tw = best["torch", order[i], "w"]; tc = best["torch", order[i], "c"]
      lw = best["lt", order[i], "w"]; lc = best["lt", order[i], "c"]
      printf "%-12s %-3s | %9.2f (%9.2f) | %9.2f (%9.2f) | %9.2f (%9.2f) | %6.2fx (%6.2fx) | %6.2fx (%6.2fx)\n",
             k[1], k[2], pw, pc, tw, tc, lw, lc, ratio(lw, pw), ratio(lc, pc), ratio(lw, tw), ratio(lc, tc)
    }
  }'
