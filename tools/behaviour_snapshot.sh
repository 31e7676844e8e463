#!/usr/bin/env bash
# behaviour_snapshot.sh BUILD OUT [DATA] - runs the example programs' documented
# configurations briefly and writes what they print (timing lines dropped) and
# the first batch losses (--log) into OUT, one file per run, with the hashes
# of the checkpoints and plots they write, their --result file, two sweeps'
# tables and a short tutorial run. Two snapshots of the same data diff to
# nothing when a change left the numbers alone:
#   tools/behaviour_snapshot.sh build-before /tmp/a && tools/behaviour_snapshot.sh build /tmp/b
#   diff -r /tmp/a /tmp/b
set -euo pipefail
build=${1:?usage: behaviour_snapshot.sh BUILD OUT [DATA]}
out=${2:?usage: behaviour_snapshot.sh BUILD OUT [DATA]}
data=${3:-../shared/data/names.txt}
[ -f "$data" ] || { echo "behaviour_snapshot: $data not found" >&2; exit 1; }
mkdir -p "$out"
mlp=$build/examples/mlp_names deep=$build/examples/deep_names sweep=$build/examples/mlp_sweep
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# name, program, flags: each run's stdout (minus time lines) and its first 100 logged steps
run() {
  local name=$1 prog=$2; shift 2
  "$prog" --data "$data" --quiet --log "$tmp/$name.csv" "$@" 2>"$out/$name.stderr" |
    grep -v '^time' >"$out/$name.out" || true
  head -n 101 "$tmp/$name.csv" >"$out/$name.steps.csv"
}
run mlp-golden     "$mlp" --steps 2000 --eval-every 500 --samples 3
run mlp-notebook   "$mlp" --steps 3000 --eval-every 1000 --samples 5
run mlp-e01        "$mlp" --preset e01 --steps 3000 --samples 5
run mlp-e01-wide   "$mlp" --preset e01-wide --steps 300 --eval-every 100 --samples 5
run mlp-momentum   "$mlp" --preset e01 --momentum 0.9 --lr 0.01 --dropout 0.1 --sampling shuffle --steps 1000 --samples 3
run mlp-relu       "$mlp" --activation relu --milestones 50%,75% --warmup 10 --steps 1000 --samples 3
run mlp-save       "$mlp" --steps 500 --samples 2 --save "$tmp/mlp.safetensors"
run mlp-load       "$mlp" --steps 0 --samples 4 --load "$tmp/mlp.safetensors"
run deep-golden    "$deep" --steps 300 --eval-every 100 --samples 3
run deep-wide      "$deep" --model mlp --block 8 --emb 32 --layers 1 --hidden 2048 --norm layernorm --act relu \
                   --dropout 0.4 --emb-dropout 0.1 --optim adamw --lr 2e-3 --wd 0.1 --batch 256 --steps 40 \
                   --eval-every 20 --samples 3 --save "$tmp/deep.safetensors"
run deep-load      "$deep" --steps 0 --samples 3 --test --load "$tmp/deep.safetensors"
run deep-wavenet   "$deep" --model wavenet --block 8 --emb 24 --hidden 128 --optim sgd --lr 0.1 --schedule step \
                   --steps 300 --batch 32 --eval-every 100 --samples 3
run deep-gelu      "$deep" --act gelu --norm none --optim momentum --clip 1 --steps 200 --eval-every 100 --samples 3
run deep-adam      "$deep" --optim adam --norm layernorm --warmup 20 --schedule step --steps 200 --eval-every 0 --samples 3
run mlp-threads    "$mlp" --steps 500 --eval-every 100 --threads 2 --samples 3
run mlp-constant   "$mlp" --init scaled --init-gain 1.2 --lr-schedule constant --lr 0.05 --steps 300 --samples 2
run mlp-milestones "$mlp" --milestones 100,200 --lr-factor 0.5 --warmup 20 --steps 300 --samples 2
run mlp-plots      "$mlp" --steps 1500 --eval-every 500 --samples 2 --plot-loss "$tmp/loss.svg" --plot-emb "$tmp/emb.svg"
run mlp-plots2     "$mlp" --emb 2 --steps 300 --samples 2 --plot-emb "$tmp/emb2.svg"
run mlp-result     "$mlp" --steps 300 --no-test --samples 0 --result "$tmp/result.txt"
grep -v '^seconds=' "$tmp/result.txt" >"$out/mlp-result.txt"
sha256sum "$tmp/mlp.safetensors" "$tmp/deep.safetensors" |
  awk '{print $1}' >"$out/checkpoints.sha256"
sha256sum "$tmp/loss.svg" "$tmp/emb.svg" "$tmp/emb2.svg" | awk '{print $1}' >"$out/plots.sha256"
# the tutorial program (docs/tutorial.md), a short run
"$build/examples/tutorial" "$data" 300 >"$out/tutorial.out" 2>&1 || echo "tutorial failed: $?" >>"$out/tutorial.out"

# a two-trial sweep, scored on dev
printf -- '--lr 0.05 0.1\n' >"$tmp/tiny.space"
"$sweep" --space "$tmp/tiny.space" --out "$tmp/sweep" -j 1 --mlp-names "$mlp" -- --data "$data" --steps 500 \
  >/dev/null 2>&1 || echo "sweep failed: $?" >"$out/sweep.err"
cut -d, -f1-3,5- "$tmp/sweep/results.csv" >"$out/sweep-results.csv" 2>/dev/null || true  # column 4 is seconds
# and a random one, with a log-uniform range
printf -- '--lr ~log 0.02 0.5\n--hidden 50 100\n' >"$tmp/random.space"
"$sweep" --space "$tmp/random.space" --out "$tmp/sweep2" --mode random --trials 2 --seed 3 -j 1 --mlp-names "$mlp" -- \
  --data "$data" --steps 300 >/dev/null 2>&1 || echo "random sweep failed: $?" >"$out/sweep-random.err"
cut -d, -f1-3,5- "$tmp/sweep2/results.csv" >"$out/sweep-random-results.csv" 2>/dev/null || true
echo "behaviour_snapshot: $(ls "$out" | wc -l) files in $out"
