import PerpModel

/// How window starts are placed.
public enum WindowStep: Hashable, Sendable, CustomStringConvertible {
    /// Every bar's open time is a start (the true worst case).
    case everyBar
    /// Starts at the first bar's open time and every `span` after it (the forum's method).
    case every(TimeSpan)

    public var description: String {
        switch self {
        case .everyBar: return "every bar"
        case .every(let span): return span.description
        }
    }
}

/// The worst price multiple over windows of a price history (spec §1, "Estimating g",
/// seed 003 Appendix A), generalised to every start.
///
/// Windows `[s, s + H)` start at the first bar's open time and every step `S` after it, up to
/// the last bar's open time (or at every bar's open time). For each window
/// `g_w = max(high of bars in the window) / open of the first bar at or after s`, and
/// `g = max g_w` over every window that holds a bar. A window that runs past the end of the data
/// (`s + H` after the last bar's open time plus the bar interval) is *cut off*: it counts with the
/// bars it has, and its `g_w` is a lower bound of the true one (spec §1; docs/decisions/0002).
/// Each window of a longer horizon contains the window of a shorter one with the same start, and
/// the starts do not depend on `H`, so `g` never falls as `H` grows.
///
/// The distribution (``values``, ``quantile(_:)``, ``shareAtOrAbove(_:)``) is taken over the
/// full windows only: the cut-off ones are biased low (with every start, the last of them hold a
/// handful of bars), so including them would make the typical window look calmer than it was.
/// `g` and the worst window are over all windows, and ``worstIsCutOff`` says when the worst one
/// was cut off (then the true worst case over that start may be higher still).
///
/// At least one full window is required: with less data than one window every `g_w` is only a
/// lower bound, and a plan built on it would flatter the user. A monotonic deque gives the
/// sliding maximum in O(n + windows) for any step.
public struct WorstCase: Sendable {
    /// `g`, the largest `g_w`.
    public var g: Double
    /// `g` as an exact ratio of two prices (the window's peak high over its first open).
    public var peakHigh: Price
    public var startOpen: Price
    /// Windows that counted, full and cut off.
    public var windows: Int
    /// Counted windows that run past the end of the data (their `g_w` is a lower bound).
    public var cutOffWindows: Int
    /// Whether the worst window is one of the cut-off ones.
    public var worstIsCutOff: Bool
    /// Windows that the data covers to their end.
    public var fullWindows: Int { windows - cutOffWindows }
    /// The last bar's open time plus the bar interval: where the data ends.
    public var dataEnd: Timestamp
    /// Start of the worst window (the `s` of the spec), and the open time of its first bar.
    public var worstWindowStart: Timestamp
    public var worstFirstBar: Timestamp
    /// Open time of the bar that made the peak high.
    public var worstPeakTime: Timestamp
    /// Every full window's `g_w`, in start order (empty unless requested); cut-off windows are
    /// left out (see the type's documentation).
    public var values: [Double]
    public var window: TimeSpan
    public var step: WindowStep
    public var bars: Int
    public var barInterval: TimeSpan

    /// `g` rounded up to a ``Rate`` (a plan built on it is never less safe than the data).
    public var gRate: Rate { peakHigh.ratio(to: startOpen, rule: .up) }

