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
    /// NMR onto the exchange addresses minus NMR off them, per period (`signals collect
    /// --exchange`, `exchange_netflow.csv`): each row is the period's flow, not a running total.
    case exchangeNetflow = "exchange_netflow"
}

/// The external inputs of the network and sentiment signals.
public struct SignalInputs: Sendable, Equatable {
    /// Total NMR staked (or one's own models' stakes).
    public var staked: SignalSeries?
    /// Tournament activity (for example active models or submissions per round).
    public var activity: SignalSeries?
    /// Social sentiment already scored in −1…1.
    public var sentiment: SignalSeries?
    /// NMR's net flow onto exchange addresses per period (each value the period's own flow).
    public var exchangeNetflow: SignalSeries?
    /// Dated events (Numerai's rounds, the user's own), for the blackout windows.
    public var calendar: [CalendarEvent]

    public init(
        staked: SignalSeries? = nil, activity: SignalSeries? = nil, sentiment: SignalSeries? = nil,
        exchangeNetflow: SignalSeries? = nil, calendar: [CalendarEvent] = []
    ) {
        self.staked = staked
        self.activity = activity
        self.sentiment = sentiment
        self.exchangeNetflow = exchangeNetflow
        self.calendar = calendar
    }

    /// Whether no series and no event is present.
    public var isEmpty: Bool {
        staked == nil && activity == nil && sentiment == nil && exchangeNetflow == nil && calendar.isEmpty
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
    /// On-chain: NMR moving onto exchanges (selling pressure) scores down, off them up.
    public var exchangeFlow: Double?

    public init() {}

    /// The scores by name, in a fixed order (for the journal).
    public var named: [(String, Double)] {
        // One allocation: this runs for every journalled decision.
        var named: [(String, Double)] = []
        named.reserveCapacity(7)
        if let momentum { named.append(("momentum", momentum)) }
        if let meanReversion { named.append(("mean_reversion", meanReversion)) }
        if let funding { named.append(("funding", funding)) }
        if let staked { named.append(("staked", staked)) }
        if let activity { named.append(("activity", activity)) }
        if let exchangeFlow { named.append(("exchange_flow", exchangeFlow)) }
        if let sentiment { named.append(("sentiment", sentiment)) }
        return named
    }

    /// The weighted blend of the group means (price: momentum, mean reversion, funding;
    /// network: staked, activity, exchange flow; sentiment), renormalised over the groups that have data.
    public func blended(_ weights: BotConfig.Weights) -> Double { BlendWeights(weights).blend(self) }

    /// How many individual signals point the same way as `direction` (with at least 0.1 of
    /// conviction).
    public func agreeing(with direction: Double) -> Int { BlendWeights.agreeing(self, with: direction) }
}

/// The blend's weights folded, for every count of signals with data in each group (price 0–3,
/// network 0–3, sentiment 0–1), into one factor per group: `weight ÷ count ÷ (sum of the
/// weights of the groups with data)`. The bar loop multiplies each group's sum by its factor
/// and adds, where ``SignalScores/blended(_:)`` reads as means, weights and a division.
struct BlendWeights: Sendable {
    let weights: BotConfig.Weights
    /// Entry `priceCount × 8 + networkCount × 2 + sentimentCount`: the three factors.
    private let factors: [SIMD4<Double>]

    init(_ weights: BotConfig.Weights) {
        self.weights = weights
        var factors: [SIMD4<Double>] = []
        for priceCount in 0...3 {
            for networkCount in 0...3 {
                for sentimentCount in 0...1 {
                    let price = priceCount > 0 && weights.price > 0 ? weights.price : 0
                    let network = networkCount > 0 && weights.network > 0 ? weights.network : 0
                    let sentiment = sentimentCount > 0 && weights.sentiment > 0 ? weights.sentiment : 0
                    let sum = price + network + sentiment
                    guard sum > 0 else {
                        factors.append(.zero)
                        continue
                    }
                    factors.append(
                        SIMD4(
                            priceCount > 0 ? price / Double(priceCount) / sum : 0,
                            networkCount > 0 ? network / Double(networkCount) / sum : 0, sentiment / sum, 0))
                }
            }
        }
        self.factors = factors
    }

