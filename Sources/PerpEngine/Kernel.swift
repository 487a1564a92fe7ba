import PerpModel
import PerpSimulation

/// The risk state machine (reliability.md "Risk states"): `active` trades; `reducing` only
/// shrinks exposure; `halted` opens nothing until `until` (the circuit breaker's cooldown).
public enum RiskState: Sendable, Equatable {
    case active
    case reducing
    case halted(until: Timestamp)

    public var name: String {
        switch self {
        case .active: return "active"
        case .reducing: return "reducing"
        case .halted: return "halted"
        }
    }
}

/// The leverage and exposure caps in force, and the volatility that chose them.
public struct CapsRegime: Sendable, Equatable {
    public var highVolatility: Bool
    /// The recent bars' volatility, annualised (a fraction: 1.5 is 150 %).
    public var annualVolatility: Double
    public var leverage: Rate
    public var exposure: Rate
}

/// What the kernel is told.
public enum KernelEvent: Sendable {
    /// A closed bar, with the account as it stands at its close.
    case bar(Candle, equity: Notional, position: Quantity)
    /// Executions since the last event (the kernel's own orders, stops, targets, liquidations).
    case fills([FillRecord])
    /// Funding settled since the last event.
    case funding([FundingRecord])
    /// A funding rate published by the venue (feeds the funding-anomaly signal).
    case fundingRate(FundingRate)
    /// The operator's kill switch.
    case kill(reason: String, at: Timestamp)
    /// The operator started the session again after a kill switch (live trading: a new `live
    /// run` after `live stop`): `reducing` becomes `active`. Nothing else changes.
    case resume(reason: String, at: Timestamp)
    /// The shell's view of a live feed (paper trading): `live: false` while it catches up on
    /// bars that closed before now (start-up, restart) or while the feed is silent; the kernel
    /// still observes those bars (signals, exits) but opens nothing until `live: true`.
    case feed(live: Bool, at: Timestamp, reason: String)
    /// Data the shell could not read (a NaN price, a malformed row): journalled, never traded
    /// on (reliability.md "Market data").
    case badData(reason: String, at: Timestamp)
    /// A value of an external series published at `at` (paper trading: a stake read from
    /// Numerai, a new line in a signals file).
    case signal(ExternalSignal, value: Double, at: Timestamp)
    /// An event for the calendar, learnt at `at` (paper and live: a new row of the signals
    /// folder's `calendar.csv`); its blackout window applies from then on.
    case calendar(CalendarEvent, at: Timestamp)
    /// Venue trouble the shell rode out (``JournalEvent/badResponse``,
    /// ``JournalEvent/missingBars``): journalled, changes nothing the kernel decides.
    case venueTrouble(JournalEvent, reason: String, at: Timestamp)
}

/// What the kernel asks for. The shell (backtest or paper) carries these out.
public enum KernelCommand: Sendable, Equatable {
    /// A market entry with its exit plan fixed before entry: a reduce-only stop and target.
    case open(side: Side, quantity: Quantity, stop: Price, target: Price)
    /// Close everything and cancel the exit orders; the fill and the trade carry `reason`
    /// (``FillReason/timeExit``, ``FillReason/circuitBreaker`` or ``FillReason/killSwitch``).
    case close(reason: FillReason)
    /// Cancel resting orders (after a stop or target filled).
    case cancelOrders
    case journal(JournalEntry)
}

/// The deterministic trading kernel (house style: `handle(event) -> [command]`): signals,
/// blending, risk rules and the journal. No clock, no I/O: the same kernel runs in backtests
/// and in paper trading.
public struct TradingKernel: Sendable {
    public let config: BotConfig
    /// Size step of orders; sizes round toward zero (never past a cap).
    public let lotSize: Quantity
    public let barInterval: TimeSpan
    public private(set) var state: RiskState = .active
    /// A learned model that scores direction and conviction in place of the blended signals
    /// (spec §4); `nil`: the rules alone. Every risk rule and the sizing apply unchanged.
    public var model: (any DirectionModel)? {
        didSet { hasModel = model != nil }
    }
    /// `model != nil`, kept apart: reading the optional existential on every bar copies it.
    private var hasModel = false
    /// Opt-in (reports): when `true`, every bar on which the kernel scores the signals (good
    /// data, no circuit-breaker trip on the bar, no position open; halted or quiet bars included) appends its open time and the blended score
    /// (or the model's `2p − 1`) to ``scoreRecord``. Off by default: the backtester pays nothing.
    public var recordsScores = false
    /// The scores recorded while ``recordsScores`` was on, in bar order.
    public private(set) var scoreRecord = ScoreRecord()

