#!/usr/bin/env bash
# Issue 3's benchmark: the reference perp backtest (1-minute bars, hourly funding, cross-margin
# liquidation, SMA(50/200) crossover at 3×) in nmrperp and in the C reference loop
# (../shared/bench/limit.c) on the same files, one core each, in one run; prints the ratio.
#
#   bash Benchmarks/run-backtest-benchmark.sh [BARS] [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
bars=${1:-525600}
work=${2:-/tmp/nmrperp-bench/ref}
shared=${NMRPERP_SHARED:-../shared}
mkdir -p "$work"
[ -f "$work/bars_${bars}.csv" ] || python3 "$shared/bench/gen_data.py" --bars "$bars" --out "$work"
gcc -O3 -march=native -o "$work/limit" "$shared/bench/limit.c" -lm
swift build -c release --scratch-path .build-release --product nmrperp >/dev/null
echo "== C reference (limit.c)"
c_out=$(taskset -c 0 "$work/limit" "$work/bars_${bars}.csv" "$work/funding_${bars}.csv")
echo "$c_out"
echo "== nmrperp bench backtest"
swift_out=$(taskset -c 0 .build-release/release/nmrperp bench backtest --data "$work/bars_${bars}.csv" --funding "$work/funding_${bars}.csv" --json)
echo "$swift_out"
python3 - "$c_out" "$swift_out" <<'PY'
import json, re, sys
c, s = sys.argv[1], json.loads(sys.argv[2])
trades = int(re.search(r"trades: (\d+)", c).group(1))
liqs = int(re.search(r"liquidations (\d+)", c).group(1))
cbps = float(re.search(r"bars/second: (\d+)", c).group(1))
print(f"same trades: {trades == s['trades']} ({trades}), same liquidations: {liqs == s['liquidations']} ({liqs})")
print(f"bars/s: nmrperp {s['bars_per_second']:.0f}, C {cbps:.0f}, nmrperp/C = {s['bars_per_second']/cbps:.3f}")
print(f"memory: {s['memory_over_bar_data']}x the bar data above the process's start")
PY
