import PerpModel

/// The recent bars the kernel's statistics read, in one ring buffer (power-of-two capacity,
/// grown only when the windows need more room), and the four windows over them:
///
/// - the circuit breaker's: the opens of the last `circuitWindow`, kept current every bar;
/// - volatility (simple returns over `volatilityWindow`, with running sums), mean reversion
///   (closes over `meanReversionWindow`, with running sums) and momentum (closes over twice
///   `momentumWindow`): brought up to date only when read.
///
/// Bringing a window up to date replays, bar by bar, the additions and removals that keeping it
/// current would have made, in the same order, so every sum is the same `Double` as in a window
/// updated on every bar. Bars spent in a position read none of them, and a replay runs as a tight
/// loop instead of a few scattered operations in every bar.
struct BarHistory {
    struct Bar {
        var time: Int64
        /// The raw open (exact in a `Double`).
        var openRaw: Double
        /// The raw close (exact in a `Double`). Every statistic here is scale-free (returns,
        /// ratios, z-scores), so the fixed-point scale is never divided out.
        var closeRaw: Double
        /// `close ÷ previous close − 1`, written when the volatility window reaches the bar.
        var simpleReturn: Double
    }

    private var bars: [Bar]
    private var mask: Int
    /// Positions count up from zero; slot = position & mask. The next bar goes to `tail`.
    private(set) var tail = 0

    private let circuitSpan: Int64
    private var circuitHead = 0

    private let volatilitySpan: Int64
    // Bar 0 has no previous close, so no return: the window starts at bar 1.
    private var volatilityHead = 1
    private var volatilityNext = 1
    private var volatilitySum = 0.0
    private var volatilitySumSquares = 0.0

    private let reversionSpan: Int64
    private var reversionHead = 0
    private var reversionNext = 0
    private var reversionSum = 0.0
    private var reversionSumSquares = 0.0

    private let momentumSpan: Int64
    private var momentumHead = 0
    /// Where the last "close at or after" search landed.
    private var momentumHint = 0

    init(circuitWindow: TimeSpan, volatilityWindow: TimeSpan, meanReversionWindow: TimeSpan, momentumWindow: TimeSpan) {
        circuitSpan = circuitWindow.windowMilliseconds
        volatilitySpan = volatilityWindow.windowMilliseconds
        reversionSpan = meanReversionWindow.windowMilliseconds
        // One bar more than the window so "the close one window ago" is kept.
        momentumSpan = momentumWindow.windowMilliseconds * 2
        bars = [Bar](repeating: Bar(time: 0, openRaw: 0, closeRaw: 0, simpleReturn: 0), count: 256)
        mask = 255
        roomUntil = 256
    }

    /// Adds a bar (times strictly increasing, prices positive) and brings the circuit breaker's
    /// window up to date.
    @inline(__always)
    mutating func append(time: Int64, openRaw: Double, closeRaw: Double) {
        if tail == roomUntil { makeRoom() }
        bars[tail & mask] = Bar(time: time, openRaw: openRaw, closeRaw: closeRaw, simpleReturn: 0)
        tail += 1
        let limit = time - circuitSpan
        while circuitHead < tail, bars[circuitHead & mask].time <= limit { circuitHead += 1 }
    }

    /// The oldest open inside the circuit breaker's window (`nil` only when the window is shorter
    /// than nothing, i.e. empty).
    var circuitReferenceRaw: Double? { circuitHead < tail ? bars[circuitHead & mask].openRaw : nil }

    /// The ring is full when `tail` reaches this: `oldestKept + capacity` as of the last
    /// `makeRoom` (or start). Windows only move forward, so it never overstates the room, and
    /// the bar loop compares one number instead of taking the minimum of five.
    private var roomUntil: Int

    /// The first bar any window still needs.
    private var oldestKept: Int {
        min(min(circuitHead, momentumHead), min(reversionHead, min(volatilityHead, max(volatilityNext - 1, 0))))
    }

    private mutating func makeRoom() {
        catchUpVolatility()
        catchUpReversion()
        catchUpMomentum()
        defer { roomUntil = oldestKept + bars.count }
        if tail - oldestKept < bars.count { return }
        let capacity = bars.count * 2
        var grown = [Bar](repeating: Bar(time: 0, openRaw: 0, closeRaw: 0, simpleReturn: 0), count: capacity)
        for position in oldestKept..<tail { grown[position & (capacity - 1)] = bars[position & mask] }
        bars = grown
        mask = capacity - 1
    }

    // MARK: Volatility