    private var signals: SignalEngine
    private let blend: BlendWeights
    /// The recent bars: volatility, the circuit breaker's reference, the price signals' windows.
    private var history: BarHistory
    // Per-bar constants.
    private let priceScale = Double(Price.scale)
    private let circuitLimit: Double
    /// The most frequent refusal's reason, written once.
    private let quietHoursReason: String
    /// No entries in these (``BotConfig/Calendar``).
    private var blackouts: BlackoutWindows
    /// Bounds on high ÷ reference and low ÷ reference well inside the circuit limit (by 1e-9
    /// relative, far beyond the rounding of the exact test): a bar inside them cannot trip it.
    private let circuitUpperFactor: Double
    private let circuitLowerFactor: Double
    private var lastBarTime: Int64?
    /// `false` while a live shell says the feed is catching up or silent.
    private var feedLive = true
    // The open position as the kernel planned it.
    private var side: Side?
    private var entryPrice: Price?
    private var entryTime: Timestamp?
    private var pendingEntry:
        (side: Side, stop: Price, target: Price, leverage: Rate, signals: JournalSignals, reason: String, decided: Timestamp)?
    /// The side of a position the kernel decided to close (time exit, circuit breaker, kill
    /// switch): its closing fills are journalled as `exit` rows with their P&L, as a stop's or a
    /// target's are, so a journal's trades, wins and net P&L count every close.
    private var closingSide: Side?
    /// ``BotConfig/problems()`` of `config`: a kernel made with a configuration that has any
    /// (built in code, not loaded through a checked file) observes bars but opens nothing, and
    /// says so once in the journal, so no setting the checks refuse reaches the sizing.
    private let configProblems: [String]
    private var configProblemsJournalled = false

    public init(config: BotConfig, inputs: SignalInputs = SignalInputs(), barInterval: TimeSpan, lotSize: Quantity = Quantity("0.01")!) {
        self.config = config
        self.barInterval = barInterval
        self.lotSize = lotSize
        configProblems = config.problems()
        signals = SignalEngine(config: config.signals, inputs: inputs)
        blend = BlendWeights(config.weights)
        history = BarHistory(
            circuitWindow: config.risk.circuitWindow, volatilityWindow: config.risk.volatilityWindow,
            meanReversionWindow: config.signals.meanReversionWindow, momentumWindow: config.signals.momentumWindow)
        circuitLimit = config.risk.circuitMove.doubleValue
        quietHoursReason = "quiet hours \(config.risk.quietStartHour):00–\(config.risk.quietEndHour):00 UTC"
        blackouts = BlackoutWindows(events: inputs.calendar, config: config.calendar)
        circuitUpperFactor = (1 + circuitLimit) * (1 - 1e-9)
        circuitLowerFactor = (1 - circuitLimit) * (1 + 1e-9)
    }

