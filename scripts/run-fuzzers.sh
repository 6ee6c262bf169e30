#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR/fuzz within one total budget of
# SECONDS, shared evenly (each target gets SECONDS / number of targets, at
# least 1 s), so a new target shortens the others' share instead of
# lengthening the run. Each starts from the seed corpus in fuzz/corpus/NAME
# and the seeds the build generated in BUILD_DIR/fuzz/corpus/NAME (copied, so
# runs leave the tree clean), and its executions are printed.
# Fails on the first crash, leak or sanitizer report.
set -euo pipefail
build=${1:?usage: run-fuzzers.sh BUILD_DIR SECONDS}
total=${2:-240}
root=$(cd "$(dirname "$0")/.." && pwd)
targets=()
for bin in "$build"/fuzz/fuzz_*; do
  [ -x "$bin" ] && targets+=("$bin")
done
[ "${#targets[@]}" -gt 0 ] || { echo "fuzz: no fuzz targets in $build/fuzz"; exit 1; }
share=$((total / ${#targets[@]}))
[ "$share" -ge 1 ] || share=1
echo "fuzz: ${#targets[@]} targets, ${share}s each of ${total}s"
for bin in "${targets[@]}"; do
  name=$(basename "$bin")
  work=$(mktemp -d)
  seeds="$root/fuzz/corpus/${name#fuzz_}"
  generated="$build/fuzz/corpus/${name#fuzz_}"
  mkdir "$work/corpus"
  [ -d "$seeds" ] && cp -r "$seeds/." "$work/corpus/"
  [ -d "$generated" ] && cp -r "$generated/." "$work/corpus/"
  if ! "$bin" -max_total_time="$share" -print_final_stats=1 -artifact_prefix="$work/" \
      "$work/corpus" >"$work/log" 2>&1; then
    tail -n 60 "$work/log"
    echo "fuzz: $name FAILED (artifacts in $work)"
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
  echo "fuzz: $name: ${runs:-?} executions in ${share}s"
  rm -rf "$work"
done
