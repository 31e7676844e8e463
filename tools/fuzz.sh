#!/usr/bin/env bash
# tools/fuzz.sh TARGET SECONDS - runs one libFuzzer target (names_data,
# safetensors, ops or text_data) for SECONDS, starting from fuzz/corpus/TARGET, and
# fails on any finding (crash, sanitizer report, leak, broken invariant,
# timeout). Needs Debian's clang (libFuzzer is part of clang's runtime,
# package libclang-rt-14-dev or libclang-common-14-dev).
#
# The instrumented build lives in build-fuzz/ (ASan + UBSan + coverage on
# the whole library). New corpus entries go to build-fuzz/corpus/TARGET (not
# committed); a finding is written to build-fuzz/artifacts/ and printed.
# To keep one as a regression test: copy it to fuzz/regressions/TARGET/.
# Prints "fuzz TARGET: N executions in S s" on success.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: tools/fuzz.sh TARGET SECONDS}
seconds=${2:?usage: tools/fuzz.sh TARGET SECONDS}
case $target in names_data|safetensors|ops|text_data) ;; *) echo "unknown target '$target'" >&2; exit 2 ;; esac
cc=${FUZZ_CC:-$(command -v clang-14 || command -v clang || true)}
[ -n "$cc" ] || { echo "fuzz.sh: clang not found (apt-get install clang)" >&2; exit 2; }

build=build-fuzz
if [ ! -f $build/CMakeCache.txt ]; then
  CC=$cc cmake -S . -B $build -DCMAKE_BUILD_TYPE=Debug -DLT_BUILD_FUZZ=ON -DLT_BUILD_TESTS=OFF \
    -DLT_BUILD_BENCH=OFF -DLT_WERROR=ON >/dev/null
fi
cmake --build $build -j2 --target fuzz_$target >/dev/null
mkdir -p $build/corpus/$target $build/artifacts
log=$build/fuzz_$target.log
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
$build/fuzz/fuzz_$target -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
  -print_final_stats=1 -artifact_prefix=$build/artifacts/$target- \
  $build/corpus/$target fuzz/corpus/$target >"$log" 2>&1 || status=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
if [ $status -ne 0 ]; then
  echo "fuzz $target: FINDING (exit $status) after ${runs:-?} executions; log $log"
  grep -E "ERROR|runtime error|INVARIANT|Test unit written|SUMMARY" "$log" | head -20
  exit 1
fi
echo "fuzz $target: ${runs:-?} executions in $seconds s"