    /// ``SignalScores/blended(_:)``: the weighted group means over the groups with data.
    @inline(__always)
    func blend(_ scores: SignalScores) -> Double {
        // Written without arrays of scores: this runs on every bar.
        var priceSum = 0.0
        var priceCount = 0
        if let momentum = scores.momentum {
            priceSum += momentum
            priceCount += 1
        }
        if let meanReversion = scores.meanReversion {
            priceSum += meanReversion
            priceCount += 1
        }
        if let funding = scores.funding {
            priceSum += funding
            priceCount += 1
        }
        var networkSum = 0.0
        var networkCount = 0
        if let staked = scores.staked {
            networkSum += staked
            networkCount += 1
        }
        if let activity = scores.activity {
            networkSum += activity
            networkCount += 1
        }
        if let exchangeFlow = scores.exchangeFlow {
            networkSum += exchangeFlow
            networkCount += 1
        }
        let sentiment = scores.sentiment ?? 0
        let factor = factors[priceCount * 8 + networkCount * 2 + (scores.sentiment == nil ? 0 : 1)]
        return priceSum * factor[0] + (networkSum * factor[1] + sentiment * factor[2])
    }

    /// Whether the blend stays strictly inside `(−threshold, threshold)`, by a margin of 1e-9,
    /// for the mean-reversion score still pending in `reversion`, whatever the other scores
    /// (`scores`, its `meanReversion` unset). `true` means no entry can follow, exactly as the
    /// full blend would decide; `false` means "work it out" (the blend may reach the threshold,
    /// or lies within the margin of it). Multiplications and comparisons only, where the score
    /// itself takes a square root and a division: see docs/decisions/0005-trading-kernel.md.
    ///
    /// The blend is `base + f·m`: `base` the blend with the score at 0, `f` > 0 the price
    /// group's factor, `m = clamp(x)` the score, `x = u ÷ √v`. It stays inside when
    /// `low < f·m < high` (`low = −threshold − base`, `high = threshold − base`, each pulled in
    /// by the margin), and `x < b` reads `u < b·√v`: by signs, then squares (`u² < b²·v`).
    /// The margin is some 10⁶ times the rounding of either computation.
    @inline(__always)
    func staysInside(_ threshold: Double, _ scores: SignalScores, reversion: PendingReversion) -> Bool {
        var withScore = scores
        withScore.meanReversion = 0
        let base = blend(withScore)
        let factor = priceFactor(withScore)
        guard factor > 0 else { return abs(base) < threshold - Self.margin }
        let high = threshold - base - Self.margin
        let low = -threshold - base + Self.margin
        guard low < high else { return false }
        let u = -reversion.deviation * reversion.inverseZ
        let v = reversion.variance
        // f·m < high.
        if factor >= high {
            // Needs x < b with b = high ÷ f ≤ 1 (and b > −1: the score is never below −1).
            let b = high / factor
            guard b > -1 else { return false }
            let below = b > 0 ? (u <= 0 || u * u < b * b * v) : (u < 0 && u * u > b * b * v)
            guard below else { return false }
        }
        // f·m > low.
        if -factor <= low {
            let a = low / factor
            guard a < 1 else { return false }
            let above = a < 0 ? (u >= 0 || u * u < a * a * v) : (u > 0 && u * u > a * a * v)
            guard above else { return false }
        }
        return true
    }

    /// How far inside the threshold ``staysInside(_:_:reversion:)`` wants the blend.
    static let margin = 1e-9