    /// Runs the analysis. Throws when the series is too short for even one window.
    public static func analyse(_ series: CandleSeries, window: TimeSpan, step: WindowStep, keepValues: Bool = true) throws -> WorstCase {
        guard window.milliseconds > 0 else { throw HedgeError.invalid("the window must be longer than zero") }
        if case .every(let span) = step, span.milliseconds <= 0 { throw HedgeError.invalid("the step must be longer than zero") }
        guard series.count >= 2, let interval = series.barInterval else {
            throw HedgeError.invalid("at least two bars are needed to measure g (got \(series.count))")
        }
        // A step below one bar only repeats the same starts, a million times over for `1ms`
        // (issue 11): every bar's open is the finest step there is.
        if case .every(let span) = step, span < interval {
            throw HedgeError.invalid(
                "the step \(span) is shorter than the data's bars (\(interval)); use --step bar for every bar's open, the finest step there is"
            )
        }
        let times = series.openTimes
        let highs = series.highs
        let opens = series.opens
        let n = times.count
        let dataEnd = times[n - 1] + interval.milliseconds
        let h = window.milliseconds

        var result = WorstCase(
            g: 0, peakHigh: .zero, startOpen: .zero, windows: 0, cutOffWindows: 0, worstIsCutOff: false,
            dataEnd: Timestamp(milliseconds: dataEnd), worstWindowStart: Timestamp(milliseconds: times[0]),
            worstFirstBar: Timestamp(milliseconds: times[0]), worstPeakTime: Timestamp(milliseconds: times[0]), values: [],
            window: window, step: step, bars: n, barInterval: interval)
        if keepValues {
            result.values.reserveCapacity(
                step == .everyBar ? n : Int((times[n - 1] - times[0]) / max(1, stepMilliseconds(step, interval))) + 1)
        }

        // Monotonic deque of bar indices with decreasing highs, stored in a flat ring.
        var deque = [Int](repeating: 0, count: n)
        var head = 0
        var tail = 0
        var end = 0  // first bar not yet pushed
        var first = 0  // first bar with time ≥ s
        var bestRatio = -1.0
        var stepIndex: Int64 = 0
        let stepMs = stepMilliseconds(step, interval)
        let everyBar = step == .everyBar

        deque.withUnsafeMutableBufferPointer { dq in
            times.withUnsafeBufferPointer { t in
                highs.withUnsafeBufferPointer { hi in
                    opens.withUnsafeBufferPointer { op in
                        while true {
                            let s: Int64
                            if everyBar {
                                guard first < n else { return }
                                s = t[first]
                            } else {
                                s = t[0] + stepIndex * stepMs
                                stepIndex += 1
                                guard s <= t[n - 1] else { return }
                                while first < n, t[first] < s { first += 1 }
                            }
                            let windowEnd = s + h
                            let cutOff = windowEnd > dataEnd
                            while end < n, t[end] < windowEnd {
                                let value = hi[end]
                                while tail > head, hi[dq[tail - 1]] <= value { tail -= 1 }
                                dq[tail] = end
                                tail += 1
                                end += 1
                            }
                            while head < tail, dq[head] < first { head += 1 }
                            if first < end, head < tail {
                                let peakIndex = dq[head]
                                let ratio = Double(hi[peakIndex]) / Double(op[first])
                                if keepValues, !cutOff { result.values.append(ratio) }
                                result.windows += 1
                                if cutOff { result.cutOffWindows += 1 }
                                if ratio > bestRatio {
                                    bestRatio = ratio
                                    result.peakHigh = Price(raw: hi[peakIndex])
                                    result.startOpen = Price(raw: op[first])
                                    result.worstWindowStart = Timestamp(milliseconds: s)
                                    result.worstFirstBar = Timestamp(milliseconds: t[first])
                                    result.worstPeakTime = Timestamp(milliseconds: t[peakIndex])
                                    result.worstIsCutOff = cutOff
                                }
                            }
                            if everyBar { first += 1 }
                        }
                    }
                }
            }
        }
        guard result.fullWindows > 0 else {
            throw HedgeError.invalid(
                "no \(window) window fits in the data (\(Timestamp(milliseconds: times[0]).iso8601) to \(Timestamp(milliseconds: dataEnd).iso8601)); use a shorter --window or more data"
            )
        }
        result.g = bestRatio
        return result
    }

    private static func stepMilliseconds(_ step: WindowStep, _ interval: TimeSpan) -> Int64 {
        switch step {
        case .everyBar: return interval.milliseconds
        case .every(let span): return span.milliseconds
        }
    }

