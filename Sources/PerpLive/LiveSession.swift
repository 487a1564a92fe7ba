import PerpEngine
import PerpExecution
import PerpModel
import PerpSimulation
import PerpStore

/// What one input produced: the journal rows to store with it, and the venue actions to carry
/// out *after* storing it (send, look up, cancel, take a snapshot).
public struct LiveStep: Sendable {
    public var journal: [LiveJournalRow] = []
    public var actions: [ExecutionAction] = []
}

/// A live session's state: the trading kernel (signals, risk rules, journal) and the execution
/// engine (orders, fills, position, reconciliation), fed the same inputs in the same order.
/// No clock, no I/O: a restart replays the stored inputs through a fresh `LiveSession` and gets
/// the same orders back (decision 0012). The kernel sizes what the configuration would trade;
/// the engine sends `sizeFraction` of it (spec §4).
public struct LiveSession: Sendable {
    public private(set) var kernel: TradingKernel
    public private(set) var engine: ExecutionEngine
    public let interval: TimeSpan
    public private(set) var lastBar: Candle?
    public private(set) var feedLive = true
    /// Bars seen, and how many of them live.
    public private(set) var bars = 0
    public private(set) var liveBars = 0
    public private(set) var badData = 0
    /// The record spec §4 asks of paper trading (live bars, drawdown, daily equity), kept the
    /// same way for every session; its starting equity is the first bar's (``equity(at:)``).
    public private(set) var record = PaperRecord(startingEquity: .zero)
    private var recordStarted = false
    /// Entries the kernel made.
    public private(set) var entries = 0
    /// The last funding settlement and the last value of each external series.
    public private(set) var lastFundingTime: Timestamp?
    public private(set) var lastSignalTimes: [ExternalSignal: Timestamp] = [:]
    /// The calendar events the kernel has been given (each once).
    public private(set) var knownEvents: Set<CalendarEvent> = []
    /// How deep fills → kernel → commands → fills may chain inside one input (each level is a
    /// fill the kernel answers with a cancel; two is the most a real input needs).
    static let maximumChain = 8

    public init(kernel: TradingKernel, settings: ExecutionSettings, interval: TimeSpan) {
        self.kernel = kernel
        self.engine = ExecutionEngine(settings: settings)
        self.interval = interval
    }

    /// The account equity the kernel sizes from: the venue's wallet balance plus the open
    /// position's unrealised PnL at `price` (Binance "margin balance"; USD-M docs, account
    /// information). Zero until the venue has reported a balance: nothing is sized from a guess.
    public func equity(at price: Price) -> Notional {
        guard let wallet = engine.balance?.wallet else { return .zero }
        guard !engine.position.isZero, let entry = engine.averageEntry else { return wallet }
        // Prices are within the carry limit (bars beyond it are refused), so the difference fits.
        let move = Price(raw: price.raw &- entry.raw)
        guard let unrealised = try? move.times(engine.position, rule: .toNearestOrEven, "unrealised PnL"),
            let total = try? wallet.adding(unrealised, "equity")
        else { return wallet }
        return total
    }

