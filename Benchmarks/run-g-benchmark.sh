#!/usr/bin/env bash
# Issue 2's speed benchmark: load ten years of 1-minute bars (5,256,000 rows) from CSV and
# compute g with every start, single core, release build; then the same g with pandas/numpy on
# the same file, in the same run, and the ratios.
#
#   bash Benchmarks/run-g-benchmark.sh [BARS] [WORKDIR]
#
# Needs python3 with numpy, pandas and scipy (pip install numpy pandas scipy).
set -euo pipefail
cd "$(dirname "$0")/.."
bars=${1:-5256000}
work=${2:-/tmp/nmrperp-bench}
mkdir -p "$work"
data="$work/bars_${bars}.csv"
if [ ! -f "$data" ]; then
  echo "generating $bars one-minute bars into $data"
  python3 Benchmarks/python/gen_minute_bars.py --bars "$bars" --out "$data"
fi
swift build -c release --scratch-path .build-release --product nmrperp >/dev/null
bin=.build-release/release/nmrperp
# Warm the page cache so both sides read the file from memory.
cat "$data" >/dev/null

echo "== nmrperp (Swift, release, one thread)"
swift_json=$(taskset -c 0 "$bin" bench g --data "$data" --json)
echo "$swift_json"
echo "== pandas/numpy"
pandas_json=$(taskset -c 0 python3 Benchmarks/python/g_pandas.py "$data" --reps 3)
echo "$pandas_json"

python3 - "$swift_json" "$pandas_json" <<'PY'
import json, sys
s, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print("== same g:", abs(s["g"] - p["g"]) < 1e-12, "full windows", s["full_windows"], p["windows"])
print(f"load: swift {s['load_seconds']:.3f} s, pandas {p['load_seconds']:.3f} s, pandas/swift = {p['load_seconds']/s['load_seconds']:.2f}x  (goal < 2 s)")
print(f"g:    swift {s['g_seconds']:.3f} s, pandas {p['g_seconds']:.3f} s, pandas/swift = {p['g_seconds']/s['g_seconds']:.2f}x  (goal < 0.3 s)")
PY