    /// Handles one event and returns what to do, journal rows included.
    public mutating func handle(_ event: KernelEvent) -> [KernelCommand] {
        switch event {
        case .bar(let candle, let equity, let position):
            // A bar's journal rows always come before its actions.
            var rows: [JournalEntry] = []
            var actions: [KernelCommand] = []
            onBar(candle, equity: { equity }, position: position, journal: &rows, actions: &actions)
            return rows.map { .journal($0) } + actions
        case .fills(let fills):
            return onFills(fills)
        case .funding(let records):
            var rows: [JournalEntry] = []
            journalFunding(records, into: &rows)
            return rows.map { .journal($0) }
        case .fundingRate(let rate):
            signals.observe(funding: rate)
            return []
        case .kill(let reason, let time):
            state = .reducing
            var commands: [KernelCommand] = [
                .journal(JournalEntry(time: time, event: .stateChange, reason: "kill switch: \(reason); reducing only"))
            ]
            // Close whatever the venue holds, even an entry whose fill the kernel has not seen yet.
            commands.append(.close(reason: .killSwitch))
            closingSide = side ?? closingSide
            clearPosition()
            pendingEntry = nil
            return commands
        case .resume(let reason, let time):
            guard state == .reducing else { return [] }
            state = .active
            return [.journal(JournalEntry(time: time, event: .stateChange, reason: "resumed: \(reason); trading again"))]
        case .feed(let live, let time, let reason):
            guard live != feedLive else { return [] }
            feedLive = live
            return [
                .journal(
                    JournalEntry(
                        time: time, event: live ? .stateChange : .staleFeed,
                        reason: live ? "feed live: \(reason); entries allowed" : "\(reason); no entries until the feed is live"))
            ]
        case .badData(let reason, let time):
            return [.journal(JournalEntry(time: time, event: .badData, reason: reason))]
        case .venueTrouble(let event, let reason, let time):
            return [.journal(JournalEntry(time: time, event: event, reason: reason))]
        case .signal(let signal, let value, let time):
            guard value.isFinite else {
                return [.journal(JournalEntry(time: time, event: .badData, reason: "\(signal.rawValue) value \(value) is not a number"))]
            }
            signals.observe(signal, value: value, at: time.milliseconds)
            return []
        case .calendar(let event, _):
            blackouts.add(event)
            return []
        }
    }

    /// A journal row for each funding payment.
    func journalFunding(_ records: [FundingRecord], into journal: inout [JournalEntry]) {
        for record in records {
            journal.append(
                JournalEntry(
                    time: record.time, event: .funding, side: record.position.isPositive ? .long : .short, price: record.mark,
                    quantity: record.position.magnitude, reasonText: .fundingSettled(record.rate), funding: record.payment))
        }
    }

    // MARK: Fills

    private mutating func onFills(_ fills: [FillRecord]) -> [KernelCommand] {
        var commands: [KernelCommand] = []
        for fill in fills {
            if let pending = pendingEntry, side == nil, fill.reason == .signal, fill.side == pending.side {
                // Our entry executed.
                side = pending.side
                entryPrice = fill.price
                // Market entries execute at the close of the bar that decided them.
                entryTime = pending.decided
                commands.append(
                    .journal(
                        JournalEntry(
                            time: pending.decided, event: .entry, side: pending.side, price: fill.price, quantity: fill.quantity,
                            leverage: pending.leverage,
                            reasonText: .text(pending.reason), signalValues: pending.signals, fee: fill.fee,
                            note: "stop \(pending.stop), target \(pending.target) fixed at entry")))
                pendingEntry = nil
                closingSide = nil
                continue
            }
            if side == nil, let closing = closingSide, fill.side != closing,
                fill.reason == .timeExit || fill.reason == .circuitBreaker || fill.reason == .killSwitch
            {
                commands.append(
                    .journal(
                        JournalEntry(
                            time: fill.time, event: .exit, side: closing, price: fill.price, quantity: fill.quantity,
                            reason: "closed: \(fill.reason.rawValue)", fee: fill.fee, pnl: fill.realizedPnL)))
                continue
            }
            guard let held = side, fill.side != held else { continue }
            let event: JournalEvent
            let reason: String
            switch fill.reason {
            case .stop:
                event = .stop
                reason = "stop loss \(config.risk.stopLoss) from entry"
            case .target:
                event = .target
                reason = "take profit \(config.risk.takeProfit) from entry"
            case .liquidation:
                event = .liquidation
                reason = "liquidated by the venue"
            default:
                event = .exit
                reason = "closed"
            }
            if event != .exit {
                commands.append(
                    .journal(
                        JournalEntry(
                            time: fill.time, event: event, side: held, price: fill.price, quantity: fill.quantity, reason: reason,
                            fee: fill.fee, pnl: fill.realizedPnL)))
                commands.append(.cancelOrders)
            } else {
                commands.append(
                    .journal(
                        JournalEntry(
                            time: fill.time, event: .exit, side: held, price: fill.price, quantity: fill.quantity, reason: reason,
                            fee: fill.fee, pnl: fill.realizedPnL)))
            }
            clearPosition()
        }
        return commands
    }