    public mutating func apply(_ input: LiveInput) -> LiveStep {
        var step = LiveStep()
        switch input {
        case .bar(let candle, let live):
            onBar(candle, live: live, step: &step)
        case .fundingRate(let rate):
            if let last = lastFundingTime, rate.time <= last {
                noteBadData("funding settlement at \(rate.time.iso8601) repeats or precedes the last one", at: rate.time, step: &step)
            } else {
                lastFundingTime = rate.time
                handleKernel(kernel.handle(.fundingRate(rate)), at: rate.time, step: &step, depth: 0)
            }
        case .feed(let live, let at, let reason):
            setFeed(live: live, at: at, reason: reason, step: &step)
        case .badData(let reason, let at):
            noteBadData(reason, at: at, step: &step)
        case .signal(let signal, let value, let at):
            if let last = lastSignalTimes[signal], at < last {
                noteBadData("\(signal.rawValue) value at \(at.iso8601) precedes the last one", at: at, step: &step)
            } else {
                lastSignalTimes[signal] = at
                handleKernel(kernel.handle(.signal(signal, value: value, at: at)), at: at, step: &step, depth: 0)
            }
        case .calendar(let event, let at):
            if knownEvents.insert(event).inserted {
                handleKernel(kernel.handle(.calendar(event, at: at)), at: at, step: &step, depth: 0)
            }
        case .badResponse(let reason, let at):
            handleKernel(kernel.handle(.venueTrouble(.badResponse, reason: reason, at: at)), at: at, step: &step, depth: 0)
        case .missingBars(let first, let last, let at):
            let count = (last.milliseconds - first.milliseconds) / max(1, interval.milliseconds) + 1
            let span = count == 1 ? "at \(first.iso8601)" : "from \(first.iso8601) to \(last.iso8601)"
            let reason = "the venue has no \(interval) \(count == 1 ? "bar" : "bars") \(span) (\(count) missing); not bridged"
            handleKernel(kernel.handle(.venueTrouble(.missingBars, reason: reason, at: at)), at: at, step: &step, depth: 0)
        case .execution(.stop(let flatten, let reason, let at)):
            // The kernel journals the kill switch and stops deciding; the engine carries it out
            // (its own flatten, so the kernel's close command is not sent twice).
            let commands = kernel.handle(.kill(reason: reason, at: at))
            for case .journal(let entry) in commands { step.journal.append(Self.row(entry)) }
            handleEngine(engine.handle(.stop(flatten: flatten, reason: reason, at: at)), at: at, step: &step, depth: 0)
        case .execution(.restarted(let at)):
            // A new run is the operator starting the session again: a kill switch's `reducing`
            // ends (the engine's own halt is re-decided by reconciliation).
            if kernel.state == .reducing {
                handleKernel(kernel.handle(.resume(reason: "a new live run", at: at)), at: at, step: &step, depth: 0)
            }
            handleEngine(engine.handle(.restarted(at: at)), at: at, step: &step, depth: 0)
        case .execution(let execution):
            handleEngine(engine.handle(execution), at: LiveInputCodec.time(of: execution), step: &step, depth: 0)
        }
        return step
    }

    /// Bad data is journalled by the kernel (never traded on) and counted in the record.
    private mutating func noteBadData(_ reason: String, at time: Timestamp, step: inout LiveStep) {
        badData += 1
        record.badData += 1
        handleKernel(kernel.handle(.badData(reason: reason, at: time)), at: time, step: &step, depth: 0)
    }

    /// The feed going quiet or coming back: the kernel opens nothing while it is not live; each
    /// fall from live is a stale episode of the record.
    private mutating func setFeed(live: Bool, at time: Timestamp, reason: String, step: inout LiveStep) {
        guard live != feedLive else { return }
        if feedLive && !live { record.staleEpisodes += 1 }
        feedLive = live
        handleKernel(kernel.handle(.feed(live: live, at: time, reason: reason)), at: time, step: &step, depth: 0)
    }

