import PerpModel
import PerpSimulation

/// One input of a paper-trading session, in the order the shell received it. The session's
/// whole state (account, kernel, journal, record) is a function of this sequence, so the shell
/// stores the events and a restart replays them (reliability.md "State and restarts": recovery
/// is the same path as start-up).
public enum PaperEvent: Sendable, Equatable {
    /// A closed bar from the venue, as received (it is checked before anything trades on it).
    case bar(Candle)
    /// A funding settlement, with the mark price it settled at when the venue gives one.
    case funding(FundingRate, mark: Price?)
    /// The shell's view of the feed: catching up on past bars or silent (`false`), or live.
    case feed(live: Bool, at: Timestamp, reason: String)
    /// A row the shell could not read (a NaN price, a malformed kline).
    case badData(reason: String, at: Timestamp)
    /// A value of an external series (staked NMR from Numerai, a signals file's new line).
    case signal(ExternalSignal, value: Double, at: Timestamp)
    /// The venue answered 200 with something that is not what the endpoint returns; the shell
    /// retried. `reason` names the endpoint and a sanitized excerpt of the body.
    case badResponse(reason: String, at: Timestamp)
    /// The venue's bars resumed after a gap: no bar opened at `first`, …, `last` (every
    /// interval between them); `at` is the open time of the bar that resumed.
    case missingBars(first: Timestamp, last: Timestamp, at: Timestamp)
}

/// The paper-trading record that spec §4 requires before live trading ("30 days of paper
/// trading on live data"): only bars processed while the feed was live count, so catch-up after
/// a restart and time the tool was down do not.
public struct PaperRecord: Sendable, Equatable {
    /// Days the record requires (spec §4).
    public static let requiredDays = 30

    public var startingEquity: Notional
    /// Bars processed while the feed was live.
    public var liveBars = 0
    public var firstLiveBar: Timestamp?
    public var lastBar: Timestamp?
    public var peakEquity: Notional
    /// The largest fall from a peak, as a fraction of that peak.
    public var maxDrawdown = 0.0
    public var badData = 0
    public var staleEpisodes = 0
    /// Equity at the last bar of each UTC day (for daily returns), oldest first.
    public var dailyEquity: [(day: Int64, equity: Notional)] = []

    public init(startingEquity: Notional) {
        self.startingEquity = startingEquity
        self.peakEquity = startingEquity
    }

    /// Live time covered, in days.
    public func liveDays(interval: TimeSpan) -> Double {
        Double(liveBars) * Double(interval.milliseconds) / 86_400_000
    }

    /// Whether the record covers the 30 days spec §4 asks for.
    public func isComplete(interval: TimeSpan) -> Bool {
        Int64(liveBars) * interval.milliseconds >= Int64(Self.requiredDays) * 86_400_000
    }

    /// Takes one bar the session traded on, with the account's equity at its close: live bars
    /// count toward the days; the peak, the drawdown from it and the day's closing equity move.
    public mutating func observe(bar candle: Candle, equity: Notional, live: Bool, closeTime: Timestamp) {
        if live {
            liveBars += 1
            if firstLiveBar == nil { firstLiveBar = candle.openTime }
        }
        lastBar = candle.openTime
        if equity > peakEquity { peakEquity = equity }
        if peakEquity.isPositive {
            let drawdown = 1 - equity.doubleValue / peakEquity.doubleValue
            if drawdown > maxDrawdown { maxDrawdown = drawdown }
        }
        let day = closeTime.milliseconds / 86_400_000
        if let last = dailyEquity.last, last.day == day {
            dailyEquity[dailyEquity.count - 1].equity = equity
        } else {
            dailyEquity.append((day, equity))
        }
    }

    public static func == (lhs: PaperRecord, rhs: PaperRecord) -> Bool {
        lhs.startingEquity == rhs.startingEquity && lhs.liveBars == rhs.liveBars && lhs.firstLiveBar == rhs.firstLiveBar
            && lhs.lastBar == rhs.lastBar && lhs.peakEquity == rhs.peakEquity && lhs.maxDrawdown == rhs.maxDrawdown
            && lhs.badData == rhs.badData && lhs.staleEpisodes == rhs.staleEpisodes
            && lhs.dailyEquity.map(\.day) == rhs.dailyEquity.map(\.day) && lhs.dailyEquity.map(\.equity) == rhs.dailyEquity.map(\.equity)
    }
}

/// Paper trading's core: the backtest's simulated venue and the bot's kernel, fed one
/// ``PaperEvent`` at a time (house style: paper trading is the simulated venue fed by live
/// data, never an `if paper` branch). Pure and deterministic: the same events give the same
/// account, journal and record, which is what makes restarts exact.
///
/// Bars are checked before the venue sees them: a bar not after the last one (duplicate or out
/// of order), or with a non-positive price or its high below its low, is journalled as bad data
/// and neither fills orders nor moves the kernel (reliability.md "Market data").
public struct PaperSession: Sendable {
    public let interval: TimeSpan
    public private(set) var venue: Backtester<BotStrategy>
    public private(set) var record: PaperRecord
    public private(set) var lastBar: Candle?
    /// Settlements received but not yet due (they settle at the first bar that opens at or after
    /// them; a late one at the next bar).
    private var pendingFunding: [(rate: FundingRate, mark: Price?)] = []
    public private(set) var lastFundingTime: Timestamp?
    /// The time of the last value of each external series.
    public private(set) var lastSignalTimes: [ExternalSignal: Timestamp] = [:]
    private var live = true
    /// Journal rows already handed out.
    private var journalShown = 0