    private mutating func clearPosition() {
        side = nil
        entryPrice = nil
        entryTime = nil
    }

    // MARK: Bars

    /// The shell's fast path for a bar: as `handle(.bar(…))`, with the equity computed only when
    /// an entry is sized (most bars never need it), the journal rows appended straight to the
    /// caller's journal and the actions (open, close, cancel) to `actions`; a bar's rows always
    /// come before its actions.
    @inline(__always)
    mutating func handleBar(
        _ bar: Candle, equity: () -> Notional, position: Quantity, journal: inout [JournalEntry], actions: inout [KernelCommand]
    ) {
        onBar(bar, equity: equity, position: position, journal: &journal, actions: &actions)
    }

    private mutating func onBar(
        _ bar: Candle, equity equityAtClose: () -> Notional, position: Quantity, journal: inout [JournalEntry],
        actions: inout [KernelCommand]
    ) {
        let time = bar.openTime
        let decisionTime = bar.openTime + barInterval
        // Bad data: never trade on it, write it down, keep running.
        if let last = lastBarTime, time.milliseconds <= last {
            journal.append(
                JournalEntry(
                    time: decisionTime, event: .badData,
                    reason: time.milliseconds == last
                        ? "duplicate bar at \(time.iso8601)" : "bar at \(time.iso8601) is older than the last one"))
            return
        }
        guard bar.open.isPositive, bar.high.isPositive, bar.low.isPositive, bar.close.isPositive, bar.high >= bar.low else {
            journal.append(
                JournalEntry(
                    time: decisionTime, event: .badData, reason: "bar at \(time.iso8601) has a non-positive price or high below low"))
            return
        }
        var stale = false
        if let last = lastBarTime, time.milliseconds - last > config.risk.staleAfter.milliseconds {
            stale = true
            journal.append(
                JournalEntry(
                    time: decisionTime, event: .staleFeed,
                    reason: "no data for \(TimeSpan(milliseconds: time.milliseconds - last)); no entries on this bar"))
        }
        lastBarTime = time.milliseconds
        // Volatility (simple returns), momentum and mean reversion read the history lazily.
        // The circuit breaker looks at the bar's extremes against prices inside its window: the
        // oldest of them is always an open (a bar's open and close share its time, the open
        // comes first), so the history keeps opens, as raw values (exact in a Double).
        // The statistics read raw prices (exact in a `Double`): every one of them is a ratio, a
        // return or a z-score, so the fixed-point scale cancels and is never divided out.
        let closeRaw = Double(bar.close.raw)
        history.append(time: time.milliseconds, openRaw: Double(bar.open.raw), closeRaw: closeRaw)
        let referenceRaw = history.circuitReferenceRaw ?? Double(bar.open.raw)
        var move = 0.0
        // The exact move (in the same operations as ever) only for a bar near the limit.
        if !(Double(bar.high.raw) < referenceRaw * circuitUpperFactor && Double(bar.low.raw) > referenceRaw * circuitLowerFactor) {
            let reference = referenceRaw / priceScale
            move = max(Double(bar.high.raw) / priceScale / reference - 1, 1 - Double(bar.low.raw) / priceScale / reference)
        }

        // The venue may have closed us (stop, target, liquidation) without a fill we saw.
        if position.isZero, side != nil { clearPosition() }

        // Cooldown over?
        if case .halted(let until) = state, decisionTime >= until {
            state = .active
            journal.append(
                JournalEntry(time: decisionTime, event: .stateChange, reason: "circuit-breaker cooldown over; active"))
        }

        if move > circuitLimit {
            // Saturating: a cooldown past the end of time halts until the end of time.
            let until = decisionTime.saturatingAdding(config.risk.circuitCooldown)
            // The kill switch's `reducing` outlives any cooldown: only the operator lifts it.
            if state != .reducing { state = .halted(until: until) }
            journal.append(
                JournalEntry(
                    time: decisionTime, event: .circuitBreaker, price: bar.close,
                    reason:
                        "price moved \(formatPercent(move)) within \(config.risk.circuitWindow) (limit \(formatPercent(config.risk.circuitMove.doubleValue))); no entries until \(until.iso8601)"
                ))
            if !position.isZero {
                actions.append(.close(reason: .circuitBreaker))
                pendingExit(.circuitBreaker)
            }
            pendingEntry = nil
            return
        }

        // Managing an open position: the time exit (spec §4), at every bar's close from
        // `time_exit` after entry on while the position is open.
        if let held = side, let entryPrice, let entryTime, !position.isZero {
            let minimum = config.risk.timeExitMinProfit
            if decisionTime - entryTime >= config.risk.timeExit,
                !Self.inProfit(held, entry: entryPrice, close: bar.close, byAtLeast: minimum)
            {
                journal.append(
                    JournalEntry(
                        time: decisionTime, event: .timeExit, side: held, price: bar.close, quantity: position.magnitude,
                        reason:
                            "\(decisionTime - entryTime) after entry (time exit \(config.risk.timeExit)): close \(bar.close) vs entry \(entryPrice) is not in profit by at least \(minimum) of the entry price"
                    ))
                actions.append(.close(reason: .timeExit))
                pendingExit(.timeExit)
            }
            return
        }

        // Entries.
        var (scores, reversion) = signals.scoresDeferringReversion(closeRaw: closeRaw, at: decisionTime.milliseconds, history: &history)
        if let reversion {
            // Most flat bars blend far from the threshold: find that out without the z-score's
            // square root and division (the rules alone; the model reads every score).
            // Recording scores needs the exact blend, so it skips the shortcut (which only ever
            // returns where the blend below would, its guard on the threshold).
            if !hasModel, !recordsScores, blend.staysInside(config.entryThreshold, scores, reversion: reversion) { return }
            signals.finishReversion(&scores, reversion)
        }
        let blended: Double
        var probabilityUp: Double?
        if hasModel, let model {
            // The model's direction sign(p − 0.5) and conviction |2p − 1| replace the blend and
            // the agreement count; it never sizes.
            guard let p = model.probabilityUp(scores: scores, at: decisionTime), p.isFinite else { return }
            probabilityUp = p
            blended = 2 * p - 1
            guard abs(blended) >= config.model.minConviction, blended != 0 else { return }
        } else {
            blended = blend.blend(scores)
        }
        if recordsScores {
            scoreRecord.times.append(time.milliseconds)
            scoreRecord.scores.append(blended)
        }
        let agreeing = BlendWeights.agreeing(scores, with: blended)
        if probabilityUp == nil {
            guard abs(blended) >= config.entryThreshold, agreeing >= config.minAgreeingSignals else { return }
        }
        // Catching up on past bars (paper start-up or restart): signals only, no entries.
        guard feedLive else { return }
        guard configProblems.isEmpty else {
            if !configProblemsJournalled {
                configProblemsJournalled = true
                journal.append(
                    JournalEntry(
                        time: decisionTime, event: .riskDenied,
                        reason:
                            "the configuration has \(configProblems.count) problem\(configProblems.count == 1 ? "" : "s") (\(configProblems[0])); no entries"
                    ))
            }
            return
        }
        let wanted: Side = blended > 0 ? .long : .short
        let named = JournalSignals.scores(scores, probabilityUp: probabilityUp)
        func deny(_ reason: JournalText) {
            journal.append(
                JournalEntry(
                    time: decisionTime, event: .riskDenied, side: wanted, price: bar.close, reasonText: reason, signalValues: named))
        }
        switch state {
        case .halted(let until): return deny(.circuitHalt(until: until))
        case .reducing: return deny(.text("reducing only (kill switch)"))
        case .active: break
        }
        if stale { return deny(.text("stale feed")) }
        let hour = Int((decisionTime.milliseconds % 86_400_000 + 86_400_000) % 86_400_000 / 3_600_000)
        if inQuietHours(hour) { return deny(.text(quietHoursReason)) }
        if !blackouts.isEmpty, let window = blackouts.window(containing: decisionTime.milliseconds) {
            return deny(.text(Self.blackoutReason(window)))
        }
        let equity = equityAtClose()
        guard equity.isPositive else { return deny(.text("no equity")) }

        // Caps: regime-dependent leverage and exposure, and the risk per trade at the stop.
        let caps = Self.regime(config: config, barInterval: barInterval, history: &history)
        let annualVolatility = caps.annualVolatility
        let highVolatility = caps.highVolatility
        let leverage = caps.leverage
        let exposure = caps.exposure
        guard
            let size = Self.entrySize(
                equity: equity, exposure: exposure, leverage: leverage, risk: config.risk, close: bar.close, lotSize: lotSize)
        else { return deny(.text("the caps leave no size at this price")) }
        guard size.quantity.isPositive else { return deny(.text("the caps leave no size at this price (notional \(size.notional))")) }
        let quantity = size.quantity
        let sign: Int64 = wanted == .long ? 1 : -1
        let stop = Price(raw: bar.close.raw - sign * FixedMath.mulDiv(bar.close.raw, config.risk.stopLoss.raw, Rate.scale, .down))
        let target = Price(raw: bar.close.raw + sign * FixedMath.mulDiv(bar.close.raw, config.risk.takeProfit.raw, Rate.scale, .down))
        let positionLeverage = size.positionLeverage ?? leverage
        let score =
            probabilityUp.map {
                "\(model?.name(at: decisionTime) ?? "model") p(up) \(formatDouble(($0 * 1000).rounded() / 1000, significant: 6)), conviction \(formatSigned(blended))"
            }
            ?? "blended \(formatSigned(blended)) with \(agreeing) agreeing signals"
        let reason =
            "\(score); \(highVolatility ? "high-volatility" : "normal") regime (σ \(formatPercent(annualVolatility)) a year): leverage ≤ \(leverage), exposure ≤ \(exposure)"
        pendingEntry = (wanted, stop, target, positionLeverage, named, reason, decisionTime)
        actions.append(.open(side: wanted, quantity: quantity, stop: stop, target: target))
    }

