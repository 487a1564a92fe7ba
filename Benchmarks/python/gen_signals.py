#!/usr/bin/env python3
"""Deterministic staked.csv, activity.csv and sentiment.csv (one value a day),
exchange_netflow.csv (one value an hour) and calendar.csv (Numerai's weekly round moments and a
news event every ten days) covering the bench data (gen_data.py starts at 2020-01-01), so
`bench backtest --strategy nmr-bot --signals DIR` runs every signal and the blackout rule.
Usage: gen_signals.py --days 400 --out DIR"""
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
# NMR moved onto exchange addresses each hour (negative: off them), with a burst now and then.
flows = []
for h in range(a.days * 24):
    value = rng.gauss(0, 600) + (rng.choice([-1, 1]) * 15_000 if rng.random() < 0.002 else 0)
    flows.append((a.start_ms + h * 3_600_000, f"{value:.3f}"))
rows["exchange_netflow"] = flows
for name, points in rows.items():
    with open(os.path.join(a.out, f"{name}.csv"), "w") as f:
        f.write("time,value\n")
        for t, v in points:
            f.write(f"{t},{v}\n")
# The calendar: a round a week (opens Saturday, staking closes Monday, closes and scoring starts
# the next Saturday) and a news event every ten days at noon, the kind `calendar.blackout_kinds`
# stays out of by default.
day = 86_400_000
with open(os.path.join(a.out, "calendar.csv"), "w") as f:
    f.write("time,kind,note\n")
    events = []
    for d in range(a.days):
        t = a.start_ms + d * day
        weekday = (t // day + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)
        if weekday == 5:
            events.append((t + 18 * 3_600_000, "round_open", "bench round"))
            events.append((t + 18 * 3_600_000 + 7 * day, "round_close", "bench round"))
        if weekday == 0:
            events.append((t + 14 * 3_600_000, "staking_close", "bench round"))
        if d % 10 == 0:
            events.append((t + 12 * 3_600_000, "news", f"bench news {d // 10}"))
    for t, kind, note in sorted(events):
        f.write(f"{t},{kind},{note}\n")
