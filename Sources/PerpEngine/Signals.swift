import PerpMechanics
import PerpModel

/// A time series read from a file (staked NMR, tournament activity, sentiment): values known at
/// their times. Reading at `t` returns the last value at or before `t`, never a later one.
public struct SignalSeries: Sendable, Equatable {
    public private(set) var times: [Int64]
    public private(set) var values: [Double]

    /// `points` sorted by time (unsorted input is sorted; the last value wins on equal times).
    public init(_ points: [(time: Int64, value: Double)]) {
        let sorted = points.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }
        var times: [Int64] = []
        var values: [Double] = []
        for (_, point) in sorted {
            if times.last == point.time {
                values[values.count - 1] = point.value
            } else {
                times.append(point.time)
                values.append(point.value)
            }
        }
        self.times = times
        self.values = values
    }

    public var isEmpty: Bool { times.isEmpty }

    /// The points, oldest first.
    public var points: [(time: Int64, value: Double)] { Array(zip(times, values)) }

    /// Adds a value known from `time` on: a later time appends, the last time again replaces
    /// its value, an earlier time is refused (`false`): a series never changes its past.
    @discardableResult
    public mutating func append(_ value: Double, at time: Int64) -> Bool {
        if let last = times.last {
            if time < last { return false }
            if time == last {
                values[values.count - 1] = value
                return true
            }
        }
        times.append(time)
        values.append(value)
        return true
    }

    /// The last value at or before `time` (binary search).
    public func value(at time: Int64) -> Double? {
        var low = 0
        var high = times.count
        while low < high {
            let mid = (low + high) / 2
            if times[mid] <= time { low = mid + 1 } else { high = mid }
        }
        return low == 0 ? nil : values[low - 1]
    }
}

/// The signals that come from outside the market data (spec §4: staked NMR, tournament
/// activity, sentiment), by the names their files and journal rows use.
public enum ExternalSignal: String, Sendable, CaseIterable {
    case staked
    case activity
    case sentiment
}

/// The external inputs of the network and sentiment signals.
public struct SignalInputs: Sendable, Equatable {
    /// Total NMR staked (or one's own models' stakes).
    public var staked: SignalSeries?
    /// Tournament activity (for example active models or submissions per round).
    public var activity: SignalSeries?
    /// Social sentiment already scored in −1…1.
    public var sentiment: SignalSeries?

    public init(staked: SignalSeries? = nil, activity: SignalSeries? = nil, sentiment: SignalSeries? = nil) {
        self.staked = staked
        self.activity = activity
        self.sentiment = sentiment
    }
}

/// The signal scores at one bar, each in −1…1 (+ bullish, − bearish), `nil` when its data is
/// missing. Each is a function of data known at the bar's close (no look-ahead).
public struct SignalScores: Sendable, Equatable {
    public var momentum: Double?
    public var meanReversion: Double?
    public var funding: Double?
    public var staked: Double?
    public var activity: Double?
    public var sentiment: Double?

    public init() {}

    /// The scores by name, in a fixed order (for the journal).
    public var named: [(String, Double)] {
        [
            ("momentum", momentum), ("mean_reversion", meanReversion), ("funding", funding), ("staked", staked), ("activity", activity),
            ("sentiment", sentiment),
        ]
        .compactMap { name, value in value.map { (name, $0) } }
    }

    /// The weighted blend of the group means (price: momentum, mean reversion, funding;
    /// network: staked, activity; sentiment), renormalised over the groups that have data.
    public func blended(_ weights: BotConfig.Weights) -> Double {
        // Written without arrays: this runs on every bar.
        var total = 0.0
        var weightSum = 0.0
        var priceSum = 0.0
        var priceCount = 0.0
        func addPrice(_ value: Double?) {
            if let value {
                priceSum += value
                priceCount += 1
            }
        }
        addPrice(momentum)
        addPrice(meanReversion)
        addPrice(funding)
        if priceCount > 0, weights.price > 0 {
            total += priceSum / priceCount * weights.price
            weightSum += weights.price
        }
        var networkSum = 0.0
        var networkCount = 0.0
        if let staked {
            networkSum += staked
            networkCount += 1
        }
        if let activity {
            networkSum += activity
            networkCount += 1
        }
        if networkCount > 0, weights.network > 0 {
            total += networkSum / networkCount * weights.network
            weightSum += weights.network
        }
        if let sentiment, weights.sentiment > 0 {
            total += sentiment * weights.sentiment
            weightSum += weights.sentiment
        }
        return weightSum > 0 ? total / weightSum : 0
    }

    /// How many individual signals point the same way as `direction` (with at least 0.1 of
    /// conviction).
    public func agreeing(with direction: Double) -> Int {
        var count = 0
        func check(_ value: Double?) {
            if let value, value * direction > 0, abs(value) >= 0.1 { count += 1 }
        }
        check(momentum)
        check(meanReversion)
        check(funding)
        check(staked)
        check(activity)
        check(sentiment)
        return count
    }
}

/// A window of values over the last `span` of time with running sums (mean, variance).
struct RollingWindow {
    let span: Int64
    private var times: [Int64] = []
    private var values: [Double] = []
    private var head = 0
    private(set) var sum = 0.0
    private(set) var sumSquares = 0.0