    private mutating func onBar(_ candle: Candle, live: Bool, step: inout LiveStep) {
        let closeTime = candle.openTime + interval
        if let last = lastBar, candle.openTime <= last.openTime {
            let reason =
                candle.openTime == last.openTime
                ? "duplicate bar at \(candle.openTime.iso8601)" : "bar at \(candle.openTime.iso8601) is older than the last one"
            noteBadData(reason, at: closeTime, step: &step)
            return
        }
        guard candle.open.isPositive, candle.high.isPositive, candle.low.isPositive, candle.close.isPositive, candle.high >= candle.low,
            candle.open <= candle.high, candle.open >= candle.low, candle.close <= candle.high, candle.close >= candle.low,
            candle.high.isWithin(CarryLimit.price)
        else {
            let reason =
                "bar at \(candle.openTime.iso8601) is inconsistent or beyond the price limit (open \(candle.open), high \(candle.high), low \(candle.low), close \(candle.close)); not traded on"
            noteBadData(reason, at: closeTime, step: &step)
            return
        }
        if live != feedLive {
            let reason =
                live
                ? "bar at \(candle.openTime.iso8601) is current"
                : "catching up on bars that closed before now (from \(candle.openTime.iso8601))"
            setFeed(live: live, at: closeTime, reason: reason, step: &step)
        }
        lastBar = candle
        bars += 1
        if live { liveBars += 1 }
        let commands = kernel.handle(.bar(candle, equity: equity(at: candle.close), position: engine.position))
        handleKernel(commands, at: closeTime, step: &step, depth: 0)
        // The record takes the equity after the bar's orders (fills of a simulated venue are
        // already in; a real venue's arrive with the next inputs).
        if engine.balance != nil {
            let equity = equity(at: candle.close)
            if !recordStarted {
                recordStarted = true
                record.startingEquity = equity
                record.peakEquity = equity
            }
            record.observe(bar: candle, equity: equity, live: live, closeTime: closeTime)
        }
    }

    /// Journal rows go to the step; order commands go to the engine at the last close.
    private mutating func handleKernel(_ commands: [KernelCommand], at time: Timestamp, step: inout LiveStep, depth: Int) {
        var orders: [KernelCommand] = []
        for command in commands {
            if case .journal(let entry) = command {
                if entry.event == .entry { entries += 1 }
                step.journal.append(Self.row(entry))
            } else {
                orders.append(command)
            }
        }
        guard !orders.isEmpty else { return }
        guard let price = lastBar?.close else {
            step.journal.append(
                Self.note(time: time, kind: "refused", clientID: nil, text: "the kernel asked for orders before any bar: nothing sent"))
            return
        }
        handleEngine(engine.handle(.commands(orders, at: time, price: price)), at: time, step: &step, depth: depth)
    }

    /// Fills go back to the kernel; notes to the journal; venue actions to the step.
    private mutating func handleEngine(_ actions: [ExecutionAction], at time: Timestamp, step: inout LiveStep, depth: Int) {
        for action in actions {
            switch action {
            case .kernelFills(let fills):
                guard depth < Self.maximumChain else {
                    step.journal.append(
                        Self.note(
                            time: time, kind: "refused", clientID: nil, text: "fills chained beyond \(Self.maximumChain) levels; stopped"))
                    continue
                }
                handleKernel(kernel.handle(.fills(fills)), at: time, step: &step, depth: depth + 1)
            case .note(let note):
                step.journal.append(Self.note(time: note.time, kind: note.kind.rawValue, clientID: note.clientID, text: note.text))
            default:
                step.actions.append(action)
            }
        }
    }

    static func row(_ entry: JournalEntry) -> LiveJournalRow {
        LiveJournalRow(time: entry.time, event: entry.event.rawValue, line: entry.json.serialized(pretty: false))
    }

    /// An execution note as a journal line: `event` is `order` for an order's life and
    /// `execution` for the rest (reconciliation, halts, refusals), `kind` the note's kind.
    static func note(time: Timestamp, kind: String, clientID: String?, text: String) -> LiveJournalRow {
        let orderKinds: Set<String> = [
            "sent", "accepted", "filled", "cancelled", "rejected", "expired", "unknown_outcome", "adopted", "never_sent", "resent",
        ]
        let event = orderKinds.contains(kind) ? "order" : "execution"
        let line = JSONValue.object([
            ("time", .string(time.iso8601)), ("event", .string(event)), ("kind", .string(kind)),
            ("client_id", clientID.map { .string($0) } ?? .null), ("reason", .string(text)),
        ]).serialized(pretty: false)
        return LiveJournalRow(time: time, event: event, line: line)
    }
}