    /// An entry's size under the caps (spec §4): the margin `equity × exposure`, the notional the
    /// smaller of `margin × leverage` and `equity × risk per trade ÷ stop loss` (the loss at the
    /// stop), and never more than ``CarryLimit/notional`` (what the venue carries exactly); the
    /// quantity that notional ÷ close rounded toward zero to the lot, at most
    /// ``CarryLimit/quantity``. Computed in 128 bits, rounded down, so no product of a leverage
    /// or a balance can overflow; `nil` when a setting is not positive (a configuration with
    /// problems, which the kernel never sizes with). `positionLeverage` is notional at the close
    /// ÷ margin, rounded up (`nil` when the margin is zero).
    public static func entrySize(equity: Notional, exposure: Rate, leverage: Rate, risk: BotConfig.Risk, close: Price, lotSize: Quantity)
        -> (notional: Notional, quantity: Quantity, positionLeverage: Rate?)?
    {
        guard equity.isPositive, exposure.isPositive, leverage.isPositive, risk.riskPerTrade.isPositive, risk.stopLoss.isPositive,
            close.isPositive, lotSize.isPositive
        else { return nil }
        let scale = Int128(Rate.scale)
        let cap = Int128(CarryLimit.notional.raw)
        // Held at Int64's range, so the product with a leverage stays inside Int128.
        let margin = min(Int128(equity.raw) * Int128(exposure.raw) / scale, Int128(Int64.max))
        let byLeverage = margin * Int128(leverage.raw) / scale
        let byRisk = Int128(equity.raw) * Int128(risk.riskPerTrade.raw) / Int128(risk.stopLoss.raw)
        let notional = Notional(raw: Int64(min(byLeverage, byRisk, cap)))
        let units = min(Int128(notional.raw) * Int128(Price.scale) / Int128(close.raw), Int128(CarryLimit.quantity.raw))
        let quantity = Quantity(raw: Int64(units)).rounded(toMultipleOf: lotSize, rule: .towardZero)
        var positionLeverage: Rate?
        if margin > 0 {
            // close × quantity ≤ notional ≤ the cap, so neither step can overflow.
            let value = Int128(close.times(quantity).raw) * scale
            positionLeverage = Int64(exactly: (value + margin - 1) / margin).map { Rate(raw: $0) }
        }
        return (notional, quantity, positionLeverage)
    }

