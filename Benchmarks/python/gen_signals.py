#!/usr/bin/env python3
"""Deterministic staked.csv, activity.csv and sentiment.csv (one value a day) covering the
bench data (gen_data.py starts at 2020-01-01), so `bench backtest --strategy nmr-bot --signals
DIR` runs every signal. Usage: gen_signals.py --days 400 --out DIR"""
import argparse, math, os, random

ap = argparse.ArgumentParser()
ap.add_argument("--days", type=int, default=400)
ap.add_argument("--start-ms", type=int, default=1577836800000 - 14 * 86_400_000)
ap.add_argument("--seed", type=int, default=7)
ap.add_argument("--out", required=True)
a = ap.parse_args()
os.makedirs(a.out, exist_ok=True)
rng = random.Random(a.seed)
staked, activity = 300_000.0, 1_000.0
rows = {"staked": [], "activity": [], "sentiment": []}
for d in range(a.days):
    t = a.start_ms + d * 86_400_000
    staked *= math.exp(rng.gauss(0, 0.03))
    activity *= math.exp(rng.gauss(0, 0.025))
    sentiment = max(-1.0, min(1.0, 0.6 * math.sin(d / 9.0) + rng.gauss(0, 0.25)))
    rows["staked"].append((t, f"{staked:.3f}"))
    rows["activity"].append((t, f"{activity:.3f}"))
    rows["sentiment"].append((t, f"{sentiment:.4f}"))
for name, points in rows.items():
    with open(os.path.join(a.out, f"{name}.csv"), "w") as f:
        f.write("time,value\n")
        for t, v in points:
            f.write(f"{t},{v}\n")
