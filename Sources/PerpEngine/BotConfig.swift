import PerpModel

/// Every rule and weight of the NMR bot (spec §4; seeds 000 and 001). Defaults are the spec's.
/// Sizes and prices derived from these are exact; thresholds on statistics are `Double`.
public struct BotConfig: Sendable, Equatable {
    /// Weights of the signal groups in the blended score (spec §4: price 40 %, network 35 %,
    /// sentiment 25 %). Groups with no data at a bar are left out and the rest renormalised.
    public struct Weights: Sendable, Equatable {
        public var price = 0.40
        public var network = 0.35
        public var sentiment = 0.25
        public init() {}
    }

    /// Signal parameters. Windows are lengths of time, so the same config works on any bar size.
    public struct Signals: Sendable, Equatable {
        /// Momentum: the return over this window, scaled so `momentumFullScale` scores ±1.
        public var momentumWindow = TimeSpan.hours(4)
        public var momentumFullScale = 0.05
        /// Mean reversion: the z-score of the close against its mean over this window; beyond
        /// ±`meanReversionZ` it scores ∓1.
        public var meanReversionWindow = TimeSpan.hours(24)
        public var meanReversionZ = 2.0
        /// Funding anomaly (contrarian): a rate above this per 8 h equivalent scores −1 (crowded
        /// longs), below its negative +1 (spec §4: 0.1 % per 8 h).
        public var fundingAnomalyPer8h = Rate("0.001")!
        /// Staked NMR: a drop of this fraction over `stakeWindow` scores −1 (spec §4: 15 % a week).
        public var stakeDrop = 0.15
        public var stakeWindow = TimeSpan.days(7)
        /// Tournament activity: a relative change of this size over `activityWindow` scores ±1.
        public var activityChange = 0.10
        public var activityWindow = TimeSpan.days(7)
        /// Exchange flow (on-chain, `exchange_netflow.csv`): a net flow of this many NMR onto the
        /// exchange addresses over `exchangeFlowWindow` scores −1 (NMR readied for sale), as
        /// much off them +1. A judgement, not a finding: the review measures it.
        public var exchangeFlowFullScale = 20_000.0
        public var exchangeFlowWindow = TimeSpan.hours(24)
        public init() {}
    }

    /// Risk rules (spec §4), all enforced by the kernel before any order is sent.
    public struct Risk: Sendable, Equatable {
        /// Leverage of a position (notional ÷ its margin).
        public var maxLeverage = Rate(3)
        /// Margin of open positions as a share of equity.
        public var maxExposure = Rate("0.40")!
        /// In the high-volatility regime the caps drop to these.
        public var highVolatilityLeverage = Rate(2)
        public var highVolatilityExposure = Rate("0.25")!
        /// High volatility: the annualised standard deviation of simple bar returns over
        /// `volatilityWindow` above this (1.5 = 150 % a year).
        public var highVolatilityThreshold = 1.5
        public var volatilityWindow = TimeSpan.hours(24)
        /// Stop loss, fixed at entry: this fraction adverse to the entry price.
        public var stopLoss = Rate("0.025")!
        /// Take profit, fixed at entry.
        public var takeProfit = Rate("0.05")!
        /// Time exit (spec §4): from this long after entry on, a position is closed at the first
        /// bar close at which it is not in profit by at least `timeExitMinProfit` (checked at
        /// every close while it is open, not once; see ``TradingKernel/inProfit(_:entry:close:byAtLeast:)``).
        public var timeExit = TimeSpan.hours(6)
        /// The time exit's minimum profit, a fraction of the entry price on the price alone
        /// (0.002 = 0.2 %); at 0 any close beyond the entry in the position's favour is in
        /// profit, a close exactly at the entry is not. From 0 up to, not including, `takeProfit`.
        public var timeExitMinProfit = Rate.zero
        /// Circuit breaker: a move larger than this within `circuitWindow` closes everything and
        /// blocks entries for `circuitCooldown`.
        public var circuitMove = Rate("0.08")!
        public var circuitWindow = TimeSpan.minutes(15)
        public var circuitCooldown = TimeSpan.hours(2)
        /// No new entries from `quietStartHour` to `quietEndHour` UTC (spec §4: 02:00–06:00).
        public var quietStartHour = 2
        public var quietEndHour = 6
        /// The loss at the stop may not exceed this share of equity.
        public var riskPerTrade = Rate("0.01")!
        /// No new entries when the feed has been silent this long (reliability.md).
        public var staleAfter = TimeSpan.hours(1)
        public init() {}
    }

