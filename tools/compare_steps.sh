#!/bin/sh
# Runs the first N steps of the notebook in PyTorch and in mlp_names with the
# same batch seed and prints both batch losses and the largest difference.
# usage: tools/compare_steps.sh NAMES_TXT [N=100] [MLP_NAMES=build/examples/mlp_names]
set -eu
data=$1
n=${2:-100}
bin=${3:-build/examples/mlp_names}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
/usr/bin/python3 "$(dirname "$0")/torch_steps.py" "$data" "$n" > "$dir/torch.csv"
# same schedule as the full run (lr 0.1 until step 100000)
"$bin" --data "$data" --steps "$n" --decay-step 100000 --eval-every 0 --samples 0 --quiet --log "$dir/c.csv" > /dev/null
awk -F, 'NR == FNR { if (FNR > 1) t[$1] = $2; next }
         FNR > 1 { d = $2 - t[$1]; if (d < 0) d = -d; if (d > max) { max = d; at = $1 }
                   if ($1 < 5 || $1 % 20 == 0 || $1 == n - 1) printf "step %3d  torch %.6f  libtensor %.6f  diff %.1e\n", $1, t[$1], $2, d }
         END { printf "max |diff| over %d steps: %.2e (step %d)\n", FNR - 1, max, at }' n="$n" "$dir/torch.csv" "$dir/c.csv"
