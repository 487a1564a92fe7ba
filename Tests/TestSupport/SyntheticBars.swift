import PerpModel

/// Seeded synthetic market data for tests (no file, no network).
public enum SyntheticBars {
    /// 2025-01-06 00:00 UTC, where ``walk(seed:bars:)`` starts.
    public static let start: Int64 = 1_736_121_600_000

    /// A seeded 15-minute random walk from ``start``, about 20 USDT, with a rare jump of up to
    /// ±4 USDT; every bar consistent (low ≤ open, close ≤ high, prices positive).
    public static func walk(seed: UInt64, bars count: Int) -> [Candle] {
        var rng = SplitMix64(seed: seed)
        var close: Int64 = 2_000_000_000
        return (0..<count).map { index in
            let open = close
            var next = open + rng.int(-30_000_000...30_000_000)
            if rng.int(0...199) == 0 { next += rng.int(-400_000_000...400_000_000) }
            next = max(next, 100_000_000)
            let high = max(open, next) + rng.int(0...10_000_000)
            let low = max(min(open, next) - rng.int(0...10_000_000), 50_000_000)
            close = next
            return Candle(
                openTime: Timestamp(milliseconds: start + Int64(index) * 900_000), open: Price(raw: open), high: Price(raw: high),
                low: Price(raw: low), close: Price(raw: next), volume: Quantity(raw: rng.int(1...50_000) * 100_000_000))
        }
    }
}