    /// The caps in force at the last bar (spec §4): 3x leverage and 40 % of equity as margin,
    /// or 2x and 25 % while the annualised volatility of the recent bars is above the threshold.
    public var regime: CapsRegime {
        var history = self.history  // its windows catch up lazily; the copy shares the bars
        return Self.regime(config: config, barInterval: barInterval, history: &history)
    }

    static func regime(config: BotConfig, barInterval: TimeSpan, history: inout BarHistory) -> CapsRegime {
        let annualVolatility =
            (history.volatilityStandardDeviation() ?? 0) * (365.0 * 86_400_000 / Double(barInterval.milliseconds)).squareRoot()
        let highVolatility = annualVolatility > config.risk.highVolatilityThreshold
        return CapsRegime(
            highVolatility: highVolatility, annualVolatility: annualVolatility,
            leverage: highVolatility ? config.risk.highVolatilityLeverage : config.risk.maxLeverage,
            exposure: highVolatility ? config.risk.highVolatilityExposure : config.risk.maxExposure)
    }

    /// The refusal's words for an entry wanted in a blackout window.
    static func blackoutReason(_ window: BlackoutWindows.Window) -> String {
        let note = window.event.note.isEmpty ? "" : " (\(window.event.note.prefix(80)))"
        return "blackout: \(window.event.kind) at \(window.event.time.iso8601)\(note), no entries "
            + "\(Timestamp(milliseconds: window.start).iso8601)–\(Timestamp(milliseconds: window.end).iso8601)"
    }