    /// The learned model (spec §4 "A learned model"; docs/decisions/0006-learned-model.md): how
    /// it is trained walk-forward and when its score opens a trade. Only walk-forward backtests
    /// use it; the rules alone ignore it. It scores direction and conviction, never size.
    public struct Model: Sendable, Equatable {
        /// A bar is labelled up when the close this much later is higher (default: the time exit).
        public var horizon = TimeSpan.hours(6)
        /// Each fold trains on the bars of this window before its test window…
        public var trainWindow = TimeSpan.days(90)
        /// …and trades this window out of sample; folds step by it, so every bar is out of
        /// sample at most once.
        public var testWindow = TimeSpan.days(30)
        /// Ridge penalty on the standardised weights.
        public var l2 = 0.01
        /// An entry needs `|2p − 1|` at least this large (0.1: p(up) ≥ 0.55 or ≤ 0.45).
        public var minConviction = 0.1
        public init() {}
    }

    /// Blackout windows around calendar events (issue 16; seed 001: "NMR-specific news events
    /// … calendar your awareness"): no entries from `blackoutBefore` ahead of an event of one of
    /// `blackoutKinds` to `blackoutAfter` past it, journalled as refusals like quiet hours. Open
    /// positions keep their exits.
    public struct Calendar: Sendable, Equatable {
        /// The event kinds to stay out around (``CalendarEvent/kind``); empty: none.
        public var blackoutKinds = ["news"]
        public var blackoutBefore = TimeSpan.hours(1)
        public var blackoutAfter = TimeSpan.hours(1)
        public init() {}
    }

    public var weights = Weights()
    public var signals = Signals()
    public var calendar = Calendar()
    public var risk = Risk()
    public var model = Model()
    /// A trade needs at least this many signals agreeing with the blended direction.
    public var minAgreeingSignals = 2
    /// …and a blended score at least this large in magnitude (0…1).
    public var entryThreshold = 0.25

    public init() {}

    /// The largest weight, threshold or scale a statistical setting may take (issue 11): far
    /// beyond any meaningful value, and small enough that the blend's sums stay finite.
    public static let largestSetting = 1_000_000.0
    /// The smallest positive scale (`momentum_full_scale`, `mean_reversion_z`,
    /// `activity_change`, `high_volatility_threshold`): its reciprocal, which the signals
    /// multiply by, stays finite.
    public static let smallestScale = 0.000_000_001

    /// The risk rules that are looser than spec §4's (seed 001): a configuration may set them,
    /// but `bot check`, every report and every status line say so (issue 15). Each line names
    /// the key, its value and the spec's limit.
    public func beyondSpec() -> [String] {
        var found: [String] = []
        func above(_ value: Rate, _ limit: String, _ key: String, _ what: String) {
            guard let bound = Rate(limit), value > bound else { return }
            found.append("\(key) \(value) is above the spec's \(limit) (\(what))")
        }
        above(risk.maxLeverage, "3", "risk.max_leverage", "max 3x per position")
        above(risk.maxExposure, "0.4", "risk.max_exposure", "at most 40 % of equity in positions")
        above(risk.highVolatilityLeverage, "2", "risk.high_volatility_leverage", "2x in high volatility")
        above(risk.highVolatilityExposure, "0.25", "risk.high_volatility_exposure", "25 % in high volatility")
        above(risk.stopLoss, "0.025", "risk.stop_loss", "a stop 2.5 % adverse")
        above(risk.circuitMove, "0.08", "risk.circuit_move", "the circuit breaker at an 8 % move")
        if risk.quietStartHour == risk.quietEndHour {
            found.append("risk.quiet_start_hour = quiet_end_hour: no quiet hours (the spec has none 02:00-06:00 UTC)")
        }
        return found
    }