    public init(
        config: BotConfig, venue venueConfig: VenueConfig, capital: Notional, interval: TimeSpan, inputs: SignalInputs = SignalInputs()
    ) {
        self.interval = interval
        let kernel = TradingKernel(config: config, inputs: inputs, barInterval: interval, lotSize: venueConfig.lotSize)
        var configuration = venueConfig
        configuration.recordEquity = false
        configuration.closeAtEnd = false
        venue = Backtester(strategy: BotStrategy(kernel: kernel), config: configuration, initialCapital: capital)
        venue.barInterval = interval
        record = PaperRecord(startingEquity: capital)
    }

    /// The kernel's risk state.
    public var riskState: RiskState { venue.strategy.kernel.state }
    /// The whole journal so far.
    public var journal: [JournalEntry] { venue.strategy.journal }
    public var account: AccountSnapshot { venue.snapshot }
    public var isLive: Bool { live }

    /// Applies one event and returns the journal rows it produced.
    public mutating func apply(_ event: PaperEvent) -> [JournalEntry] {
        switch event {
        case .bar(let candle):
            onBar(candle)
        case .funding(let rate, let mark):
            if let last = lastFundingTime, rate.time <= last {
                venue.strategy.handle(
                    .badData(reason: "funding settlement at \(rate.time.iso8601) repeats or precedes the last one", at: rate.time))
                record.badData += 1
            } else {
                lastFundingTime = rate.time
                pendingFunding.append((rate, mark))
                venue.strategy.observe(fundingRate: rate)
            }
        case .feed(let isLive, let time, let reason):
            if live && !isLive { record.staleEpisodes += 1 }
            live = isLive
            venue.strategy.handle(.feed(live: isLive, at: time, reason: reason))
        case .badData(let reason, let time):
            record.badData += 1
            venue.strategy.handle(.badData(reason: reason, at: time))
        case .signal(let signal, let value, let time):
            if let last = lastSignalTimes[signal], time < last {
                record.badData += 1
                venue.strategy.handle(.badData(reason: "\(signal.rawValue) value at \(time.iso8601) precedes the last one", at: time))
            } else {
                lastSignalTimes[signal] = time
                venue.strategy.handle(.signal(signal, value: value, at: time))
            }
        case .badResponse(let reason, let time):
            venue.strategy.handle(.venueTrouble(.badResponse, reason: reason, at: time))
        case .missingBars(let first, let last, let time):
            let count = (last.milliseconds - first.milliseconds) / interval.milliseconds + 1
            let span = count == 1 ? "at \(first.iso8601)" : "from \(first.iso8601) to \(last.iso8601)"
            venue.strategy.handle(
                .venueTrouble(
                    .missingBars,
                    reason: "the venue has no \(interval) \(count == 1 ? "bar" : "bars") \(span) (\(count) missing); not bridged",
                    at: time))
        }
        let journal = venue.strategy.journal
        defer { journalShown = journal.count }
        return journalShown < journal.count ? Array(journal[journalShown...]) : []
    }

    private mutating func onBar(_ candle: Candle) {
        let closeTime = candle.openTime + interval
        if let last = lastBar, candle.openTime <= last.openTime {
            record.badData += 1
            venue.strategy.handle(
                .badData(
                    reason: candle.openTime == last.openTime
                        ? "duplicate bar at \(candle.openTime.iso8601)" : "bar at \(candle.openTime.iso8601) is older than the last one",
                    at: closeTime))
            return
        }
        guard candle.open.isPositive, candle.high.isPositive, candle.low.isPositive, candle.close.isPositive, candle.high >= candle.low,
            candle.open <= candle.high, candle.open >= candle.low, candle.close <= candle.high, candle.close >= candle.low
        else {
            record.badData += 1
            venue.strategy.handle(
                .badData(
                    reason:
                        "bar at \(candle.openTime.iso8601) is inconsistent (open \(candle.open), high \(candle.high), low \(candle.low), close \(candle.close))",
                    at: closeTime))
            return
        }
        let due = pendingFunding.filter { $0.rate.isDue(atBarOpening: candle.openTime) }.map {
            (rate: $0.rate, mark: $0.mark ?? candle.open)
        }
        guard venue.carries(candle, funding: due) else {
            // Settlements stay pending: they are paid at the next bar that can be carried.
            record.badData += 1
            venue.strategy.handle(
                .badData(
                    reason:
                        "bar at \(candle.openTime.iso8601) reaches \(candle.high): the open position would be worth more than \(AmountLimit.notional) USDC; skipped",
                    at: closeTime))
            return
        }
        pendingFunding.removeAll { $0.rate.isDue(atBarOpening: candle.openTime) }
        venue.step(candle, funding: due)
        lastBar = candle
        record.observe(bar: candle, equity: venue.snapshot.equity, live: live, closeTime: closeTime)
    }
}