    /// The `p`-quantile (0…1) of the window multiples, by linear interpolation between order
    /// statistics (numpy's default, "type 7").
    public func quantile(_ p: Double) -> Double? {
        Quantiles.compute(values, [p]).first
    }

    /// The share of full windows whose multiple reaches `multiple` (for instance the
    /// liquidation multiple of a chosen collateral), in 0…1.
    public func shareAtOrAbove(_ multiple: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        var count = 0
        for value in values where value >= multiple { count += 1 }
        return Double(count) / Double(values.count)
    }
}

/// Quantiles without a full sort: quickselect for each needed order statistic.
public enum Quantiles {
    /// Linear-interpolated quantiles (numpy "linear") of `values` for each `p` in 0…1.
    public static func compute(_ values: [Double], _ probabilities: [Double]) -> [Double] {
        guard !values.isEmpty else { return [] }
        var work = values
        let n = work.count
        return probabilities.map { p in
            let position = Double(n - 1) * min(max(p, 0), 1)
            let lower = Int(position.rounded(.down))
            let fraction = position - Double(lower)
            let low = select(&work, lower)
            guard fraction > 0, lower + 1 < n else { return low }
            // After selecting `lower`, the next order statistic is the minimum to its right.
            var next = Double.infinity
            for index in (lower + 1)..<n where work[index] < next { next = work[index] }
            return low + fraction * (next - low)
        }
    }

    /// Rearranges `values` so that `values[k]` is the k-th smallest (Hoare quickselect with a
    /// median-of-three pivot), and returns it.
    public static func select(_ values: inout [Double], _ k: Int) -> Double {
        var left = 0
        var right = values.count - 1
        return values.withUnsafeMutableBufferPointer { a in
            while right > left {
                let mid = left + (right - left) / 2
                if a[mid] < a[left] { a.swapAt(mid, left) }
                if a[right] < a[left] { a.swapAt(right, left) }
                if a[right] < a[mid] { a.swapAt(right, mid) }
                let pivot = a[mid]
                var i = left
                var j = right
                while i <= j {
                    while a[i] < pivot { i += 1 }
                    while a[j] > pivot { j -= 1 }
                    if i <= j {
                        a.swapAt(i, j)
                        i += 1
                        j -= 1
                    }
                }
                if k <= j {
                    right = j
                } else if k >= i {
                    left = i
                } else {
                    return a[k]
                }
            }
            return a[k]
        }
    }
}

/// `g` as a function of the rebalancing horizon (spec §1: 1 day to 90 days).
public enum Horizons {
    public static let defaultDays: [Int64] = [1, 3, 7, 14, 30, 60, 90]

    public struct Entry: Hashable, Sendable {
        public var days: Int64
        /// `nil` when the data is shorter than the horizon (no full window).
        public var g: Double?
        /// Windows counted, full and cut off by the end of the data (see ``WorstCase``).
        public var windows: Int
        public var cutOffWindows: Int
        public var worstIsCutOff: Bool
        public var worstWindowStart: Timestamp?
    }

    /// `g` for each horizon in `days`, every window counted as ``WorstCase`` counts it (cut-off
    /// windows included), so `g` is non-decreasing in the horizon wherever it is defined.
    public static func compute(_ series: CandleSeries, step: WindowStep, days: [Int64] = defaultDays) -> [Entry] {
        days.map { day in
            guard let result = try? WorstCase.analyse(series, window: .days(day), step: step, keepValues: false) else {
                return Entry(days: day, g: nil, windows: 0, cutOffWindows: 0, worstIsCutOff: false, worstWindowStart: nil)
            }
            return Entry(
                days: day, g: result.g, windows: result.windows, cutOffWindows: result.cutOffWindows,
                worstIsCutOff: result.worstIsCutOff, worstWindowStart: result.worstWindowStart)
        }
    }
}