    /// Every problem with the configuration, each a sentence starting with the dotted key and
    /// saying what to change (empty when valid). All are reported at once. Every value the
    /// engine cannot run is refused here, with the limit it is over (issue 11), so a
    /// configuration without problems never traps the kernel, the signals or the walk-forward;
    /// the file loader, `backtest` and `paper` all refuse a configuration with problems.
    public func problems() -> [String] {
        var found: [String] = []
        func fraction(_ value: Rate, _ name: String, allowOne: Bool = false) {
            if !(value.isPositive && (allowOne ? value <= Rate.one : value < Rate.one)) {
                found.append("\(name) must be between 0 and 1\(allowOne ? "" : ", exclusive") (got \(value))")
            }
        }
        func length(_ span: TimeSpan, _ name: String) {
            if span.milliseconds <= 0 {
                found.append("\(name) must be a positive length such as 15m or 6h (got \(span))")
            } else if span > CarryLimit.span {
                found.append("\(name) must be at most \(CarryLimit.span.inYears) (got \(span))")
            }
        }
        /// A positive scale whose reciprocal the signals use.
        func scale(_ value: Double, _ name: String) {
            if !(value >= Self.smallestScale && value <= Self.largestSetting) {
                found.append(
                    "\(name) must be positive, from \(formatDouble(Self.smallestScale)) to \(formatDouble(Self.largestSetting)) (got \(value))"
                )
            }
        }
        let w = weights
        for (name, value) in [("weights.price", w.price), ("weights.network", w.network), ("weights.sentiment", w.sentiment)]
        where !(value >= 0 && value <= Self.largestSetting) {
            found.append("\(name) must be from 0 to \(formatDouble(Self.largestSetting)) (got \(value))")
        }
        if w.price + w.network + w.sentiment <= 0 { found.append("the weights must not all be zero") }
        if minAgreeingSignals < 1 || minAgreeingSignals > 7 {
            found.append("min_agreeing_signals must be between 1 and 7 (got \(minAgreeingSignals))")
        }
        if !(entryThreshold > 0 && entryThreshold <= 1) { found.append("entry_threshold must be in (0, 1] (got \(entryThreshold))") }
        let s = signals
        length(s.momentumWindow, "signals.momentum_window")
        length(s.meanReversionWindow, "signals.mean_reversion_window")
        length(s.stakeWindow, "signals.stake_window")
        length(s.activityWindow, "signals.activity_window")
        scale(s.momentumFullScale, "signals.momentum_full_scale")
        scale(s.meanReversionZ, "signals.mean_reversion_z")
        fraction(s.fundingAnomalyPer8h, "signals.funding_anomaly_per_8h")
        if !(s.stakeDrop > 0 && s.stakeDrop < 1) { found.append("signals.stake_drop must be between 0 and 1 (got \(s.stakeDrop))") }
        scale(s.activityChange, "signals.activity_change")
        length(s.exchangeFlowWindow, "signals.exchange_flow_window")
        if !(s.exchangeFlowFullScale >= 1 && s.exchangeFlowFullScale <= 1e12) {
            found.append("signals.exchange_flow_full_scale must be from 1 to 1000000000000 NMR (got \(s.exchangeFlowFullScale))")
        }
        let r = risk
        for (name, value) in [("risk.max_leverage", r.maxLeverage), ("risk.high_volatility_leverage", r.highVolatilityLeverage)]
        where !(value >= Rate.one && value <= CarryLimit.leverage) {
            found.append("\(name) must be from 1 to \(CarryLimit.leverage) (got \(value))")
        }
        if r.highVolatilityLeverage > r.maxLeverage { found.append("risk.high_volatility_leverage cannot exceed risk.max_leverage") }
        fraction(r.maxExposure, "risk.max_exposure", allowOne: true)
        fraction(r.highVolatilityExposure, "risk.high_volatility_exposure", allowOne: true)
        if r.highVolatilityExposure > r.maxExposure { found.append("risk.high_volatility_exposure cannot exceed risk.max_exposure") }
        fraction(r.stopLoss, "risk.stop_loss")
        fraction(r.takeProfit, "risk.take_profit")
        fraction(r.circuitMove, "risk.circuit_move")
        fraction(r.riskPerTrade, "risk.risk_per_trade")
        length(r.timeExit, "risk.time_exit")
        if r.timeExitMinProfit.isNegative || r.timeExitMinProfit >= r.takeProfit {
            found.append(
                "risk.time_exit_min_profit must be from 0 up to, not including, risk.take_profit (\(r.takeProfit)) (got \(r.timeExitMinProfit))"
            )
        }
        length(r.circuitWindow, "risk.circuit_window")
        length(r.circuitCooldown, "risk.circuit_cooldown")
        length(r.volatilityWindow, "risk.volatility_window")
        length(r.staleAfter, "risk.stale_after")
        scale(r.highVolatilityThreshold, "risk.high_volatility_threshold")
        for (name, hour) in [("risk.quiet_start_hour", r.quietStartHour), ("risk.quiet_end_hour", r.quietEndHour)]
        where !(0...24).contains(hour) {
            found.append("\(name) must be an hour from 0 to 24 (got \(hour))")
        }
        for kind in calendar.blackoutKinds where !CalendarEvent.isValidKind(kind) {
            found.append(
                "calendar.blackout_kinds: \"\(kind.prefix(60))\" is not a kind (a lowercase word of letters, digits and _, such as round_close or news)"
            )
        }
        if calendar.blackoutKinds.count > 64 {
            found.append("calendar.blackout_kinds lists \(calendar.blackoutKinds.count) kinds; at most 64")
        }
        length(calendar.blackoutBefore, "calendar.blackout_before")
        length(calendar.blackoutAfter, "calendar.blackout_after")
        let m = model
        length(m.horizon, "model.horizon")
        length(m.trainWindow, "model.train_window")
        length(m.testWindow, "model.test_window")
        if m.horizon.milliseconds > 0, m.horizon >= m.trainWindow {
            found.append("model.horizon (\(m.horizon)) must be shorter than model.train_window (\(m.trainWindow))")
        }
        if !(m.l2 >= 0 && m.l2 <= Self.largestSetting) {
            found.append("model.l2 must be from 0 to \(formatDouble(Self.largestSetting)) (got \(m.l2))")
        }
        if !(m.minConviction >= 0 && m.minConviction < 1) {
            found.append("model.min_conviction must be from 0 to 1, exclusive of 1 (got \(m.minConviction))")
        }
        return found
    }
}