    /// The price group's factor for the groups with data in `scores`.
    @inline(__always)
    func priceFactor(_ scores: SignalScores) -> Double {
        let priceCount = (scores.momentum == nil ? 0 : 1) + (scores.meanReversion == nil ? 0 : 1) + (scores.funding == nil ? 0 : 1)
        let networkCount = (scores.staked == nil ? 0 : 1) + (scores.activity == nil ? 0 : 1) + (scores.exchangeFlow == nil ? 0 : 1)
        return factors[priceCount * 8 + networkCount * 2 + (scores.sentiment == nil ? 0 : 1)][0]
    }

    /// ``SignalScores/agreeing(with:)``, here so the bar loop inlines it beside the blend.
    @inline(__always)
    static func agreeing(_ scores: SignalScores, with direction: Double) -> Int {
        var count = 0
        if let value = scores.momentum, value * direction > 0, abs(value) >= 0.1 { count += 1 }
        if let value = scores.meanReversion, value * direction > 0, abs(value) >= 0.1 { count += 1 }
        if let value = scores.funding, value * direction > 0, abs(value) >= 0.1 { count += 1 }
        if let value = scores.staked, value * direction > 0, abs(value) >= 0.1 { count += 1 }
        if let value = scores.activity, value * direction > 0, abs(value) >= 0.1 { count += 1 }
        if let value = scores.exchangeFlow, value * direction > 0, abs(value) >= 0.1 { count += 1 }
        if let value = scores.sentiment, value * direction > 0, abs(value) >= 0.1 { count += 1 }
        return count
    }
}

/// A window of values over the last `span` of time with running sums (mean, variance). A ring
/// buffer whose capacity is a power of two, grown when full: adding a value writes one slot and
/// drops the expired ones from the front, nothing is shifted or reallocated in steady state.
/// The sums are updated value by value in arrival order (add, then drop), so they are the same
/// `Double`s whatever the storage.
struct RollingWindow {
    struct Entry {
        var time: Int64
        var value: Double
    }

    let span: Int64
    /// Whether `sum` and `sumSquares` are kept (the circuit breaker only reads the oldest value).
    let keepsSums: Bool
    private var entries: [Entry]
    private var mask: Int
    /// Positions count up from zero for the life of the window; slot = position & mask. The
    /// oldest kept value is at `head`, the next one goes to `tail`.
    private(set) var head = 0
    private(set) var tail = 0
    private(set) var sum = 0.0
    private(set) var sumSquares = 0.0

    init(span: TimeSpan, keepsSums: Bool = true) {
        self.span = span.windowMilliseconds
        self.keepsSums = keepsSums
        entries = [Entry](repeating: Entry(time: 0, value: 0), count: 64)
        mask = 63
    }

    var count: Int { tail - head }
    var first: (time: Int64, value: Double)? { count > 0 ? (entries[head & mask].time, entries[head & mask].value) : nil }
    /// The oldest value (the window must not be empty).
    var firstValue: Double { entries[head & mask].value }

    @inline(__always)
    mutating func add(_ value: Double, at time: Int64) {
        if tail - head == entries.count { grow() }
        entries[tail & mask] = Entry(time: time, value: value)
        tail += 1
        let limit = time - span
        if keepsSums {
            sum += value
            sumSquares += value * value
            while head < tail, entries[head & mask].time <= limit {
                let old = entries[head & mask].value
                sum -= old
                sumSquares -= old * old
                head += 1
            }
        } else {
            while head < tail, entries[head & mask].time <= limit { head += 1 }
        }
    }

    private mutating func grow() {
        let capacity = entries.count * 2
        var grown = [Entry](repeating: Entry(time: 0, value: 0), count: capacity)
        for index in head..<tail { grown[index & (capacity - 1)] = entries[index & mask] }
        entries = grown
        mask = capacity - 1
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
        let found = position(atOrAfter: time)
        return found < tail ? entries[found & mask].value : nil
    }

