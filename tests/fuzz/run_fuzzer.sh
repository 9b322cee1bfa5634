#!/usr/bin/env bash
# run_fuzzer.sh <binary> <seed corpus dir> <work corpus dir> <seconds>
# Runs a libFuzzer binary for a bounded time on a copy of its seeds; fails on any crash/leak.
set -euo pipefail
bin=$1 seeds=$2 work=$3 secs=$4
if [[ ! -x $bin ]]; then
  echo "fuzz binary $bin missing: build it with 'make fuzz-build'" >&2
  exit 1
fi
mkdir -p "$work"
[[ -d $seeds ]] && cp -n "$seeds"/* "$work"/ 2>/dev/null || true
exec "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$work"
