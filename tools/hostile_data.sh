#!/usr/bin/env bash
# tools/hostile_data.sh [BUILD_DIR] - the data loader on a 100 MB line and on
# 10 million lines (tests/test_hostile_data.c with LT_HOSTILE_BIG), and
# mlp_names on the 100 MB line (one word: a clear error before any dataset is
# built), each under /usr/bin/time -v: prints the wall time and peak RSS and
# fails if a run fails or uses more than its memory bound (the bounds are
# proportional to the data: 16 bytes per example for block 3, plus the text).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
timer=/usr/bin/time
[ -x $timer ] || { echo "hostile_data.sh: /usr/bin/time not found (apt-get install time)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# run LABEL LIMIT_MB COMMAND...: runs it, prints time and peak RSS, checks the bound
run() {
  local label=$1 limit=$2; shift 2
  local rc=0
  $timer -v -o "$tmp/time.txt" "$@" >"$tmp/out.txt" 2>&1 || rc=$?
  local rss_kb secs
  rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/time.txt")
  secs=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$tmp/time.txt")
  printf '%-44s exit %d, %s, peak RSS %d MB (bound %d MB)\n' "$label" "$rc" "$secs" $((rss_kb / 1024)) "$limit"
  grep -E "MB file|mlp_names:" "$tmp/out.txt" | sed 's/^/    /' || true
  if [ $((rss_kb / 1024)) -gt "$limit" ]; then echo "    FAILED: over the memory bound"; status=1; fi
  echo $rc >"$tmp/rc"
}

# 100M examples * 16 bytes = 1.6 GB of examples, + the text
run "loader: one 100 MB line" 2000 env LT_HOSTILE_BIG=line $build/tests/test_hostile_data
[ "$(cat $tmp/rc)" = 0 ] || status=1
# 60M examples in three splits built in turn (the largest is 48M * 16 bytes), + 10M word pointers
run "loader: 10 million lines" 1200 env LT_HOSTILE_BIG=lines $build/tests/test_hostile_data
[ "$(cat $tmp/rc)" = 0 ] || status=1

head -c 100000000 /dev/zero | tr '\0' 'q' >"$tmp/line.txt"
echo >>"$tmp/line.txt"
run "mlp_names --data <one 100 MB line>" 400 $build/examples/mlp_names --data "$tmp/line.txt" --steps 10 --quiet
if [ "$(cat $tmp/rc)" != 1 ] || ! grep -q "1 word(s) leave the training split (80%) empty" "$tmp/out.txt"; then
  echo "    FAILED: expected exit 1 and the empty-training-split message"; status=1
fi
exit $status
