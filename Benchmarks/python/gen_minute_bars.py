"""Generate a synthetic NMR-like 1-minute candle CSV for benchmarking g estimation.

Deterministic: the same --seed and --bars give the same bytes (for a given numpy version).
Log price follows a weakly mean-reverting diffusion (~100 % annual volatility, half-life one
year, starting at 8.0) with occasional Poisson jumps. Prices are integer ticks of 0.0001, so
every price has exactly 4 decimals; high >= max(open, close), low <= min(open, close), low > 0.
Text is built as a byte matrix with numpy (no per-row Python), so 5.2M rows take seconds.

    python3 gen_minute_bars.py --bars 5256000 --out /tmp/nmrperp-bench/bars_10y.csv
"""
import argparse
import os

import numpy as np

MINUTE_MS = 60_000
START_MS = 1_451_606_400_000  # 2016-01-01T00:00:00Z
YEAR_MIN = 525_600


def make_bars(n, seed):
    """Return int64 arrays (open_time_ms, open, high, low, close in 1e-4 ticks, volume in 1e-2)."""
    rng = np.random.default_rng(seed)
    dt = 1.0 / YEAR_MIN
    sigma, kappa, mu = 1.0, np.log(2.0), np.log(12.0)
    shocks = sigma * np.sqrt(dt) * rng.standard_normal(n)
    jumps = rng.normal(0.0, 0.12, n) * (rng.random(n) < 25.0 * dt)  # ~25 jumps a year
    x = np.empty(n)
    x0, level = np.log(8.0), np.log(8.0)
    # Mean reversion applied per block of one day keeps this vectorised (error is negligible).
    for a in range(0, n, 1440):
        b = min(a + 1440, n)
        path = level + kappa * (mu - level) * dt * np.arange(1, b - a + 1) + np.cumsum(shocks[a:b] + jumps[a:b])
        x[a:b] = path
        level = path[-1]
    close = np.maximum(np.rint(np.exp(x) * 1e4).astype(np.int64), 1)
    open_ = np.concatenate(([int(round(np.exp(x0) * 1e4))], close[:-1]))
    wick = np.abs(rng.standard_normal((2, n))) * (0.5 * sigma * np.sqrt(dt))
    hi_base, lo_base = np.maximum(open_, close), np.minimum(open_, close)
    high = np.maximum(np.rint(hi_base * np.exp(wick[0])).astype(np.int64), hi_base)
    low = np.clip(np.rint(lo_base * np.exp(-wick[1])).astype(np.int64), 1, lo_base)
    volume = np.rint(rng.lognormal(np.log(50.0), 1.2, n) * 100).astype(np.int64)
    times = START_MS + MINUTE_MS * np.arange(n, dtype=np.int64)
    return times, open_, high, low, close, volume


def digits(values, decimals):
    """Right-aligned ASCII digits of non-negative ints scaled by 10**-decimals; 0 bytes = padding."""
    width = max(len(str(int(values.max()))), decimals + 1)
    pows = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    d = (values[:, None] // pows) % 10
    lead = np.cumsum(d != 0, axis=1) == 0  # leading zeros
    lead[:, width - decimals - 1:] = False  # always keep the units digit and the decimals
    out = (d + ord("0")).astype(np.uint8)
    out[lead] = 0
    if decimals:
        dot = np.full((len(values), 1), ord("."), np.uint8)
        out = np.hstack([out[:, :width - decimals], dot, out[:, width - decimals:]])
    return out


def write_csv(path, cols, chunk=1_000_000):
    """cols: list of (int array, decimals). Writes rows joined by ',' with a header."""
    n = len(cols[0][0])
    with open(path, "wb") as f:
        f.write(b"open_time_ms,open,high,low,close,volume\n")
        for a in range(0, n, chunk):
            parts = []
            for i, (vals, dec) in enumerate(cols):
                parts.append(digits(vals[a:a + chunk], dec))
                sep = "," if i + 1 < len(cols) else "\n"
                parts.append(np.full((len(parts[-1]), 1), ord(sep), np.uint8))
            m = np.hstack(parts)
            f.write(m[m != 0].tobytes())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=5_256_000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    t, o, h, l, c, v = make_bars(args.bars, args.seed)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_csv(args.out, [(t, 0), (o, 4), (h, 4), (l, 4), (c, 4), (v, 2)])


if __name__ == "__main__":
    main()