    init(span: TimeSpan) { self.span = span.milliseconds }

    var count: Int { times.count - head }
    var first: (time: Int64, value: Double)? { count > 0 ? (times[head], values[head]) : nil }

    mutating func add(_ value: Double, at time: Int64) {
        times.append(time)
        values.append(value)
        sum += value
        sumSquares += value * value
        while head < times.count, times[head] <= time - span {
            sum -= values[head]
            sumSquares -= values[head] * values[head]
            head += 1
        }
        if head > 4096 && head * 2 > times.count {
            times.removeFirst(head)
            values.removeFirst(head)
            head = 0
        }
    }

    var mean: Double? { count > 0 ? sum / Double(count) : nil }

    /// Sample standard deviation.
    var standardDeviation: Double? {
        guard count >= 2 else { return nil }
        let n = Double(count)
        let variance = max(0, (sumSquares - sum * sum / n) / (n - 1))
        return variance.squareRoot()
    }

    /// The oldest value at or after `time` (for "price `span` ago").
    func value(atOrAfter time: Int64) -> Double? {
        var low = head
        var high = times.count
        while low < high {
            let mid = (low + high) / 2
            if times[mid] < time { low = mid + 1 } else { high = mid }
        }
        return low < times.count ? values[low] : nil
    }

    /// Maximum and minimum of the window (a scan: windows here are a few dozen bars).
    var extremes: (min: Double, max: Double)? {
        guard count > 0 else { return nil }
        var low = Double.infinity
        var high = -Double.infinity
        for index in head..<times.count {
            low = min(low, values[index])
            high = max(high, values[index])
        }
        return (low, high)
    }
}

/// Computes the signals bar by bar from closes, funding and the external series.
struct SignalEngine {
    let config: BotConfig.Signals
    private(set) var inputs: SignalInputs
    private var momentumCloses: RollingWindow
    private var reversionCloses: RollingWindow
    private var lastFundingPer8h: Rate?

    init(config: BotConfig.Signals, inputs: SignalInputs) {
        self.config = config
        self.inputs = inputs
        // One bar more than the window so "the close one window ago" is kept.
        momentumCloses = RollingWindow(span: TimeSpan(milliseconds: config.momentumWindow.milliseconds * 2))
        reversionCloses = RollingWindow(span: config.meanReversionWindow)
    }

    mutating func observe(close: Double, at time: Int64) {
        momentumCloses.add(close, at: time)
        reversionCloses.add(close, at: time)
    }

    /// Records a value of an external series published at `time` (paper trading).
    mutating func observe(_ signal: ExternalSignal, value: Double, at time: Int64) {
        switch signal {
        case .staked: inputs.staked = Self.appending(inputs.staked, value, time)
        case .activity: inputs.activity = Self.appending(inputs.activity, value, time)
        case .sentiment: inputs.sentiment = Self.appending(inputs.sentiment, value, time)
        }
    }

    private static func appending(_ series: SignalSeries?, _ value: Double, _ time: Int64) -> SignalSeries {
        var series = series ?? SignalSeries([])
        series.append(value, at: time)
        return series
    }

    /// Records a funding settlement, converted to its 8-hour equivalent.
    mutating func observe(funding rate: FundingRate) {
        lastFundingPer8h = FundingMath.rescale(rate.rate, from: rate.interval, to: .hours(8))
    }

    func scores(close: Double, at time: Int64) -> SignalScores {
        var scores = SignalScores()
        // Momentum: the return since one window ago, scaled to ±1 at the full-scale return.
        if let then = momentumCloses.value(atOrAfter: time - config.momentumWindow.milliseconds), then > 0,
            let first = momentumCloses.first, first.time <= time - config.momentumWindow.milliseconds
        {
            scores.momentum = clamp((close / then - 1) / config.momentumFullScale)
        }
        // Mean reversion: minus the z-score over the window, ±1 at ±z.
        if reversionCloses.count >= 10, let mean = reversionCloses.mean, let deviation = reversionCloses.standardDeviation, deviation > 0 {
            scores.meanReversion = clamp(-((close - mean) / deviation) / config.meanReversionZ)
        }
        // Funding anomaly, contrarian: crowded longs paying a lot → bearish.
        if let rate = lastFundingPer8h {
            if rate > config.fundingAnomalyPer8h {
                scores.funding = -1
            } else if rate < -config.fundingAnomalyPer8h {
                scores.funding = 1
            } else {
                scores.funding = 0
            }
        }
        // Staked NMR: a drop of `stakeDrop` over the window scores −1 (spec §4), a rise as much +1.
        if let staked = inputs.staked, let now = staked.value(at: time),
            let then = staked.value(at: time - config.stakeWindow.milliseconds), then > 0
        {
            scores.staked = clamp((now / then - 1) / config.stakeDrop)
        }
        if let activity = inputs.activity, let now = activity.value(at: time),
            let then = activity.value(at: time - config.activityWindow.milliseconds), then > 0
        {
            scores.activity = clamp((now / then - 1) / config.activityChange)
        }
        if let sentiment = inputs.sentiment, let value = sentiment.value(at: time) {
            scores.sentiment = clamp(value)
        }
        return scores
    }
}

@inline(__always)
func clamp(_ value: Double) -> Double { value.isFinite ? min(1, max(-1, value)) : 0 }