    /// Whether `time` falls in the configured quiet hours (UTC), when no entry is opened.
    public func inQuietHours(at time: Timestamp) -> Bool {
        inQuietHours(Int((time.milliseconds % 86_400_000 + 86_400_000) % 86_400_000 / 3_600_000))
    }

    private func inQuietHours(_ hour: Int) -> Bool {
        let start = config.risk.quietStartHour
        let end = config.risk.quietEndHour
        if start == end { return false }
        return start < end ? (hour >= start && hour < end) : (hour >= start || hour < end)
    }

    /// Whether a position of `side` entered at `entry` is in profit at `close` by at least
    /// `minimum` of the entry price (spec §4 time exit): for a long `close − entry ≥ entry ×
    /// minimum`, for a short `entry − close ≥ entry × minimum`, and in either case a profit
    /// above zero, so at a minimum of 0 a close exactly at the entry is not in profit. On the
    /// price alone, before fees and funding (a minimum above the round-trip fees asks for a net
    /// profit). Exact: both sides are compared in 128 bits, nothing is rounded.
    public static func inProfit(_ side: Side, entry: Price, close: Price, byAtLeast minimum: Rate) -> Bool {
        let profit = side == .long ? Int128(close.raw) - Int128(entry.raw) : Int128(entry.raw) - Int128(close.raw)
        return profit > 0 && profit * Int128(Rate.scale) >= Int128(entry.raw) * Int128(minimum.raw)
    }

    /// After asking to close, the position is treated as gone (the fill confirms it).
    private mutating func pendingExit(_ event: JournalEvent) {
        closingSide = side ?? closingSide
        clearPosition()
    }
}

func formatPercent(_ fraction: Double) -> String { formatDouble((fraction * 100 * 100).rounded() / 100, significant: 6) + " %" }
func formatSigned(_ value: Double) -> String { (value >= 0 ? "+" : "") + formatDouble((value * 1000).rounded() / 1000, significant: 6) }

/// The blended entry score of the bars on which the kernel weighed an entry (see
/// ``TradingKernel/recordsScores``): bar open times (epoch ms) and scores in −1…1.
public struct ScoreRecord: Sendable, Hashable {
    public var times: [Int64] = []
    public var scores: [Double] = []

    public init() {}
}
