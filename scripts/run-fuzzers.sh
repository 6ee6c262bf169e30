#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR/fuzz for SECONDS each, starting
# from the seed corpus in fuzz/corpus/NAME and the seeds the build generated
# in BUILD_DIR/fuzz/corpus/NAME (copied, so runs leave the tree clean).
# Fails on the first crash, leak or sanitizer report.
set -euo pipefail
build=${1:?usage: run-fuzzers.sh BUILD_DIR SECONDS}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
found=0
for bin in "$build"/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  found=1
  name=$(basename "$bin")
  work=$(mktemp -d)
  seeds="$root/fuzz/corpus/${name#fuzz_}"
  generated="$build/fuzz/corpus/${name#fuzz_}"
  echo "fuzz: $name for ${seconds}s"
  mkdir "$work/corpus"
  [ -d "$seeds" ] && cp -r "$seeds/." "$work/corpus/"
  [ -d "$generated" ] && cp -r "$generated/." "$work/corpus/"
  if ! "$bin" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$work/" \
      "$work/corpus" >"$work/log" 2>&1; then
    tail -n 60 "$work/log"
    echo "fuzz: $name FAILED (artifacts in $work)"
    exit 1
  fi
  grep -E "^(Done|stat::number_of_executed_units)" "$work/log" || tail -n 3 "$work/log"
  rm -rf "$work"
done
[ "$found" -eq 1 ] || { echo "fuzz: no fuzz targets in $build/fuzz"; exit 1; }
