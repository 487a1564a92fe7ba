/// Thinning a long series for a chart without losing its extremes: the series is cut into
/// buckets of equal count and each bucket keeps its first, lowest, highest and last point, in
/// time order. A 43,200-bar equity curve drawn 1,000 pixels wide keeps every peak and every
/// trough (the drawdown a user looks for), where taking every n-th point would skip them.
public enum MinMaxDownsampler {
    /// The indices to keep of a series of `count` points whose values `value(i)` gives, for at
    /// most `buckets` buckets (at most `4 × buckets` indices, ascending, no repeats). A series
    /// no longer than that is kept whole.
    public static func indices(count: Int, buckets: Int, value: (Int) -> Int64) -> [Int] {
        guard count > 0 else { return [] }
        let buckets = max(1, buckets)
        if count <= 4 * buckets { return Array(0..<count) }
        var kept: [Int] = []
        kept.reserveCapacity(4 * buckets)
        for bucket in 0..<buckets {
            // Bucket b covers [b·count/buckets, (b+1)·count/buckets): every point in one bucket.
            let start = bucket * count / buckets
            let end = (bucket + 1) * count / buckets
            guard start < end else { continue }
            var low = start
            var high = start
            var lowValue = value(start)
            var highValue = lowValue
            var index = start + 1
            while index < end {
                let v = value(index)
                if v < lowValue {
                    lowValue = v
                    low = index
                }
                if v > highValue {
                    highValue = v
                    high = index
                }
                index += 1
            }
            for candidate in [start, min(low, high), max(low, high), end - 1] where kept.last.map({ candidate > $0 }) ?? true {
                kept.append(candidate)
            }
        }
        return kept
    }
}