    /// The position of the oldest value at or after `time` (`tail` when none): a binary search.
    func position(atOrAfter time: Int64) -> Int {
        var low = head
        var high = tail
        while low < high {
            let mid = (low + high) / 2
            if entries[mid & mask].time < time { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The same as `position(atOrAfter:)`, walking forward from `hint` (an earlier answer for an
    /// earlier time) when that is cheaper: bar after bar the answer moves by a step or two.
    func position(atOrAfter time: Int64, hint: Int) -> Int {
        guard hint > head, hint <= tail, entries[(hint - 1) & mask].time < time else { return position(atOrAfter: time) }
        var index = hint
        while index < tail, entries[index & mask].time < time { index += 1 }
        return index
    }

    /// The value at `position` (between `head` and `tail`).
    func value(atPosition position: Int) -> Double { entries[position & mask].value }

    /// Maximum and minimum of the window (a scan: windows here are a few dozen bars).
    var extremes: (min: Double, max: Double)? {
        guard count > 0 else { return nil }
        var low = Double.infinity
        var high = -Double.infinity
        for index in head..<tail {
            low = min(low, entries[index & mask].value)
            high = max(high, entries[index & mask].value)
        }
        return (low, high)
    }
}

/// `SignalSeries.value(at:)` with its last answer kept together with the times it holds for:
/// a daily series read at every minute bar is searched once a day.
struct SeriesCursor {
    /// The answer holds for times in `from..<until`.
    private(set) var from = Int64.max
    private(set) var until = Int64.min
    private var value: Double?

    @inline(__always)
    mutating func value(of series: SignalSeries, at time: Int64) -> Double? {
        if time >= from && time < until { return value }
        return search(series, at: time)
    }

    /// The binary search behind `value(of:at:)`, kept out of line (once a day for a daily series).
    @inline(never)
    private mutating func search(_ series: SignalSeries, at time: Int64) -> Double? {
        // How many points are at or before `time`.
        let times = series.times
        var low = 0
        var high = times.count
        while low < high {
            let mid = (low + high) / 2
            if times[mid] <= time { low = mid + 1 } else { high = mid }
        }
        from = low == 0 ? Int64.min : times[low - 1]
        until = low == times.count ? Int64.max : times[low]
        value = low == 0 ? nil : series.values[low - 1]
        return value
    }
}

/// A change signal, `clamp((now ÷ then − 1) ÷ fullScale)` with `now` the series at `t` and
/// `then` at `t − window`, kept with the times it holds for: both readings are step functions,
/// so a daily series read at every minute bar is scored once a day.
struct ChangeSignal {
    private var now = SeriesCursor()
    private var then = SeriesCursor()
    private var from = Int64.max
    private var until = Int64.min
    private var score: Double?

    mutating func score(of series: SignalSeries, at time: Int64, window: Int64, fullScale: Double) -> Double? {
        score(of: series, at: time, window: window) { current, earlier in
            earlier > 0 ? clamp((current / earlier - 1) / fullScale) : nil
        }
    }

    /// The same with the score any function of the two readings (`now`, `then`), `nil` when
    /// either is missing.
    @inline(__always)
    mutating func score(
        of series: SignalSeries, at time: Int64, window: Int64, _ scoring: (Double, Double) -> Double?
    ) -> Double? {
        if time >= from && time < until { return score }
        let current = now.value(of: series, at: time)
        let earlier = then.value(of: series, at: time - window)
        if let current, let earlier {
            score = scoring(current, earlier)
        } else {
            score = nil
        }
        // Where both readings hold: `now` on `now.from..<now.until`, `then` on the same shifted
        // by the window (saturating at the ends of time).
        let shiftedFrom = then.from.addingReportingOverflow(window)
        let shiftedUntil = then.until.addingReportingOverflow(window)
        from = max(now.from, shiftedFrom.overflow ? Int64.max : shiftedFrom.partialValue)
        until = min(now.until, shiftedUntil.overflow ? Int64.max : shiftedUntil.partialValue)
        return score
    }
}

/// Computes the signals bar by bar from closes (in the kernel's `BarHistory`), funding and the
/// external series.
struct SignalEngine {
    let config: BotConfig.Signals
    private(set) var inputs: SignalInputs
    /// The funding-anomaly score of the last settlement (it changes only when one is observed).
    private var fundingScore: Double?
    // Divisors of the config, inverted once: the bar loop multiplies.
    private let inverseMomentumFullScale: Double
    private let inverseReversionZ: Double
    // The last answers with the times they hold for (each bar's lookups start from there).
    private var stakedChange = ChangeSignal()
    private var activityChange = ChangeSignal()
    private var sentimentNow = SeriesCursor()
    /// The exchange net flow summed from its first period: the flow over a window is the
    /// difference of two readings, so it is read like the change signals.
    private var cumulativeNetflow: SignalSeries?
    private var netflowChange = ChangeSignal()

    init(config: BotConfig.Signals, inputs: SignalInputs) {
        self.config = config
        self.inputs = inputs
        inverseMomentumFullScale = 1 / config.momentumFullScale
        inverseReversionZ = 1 / config.meanReversionZ
        cumulativeNetflow = inputs.exchangeNetflow.map(Self.cumulative)
    }

    /// A per-period series summed from its start (a non-finite value counts as no flow).
    static func cumulative(_ series: SignalSeries) -> SignalSeries {
        var total = 0.0
        var points: [(time: Int64, value: Double)] = []
        points.reserveCapacity(series.times.count)
        for (time, value) in zip(series.times, series.values) {
            if value.isFinite { total += value }
            points.append((time, total))
        }
        return SignalSeries(points)
    }

    /// Records a value of an external series published at `time` (paper trading).
    mutating func observe(_ signal: ExternalSignal, value: Double, at time: Int64) {
        // The cursors' cached answers may end where the new value begins: forget them.
        switch signal {
        case .staked:
            inputs.staked = Self.appending(inputs.staked, value, time)
            stakedChange = ChangeSignal()
        case .activity:
            inputs.activity = Self.appending(inputs.activity, value, time)
            activityChange = ChangeSignal()
        case .sentiment:
            inputs.sentiment = Self.appending(inputs.sentiment, value, time)
            sentimentNow = SeriesCursor()
        case .exchangeNetflow:
            // A later period adds to the running total; the same period again replaces its flow
            // (the total before it plus the new flow); an earlier one is refused by both series.
            inputs.exchangeNetflow = Self.appending(inputs.exchangeNetflow, value, time)
            var cumulative = cumulativeNetflow ?? SignalSeries([])
            let flow = value.isFinite ? value : 0
            let totals = cumulative.values
            let before = cumulative.times.last == time ? (totals.count >= 2 ? totals[totals.count - 2] : 0) : (totals.last ?? 0)
            cumulative.append(before + flow, at: time)
            cumulativeNetflow = cumulative
            netflowChange = ChangeSignal()
        }
    }

    private static func appending(_ series: SignalSeries?, _ value: Double, _ time: Int64) -> SignalSeries {
        var series = series ?? SignalSeries([])
        series.append(value, at: time)
        return series
    }

    /// Records a funding settlement, converted to its 8-hour equivalent.
    mutating func observe(funding rate: FundingRate) {
        let per8h = FundingMath.rescale(rate.rate, from: rate.interval, to: .hours(8))
        // Contrarian: crowded longs paying a lot → bearish.
        if per8h > config.fundingAnomalyPer8h {
            fundingScore = -1
        } else if per8h < -config.fundingAnomalyPer8h {
            fundingScore = 1
        } else {
            fundingScore = 0
        }
    }

    /// The scores at a bar's close; `closeRaw` is the raw fixed-point close as a `Double` (the
    /// price signals are scale-free: a return and a z-score).
    @inline(__always)
    mutating func scores(closeRaw close: Double, at time: Int64, history: inout BarHistory) -> SignalScores {
        var (scores, reversion) = scoresDeferringReversion(closeRaw: close, at: time, history: &history)
        if let reversion { finishReversion(&scores, reversion) }
        return scores
    }

    /// ``scores(closeRaw:at:history:)`` with the mean-reversion score left for later when it has
    /// one: `reversion` carries `close − mean` and the window's variance (> 0), and
    /// ``finishReversion(_:_:)`` sets the score from them. Until then the bar loop can ask
    /// ``BlendWeights/staysInside(_:_:reversion:)`` whether any value of it could open a trade,
    /// without a square root or a division.
    @inline(__always)
    mutating func scoresDeferringReversion(
        closeRaw close: Double, at time: Int64, history: inout BarHistory
    ) -> (scores: SignalScores, reversion: PendingReversion?) {
        var scores = SignalScores()
        // Momentum: the return since one window ago, scaled to ±1 at the full-scale return.
        if let then = history.momentumClose(atOrAfter: time - config.momentumWindow.windowMilliseconds), then > 0 {
            scores.momentum = clamp((close / then - 1) * inverseMomentumFullScale)
        }
        // Mean reversion: minus the z-score over the window, ±1 at ±z (with ten closes or more).
        var reversion: PendingReversion?
        let window = history.reversionDeviation(of: close)
        if window.count >= 10, let deviation = window.deviation {
            reversion = PendingReversion(deviation: deviation, variance: window.variance, inverseZ: inverseReversionZ)
        }
        // Funding anomaly, contrarian (scored when the rate was observed).
        scores.funding = fundingScore
        // Staked NMR: a drop of `stakeDrop` over the window scores −1 (spec §4), a rise as much +1.
        if let staked = inputs.staked {
            scores.staked = stakedChange.score(
                of: staked, at: time, window: config.stakeWindow.windowMilliseconds, fullScale: config.stakeDrop)
        }
        if let activity = inputs.activity {
            scores.activity = activityChange.score(
                of: activity, at: time, window: config.activityWindow.windowMilliseconds, fullScale: config.activityChange)
        }
        if let sentiment = inputs.sentiment, let value = sentimentNow.value(of: sentiment, at: time) {
            scores.sentiment = clamp(value)
        }
        // Exchange flow: NMR onto exchanges over the window (selling pressure) scores down, a
        // net outflow up, ±1 at `exchangeFlowFullScale` NMR.
        if let cumulative = cumulativeNetflow {
            let inverse = 1 / config.exchangeFlowFullScale
            scores.exchangeFlow = netflowChange.score(
                of: cumulative, at: time, window: config.exchangeFlowWindow.windowMilliseconds
            ) { now, then in clamp(-(now - then) * inverse) }
        }
        return (scores, reversion)
    }

    /// Sets the mean-reversion score, `clamp(−((close − mean) ÷ σ) ÷ z)`, from its pieces.
    @inline(__always)
    func finishReversion(_ scores: inout SignalScores, _ reversion: PendingReversion) {
        scores.meanReversion = clamp(-(reversion.deviation / reversion.variance.squareRoot()) * reversion.inverseZ)
    }
}

/// The mean-reversion score before its square root and division (see
/// ``SignalEngine/scoresDeferringReversion(closeRaw:at:history:)``): the score is
/// `clamp(−(deviation ÷ √variance) × inverseZ)`, always finite (a positive variance, raw prices
/// far below `Double`'s range), so it is `clamp(x)` with `x = u ÷ √variance`, `u = −deviation ×
/// inverseZ`.
struct PendingReversion {
    /// `close − mean` over the window.
    var deviation: Double
    /// The window's sample variance, > 0.
    var variance: Double
    /// `1 ÷ meanReversionZ`.
    var inverseZ: Double
}

@inline(__always)
func clamp(_ value: Double) -> Double { value.isFinite ? min(1, max(-1, value)) : 0 }
