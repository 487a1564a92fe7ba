"""Reference pandas/numpy implementation of g (spec section 1, "Estimating g"), for
cross-checking and benchmarking the Swift implementation.

Windows [s, s+H) start at s = t0 + j*S (t0 = first bar's open time); with no --step-days every
bar's open time is a start. A window counts only if last open time + interval >= s + H
(interval = smallest positive difference of consecutive open times).
g_w = max(high of bars with s <= open_time < s+H) / open of the first bar with open_time >= s;
g = max g_w; quantiles use numpy's default linear interpolation. A window holding no bar
(possible only with --step-days, when s falls in a gap) is skipped and counted as empty.

Every-start window maxima: "grid" places highs on the regular interval grid (gaps = -inf) and
runs scipy's O(n) maximum_filter1d; "rolling" is pandas' time-based rolling max on the
reversed series (index -open_time, so (u-H, u] is [s, s+H)). Step windows use
np.maximum.reduceat over (start, end) index pairs.

    python3 g_pandas.py FILE.csv [--window-days 30] [--step-days 7] [--reps 3]
        [--method auto|grid|rolling] [--horizons 1,3,7,14,30,60,90]
"""
import argparse
import json
import time
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from scipy.ndimage import maximum_filter1d

DAY_MS = 86_400_000


def load(path):
    cols = ["open_time_ms", "open", "high", "low", "close"]
    df = pd.read_csv(path, usecols=cols, dtype={"open_time_ms": np.int64, "open": np.float64,
                                                "high": np.float64, "low": np.float64,
                                                "close": np.float64})
    return df[cols]


def sliding_max_every_start(t, high, iv, h_ms, m, method):
    """Max high over [t[i], t[i]+H) for i < m (all such windows end inside the data)."""
    k = (t - t[0]) // iv
    aligned = bool(np.all((t - t[0]) % iv == 0))
    if method == "auto":
        method = "grid" if aligned and k[-1] < 4 * len(t) else "rolling"
    if method == "grid":
        if not aligned:
            raise SystemExit("grid method needs open times on the interval grid")
        grid = np.full(k[-1] + 1, -np.inf)
        grid[k] = high
        w = -(-h_ms // iv)  # ceil: grid points k .. k+w-1 lie in [s, s+H)
        fwd = maximum_filter1d(grid, size=w, origin=-(w // 2), mode="constant", cval=-np.inf)
        return fwd[k[:m]], method
    rev = pd.Series(high[::-1], index=pd.to_datetime(-t[::-1], unit="ms"))
    fwd = rev.rolling(pd.Timedelta(milliseconds=int(h_ms))).max().to_numpy()[::-1]
    return fwd[:m], method


def compute_g(t, open_, high, h_ms, step_ms, method):
    iv = int(np.diff(t).min())
    end = t[-1] + iv  # data reaches s+H iff s + H <= end
    if step_ms is None:
        m = int(np.searchsorted(t, end - h_ms, side="right"))
        starts, first = t[:m], np.arange(m)
        wmax, method = sliding_max_every_start(t, high, iv, h_ms, m, method)
        empty = 0
    else:
        starts = t[0] + step_ms * np.arange((end - h_ms - t[0]) // step_ms + 1 if end - h_ms >= t[0] else 0)
        lo = np.searchsorted(t, starts, side="left")
        hi = np.searchsorted(t, starts + h_ms, side="left")
        keep = hi > lo
        empty = int((~keep).sum())
        starts, lo, hi = starts[keep], lo[keep], hi[keep]
        pairs = np.column_stack([lo, hi]).ravel()
        wmax = np.maximum.reduceat(np.append(high, -np.inf), pairs)[::2] if len(lo) else np.empty(0)
        first, method = lo, "reduceat"
    gw = wmax / open_[first]
    if len(gw) == 0:
        return {"windows": 0, "empty_windows": empty, "g": None, "method": method}
    j = int(np.argmax(gw))
    p50, p90, p99 = np.quantile(gw, [0.5, 0.9, 0.99])
    s = int(starts[j])
    return {"g": float(gw[j]), "windows": int(len(gw)), "empty_windows": empty,
            "worst_window_start_ms": s,
            "worst_window_start_utc": datetime.fromtimestamp(s / 1000, timezone.utc).isoformat(),
            "p50": float(p50), "p90": float(p90), "p99": float(p99),
            "interval_ms": iv, "gaps": int((np.diff(t) > iv).sum()), "method": method}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("--window-days", type=float, default=30.0)
    ap.add_argument("--step-days", type=float, default=None, help="default: every start")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--method", choices=["auto", "grid", "rolling"], default="auto")
    ap.add_argument("--horizons", default=None, help="comma list of days: also report g per H")
    a = ap.parse_args()

    t0 = time.perf_counter()
    df = load(a.csv)
    load_s = time.perf_counter() - t0
    t = df["open_time_ms"].to_numpy()
    if np.any(np.diff(t) <= 0):
        raise SystemExit("open times must be strictly increasing")
    o, h = df["open"].to_numpy(), df["high"].to_numpy()
    h_ms = round(a.window_days * DAY_MS)
    step_ms = None if a.step_days is None else round(a.step_days * DAY_MS)

    best = float("inf")
    for _ in range(max(a.reps, 1)):
        t1 = time.perf_counter()
        res = compute_g(t, o, h, h_ms, step_ms, a.method)
        best = min(best, time.perf_counter() - t1)
    out = {"rows": len(df), "load_seconds": round(load_s, 4), "g_seconds": round(best, 4), **res}
    if a.horizons:
        out["g_by_horizon_days"] = {
            d: compute_g(t, o, h, round(float(d) * DAY_MS), step_ms, a.method)["g"]
            for d in a.horizons.split(",")}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