    private mutating func catchUpVolatility() {
        while volatilityNext < tail {
            let position = volatilityNext
            // Closes are positive (the kernel refuses other bars), so every bar after the first
            // has a return.
            let previous = bars[(position - 1) & mask].closeRaw
            let bar = bars[position & mask]
            let value = bar.closeRaw / previous - 1
            bars[position & mask].simpleReturn = value
            volatilitySum += value
            volatilitySumSquares += value * value
            let limit = bar.time - volatilitySpan
            while volatilityHead <= position, bars[volatilityHead & mask].time <= limit {
                let old = bars[volatilityHead & mask].simpleReturn
                volatilitySum -= old
                volatilitySumSquares -= old * old
                volatilityHead += 1
            }
            volatilityNext += 1
        }
    }

    /// Sample standard deviation of the simple returns in the volatility window.
    mutating func volatilityStandardDeviation() -> Double? {
        catchUpVolatility()
        return Self.standardDeviation(count: volatilityNext - volatilityHead, sum: volatilitySum, sumSquares: volatilitySumSquares)
    }

    // MARK: Mean reversion

    @inline(__always)
    private mutating func catchUpReversion() {
        while reversionNext < tail {
            let position = reversionNext
            let bar = bars[position & mask]
            let close = bar.closeRaw
            reversionSum += close
            reversionSumSquares += close * close
            let limit = bar.time - reversionSpan
            while reversionHead <= position, bars[reversionHead & mask].time <= limit {
                let old = bars[reversionHead & mask].closeRaw
                reversionSum -= old
                reversionSumSquares -= old * old
                reversionHead += 1
            }
            reversionNext += 1
        }
    }

    // 1 ÷ n and 1 ÷ (n − 1) for the mean-reversion window's count `reversionInverseCount` (the
    // window holds the same number of bars bar after bar, so these are divided once).
    private var reversionInverseFor = -1
    private var reversionInverseCount = 0.0
    private var reversionInverseCountLessOne = 0.0

    /// The mean-reversion z-score, `(close − mean) ÷ σ` over the window (σ the sample standard
    /// deviation), in pieces before its square root and division: the window's count,
    /// `close − mean` (`nil` with fewer than two closes or no variance) and the sample
    /// variance. Multiplies by the reciprocals of n and n − 1 instead of dividing.
    @inline(__always)
    mutating func reversionDeviation(of close: Double) -> (count: Int, deviation: Double?, variance: Double) {
        catchUpReversion()
        let count = reversionNext - reversionHead
        guard count >= 2 else { return (count, nil, 0) }
        if count != reversionInverseFor {
            reversionInverseFor = count
            reversionInverseCount = 1 / Double(count)
            reversionInverseCountLessOne = 1 / Double(count - 1)
        }
        let mean = reversionSum * reversionInverseCount
        let variance = (reversionSumSquares - reversionSum * mean) * reversionInverseCountLessOne
        guard variance > 0 else { return (count, nil, variance) }
        return (count, close - mean, variance)
    }

    // MARK: Momentum

    @inline(__always)
    private mutating func catchUpMomentum() {
        guard tail > 0 else { return }
        // Removals only depend on the newest time: the window holds the bars after it − span.
        let limit = bars[(tail - 1) & mask].time - momentumSpan
        while momentumHead < tail, bars[momentumHead & mask].time <= limit { momentumHead += 1 }
    }

    /// The oldest close in the momentum window at or after `time`, if the window reaches back to
    /// `time` (its oldest bar is at or before it) and there is one.
    @inline(__always)
    mutating func momentumClose(atOrAfter time: Int64) -> Double? {
        catchUpMomentum()
        guard momentumHead < tail, bars[momentumHead & mask].time <= time else { return nil }
        var position = momentumHint
        if position > momentumHead, position <= tail, bars[(position - 1) & mask].time < time {
            // Bar after bar the answer moves a step or two forward.
            while position < tail, bars[position & mask].time < time { position += 1 }
        } else {
            var low = momentumHead
            var high = tail
            while low < high {
                let mid = (low + high) / 2
                if bars[mid & mask].time < time { low = mid + 1 } else { high = mid }
            }
            position = low
        }
        momentumHint = position
        return position < tail ? bars[position & mask].closeRaw : nil
    }

    // MARK: Shared

    @inline(__always)
    private static func standardDeviation(count: Int, sum: Double, sumSquares: Double) -> Double? {
        guard count >= 2 else { return nil }
        let n = Double(count)
        let variance = max(0, (sumSquares - sum * sum / n) / (n - 1))
        return variance.squareRoot()
    }
}

extension TimeSpan {
    /// The window's length for the engine's `time − window` arithmetic: held from 0 to 2⁶⁰ ms
    /// (36 million years), so twice it, taken from any ``Timestamp/representable`` time, stays
    /// inside `Int64` even for a window no check refused (a kernel built in code). A checked
    /// configuration's windows (at most ``CarryLimit/span``) pass unchanged.
    @inline(__always)
    var windowMilliseconds: Int64 { min(max(milliseconds, 0), 1 << 60) }
}
