import PerpModel

/// The weekly review (issue 16; seed 001: "I review my performance logs every week and adjust
/// my signal weights based on recent accuracy"): how each signal and group did, what the
/// entries owed them, the trades by exit reason, and weights fitted before the review window
/// and judged on it, never in-sample. Pure: the shell gives the bars, the external series, the
/// configuration and the journal's rows.
public enum SignalReview {
    /// The signal groups of the blend (``BotConfig/Weights``) and their signals, in journal order.
    public static let groups: [(group: String, signals: [String])] = [
        ("price", ["momentum", "mean_reversion", "funding"]),
        ("network", ["staked", "activity", "exchange_flow"]),
        ("sentiment", ["sentiment"]),
    ]

    /// A score counts as pointing a way from this size on (the kernel's agreement threshold).
    public static let minimumConviction = 0.1
    /// Fewer independent observations than this (non-overlapping horizons, or closed trades) is
    /// too few to mean anything, and the review says so.
    public static let minimumSample = 30

    /// One journal row, as much of it as the review reads (from a backtest run's rows or a
    /// session's stored lines).
    public struct Row: Sendable, Equatable {
        public var time: Timestamp
        public var event: String
        public var side: Side?
        public var signals: [String: Double]
        public var pnl: Notional?
        public var reason: String
        /// A note's text (`nmrperp journal note`).
        public var text: String

        public init(
            time: Timestamp, event: String, side: Side?, signals: [String: Double], pnl: Notional?, reason: String = "", text: String = ""
        ) {
            self.time = time
            self.event = event
            self.side = side
            self.signals = signals
            self.pnl = pnl
            self.reason = reason
            self.text = text
        }

        public init(_ entry: JournalEntry) {
            self.init(
                time: entry.time, event: entry.event.rawValue, side: entry.side,
                signals: Dictionary(entry.signals, uniquingKeysWith: { _, last in last }), pnl: entry.pnl, reason: entry.reason,
                text: entry.event == .note ? entry.reason : "")
        }
    }

    /// A closed (or still open) trade: its entry's scores, how it ended and its realized P&L.
    public struct Trade: Sendable, Equatable {
        public var entryTime: Timestamp
        public var side: Side
        public var signals: [String: Double]
        public var exitTime: Timestamp?
        /// `stop`, `target`, `time_exit`, `circuit_breaker`, `kill_switch`, `liquidation`, `exit`.
        public var exitReason: String?
        public var pnl: Notional
    }

    /// The trades of a journal: each entry with the closing rows that follow it. A time exit's,
    /// circuit breaker's or kill switch's closing fill is an `exit` row after the decision row
    /// that names why; a stop, target or liquidation is its own row. Closing rows with no open
    /// trade (a second fill of the same close) add to the last trade.
    public static func trades(_ rows: [Row]) -> [Trade] {
        var trades: [Trade] = []
        var open: Int?
        var why: String?
        for row in rows {
            switch row.event {
            case "entry":
                guard open == nil, let side = row.side else { continue }
                trades.append(Trade(entryTime: row.time, side: side, signals: row.signals, exitTime: nil, exitReason: nil, pnl: .zero))
                open = trades.count - 1
                why = nil
            case "time_exit", "circuit_breaker":
                why = row.event
            case "state_change" where row.reason.hasPrefix("kill switch"):
                why = "kill_switch"
            case "stop", "target", "liquidation", "exit":
                guard let pnl = row.pnl else { continue }
                let reason = row.event == "exit" ? (why ?? "exit") : row.event
                if let index = open {
                    trades[index].exitTime = row.time
                    trades[index].exitReason = reason
                    trades[index].pnl = plus(trades[index].pnl, pnl)
                    open = nil
                } else if !trades.isEmpty, trades[trades.count - 1].exitTime != nil {
                    trades[trades.count - 1].pnl = plus(trades[trades.count - 1].pnl, pnl)
                }
            default:
                continue
            }
        }
        return trades
    }

    /// How often a signal's (or a group's) sign matched the return that followed over the horizon.
    public struct Accuracy: Sendable, Equatable {
        public var name: String
        public var group: String
        /// Bars before the window whose horizon ends before it opens, with a score of at least
        /// ``minimumConviction``, and how many of them pointed the right way.
        public var beforeCount = 0
        public var beforeHits = 0
        public var windowCount = 0
        public var windowHits = 0

        public var beforeRate: Double? { beforeCount > 0 ? Double(beforeHits) / Double(beforeCount) : nil }

        /// Counts one scored bar, in the window or before it.
        mutating func count(hit: Bool, inWindow: Bool) {
            if inWindow {
                windowCount += 1
                windowHits += hit ? 1 : 0
            } else {
                beforeCount += 1
                beforeHits += hit ? 1 : 0
            }
        }
        public var windowRate: Double? { windowCount > 0 ? Double(windowHits) / Double(windowCount) : nil }
    }

    /// What the entries in the window owed a signal, and the P&L that follows from it.
    public struct Contribution: Sendable, Equatable {
        public var name: String
        /// Entries in the window where the signal had a score.
        public var entries = 0
        /// …of which it pointed the trade's way with at least ``minimumConviction``.
        public var agreed = 0
        /// The mean share of the blended score it supplied (1 = all of it, negative: against).
        public var meanShare = 0.0
        /// The window's closed-trade P&L times each trade's share, summed (quote currency).
        public var pnl = 0.0
    }

    /// Trades in the window by how they ended.
    public struct ExitGroup: Sendable, Equatable {
        public var reason: String
        public var trades = 0
        public var wins = 0
        public var pnl = Notional.zero
    }

    /// The suggested group weights and how they and the current ones did in the window.
    public struct Suggestion: Sendable, Equatable {
        public var current: BotConfig.Weights
        /// `nil` when no group could be fitted (too little data before the window, or none
        /// beat a coin there): the weights stay as they are.
        public var suggested: BotConfig.Weights?
        /// Why (or why not).
        public var basis: String
        /// Window bars where the blend reached the entry threshold, and how many of them the
        /// following return agreed with, for the current weights and the suggested ones.
        public var currentCount = 0
        public var currentHits = 0
        public var suggestedCount = 0
        public var suggestedHits = 0
    }

    public struct Report: Sendable, Equatable {
        public var windowStart: Timestamp
        public var windowEnd: Timestamp
        public var horizon: TimeSpan
        public var signals: [Accuracy]
        public var groups: [Accuracy]
        public var contributions: [Contribution]
        public var exits: [ExitGroup]
        /// Closed trades entered in the window, and entered before it.
        public var windowTrades: Int
        public var earlierTrades: Int
        public var windowPnL: Notional
        public var suggestion: Suggestion
        /// Non-overlapping horizons in the window: the sample the window's rates rest on.
        public var independentHorizons: Int
        /// Plain warnings (a sample too small, a group with no data).
        public var warnings: [String]
        /// The notes of one's own written in the window (`journal note`), oldest first.
        public var notes: [Note]
    }

    /// A note of one's own (`nmrperp journal note`).
    public struct Note: Sendable, Equatable {
        public var time: Timestamp
        public var text: String
    }

    /// The review of `rows` over the window `since` long that ends at the last bar's close.
    /// `scores[i]` are the signal scores at bar `i`'s close (``Features/signalScores``).
    public static func review(
        series: CandleSeries, barInterval: TimeSpan, scores: [SignalScores], rows: [Row], config: BotConfig, since: TimeSpan
    ) -> Report {
        let horizon = config.risk.timeExit
        let count = min(series.count, scores.count)
        let lastClose = count > 0 ? series.openTimes[count - 1] + barInterval.milliseconds : 0
        let windowStart = lastClose - since.milliseconds
        var signals = groups.flatMap { group in group.signals.map { Accuracy(name: $0, group: group.group) } }
        var groupRates = groups.map { Accuracy(name: $0.group, group: $0.group) }
        let current = BlendWeights(config.weights)
        var judged: [(scores: SignalScores, up: Bool)] = []
        var fitting: [(scores: SignalScores, up: Bool)] = []
        // Bar i decides at its close; its label is the close one horizon later.
        var later = 0
        for index in 0..<count {
            let decision = series.openTimes[index] + barInterval.milliseconds
            let target = decision + horizon.milliseconds - barInterval.milliseconds
            if later < index { later = index }
            while later < count, series.openTimes[later] < target { later += 1 }
            guard later < count, series.openTimes[later] == target else { continue }
            let move = series.closes[later] - series.closes[index]
            guard move != 0 else { continue }
            let up = move > 0
            let inWindow = decision >= windowStart
            let before = decision + horizon.milliseconds <= windowStart
            guard inWindow || before else { continue }
            let named = scores[index].named
            for (name, value) in named where abs(value) >= minimumConviction {
                guard let slot = signals.firstIndex(where: { $0.name == name }) else { continue }
                signals[slot].count(hit: (value > 0) == up, inWindow: inWindow)
            }
            let values = Dictionary(named, uniquingKeysWith: { _, last in last })
            for (slot, group) in groups.enumerated() {
                let present = group.signals.compactMap { values[$0] }
                guard !present.isEmpty else { continue }
                let mean = present.reduce(0, +) / Double(present.count)
                guard abs(mean) >= minimumConviction else { continue }
                groupRates[slot].count(hit: (mean > 0) == up, inWindow: inWindow)
            }
            if inWindow { judged.append((scores[index], up)) } else { fitting.append((scores[index], up)) }
        }

        // Trades: by entry time, in the window or before.
        let trades = Self.trades(rows)
        let closed = trades.filter { $0.exitTime != nil }
        let windowClosed = closed.filter { $0.entryTime.milliseconds >= windowStart }
        var contributions = groups.flatMap(\.signals).map { Contribution(name: $0) }
        for trade in trades where trade.entryTime.milliseconds >= windowStart {
            let scores = Self.scores(trade.signals)
            let blended = current.blend(scores)
            guard blended != 0, blended.isFinite else { continue }
            let direction: Double = trade.side == .long ? 1 : -1
            for slot in contributions.indices {
                let name = contributions[slot].name
                guard let value = trade.signals[name] else { continue }
                var without = scores
                Self.set(&without, name, 0)
                let share = (blended - current.blend(without)) / blended
                contributions[slot].entries += 1
                contributions[slot].agreed += value * direction >= minimumConviction ? 1 : 0
                contributions[slot].meanShare += share
                if trade.exitTime != nil { contributions[slot].pnl += trade.pnl.doubleValue * share }
            }
        }
        for slot in contributions.indices where contributions[slot].entries > 0 {
            contributions[slot].meanShare /= Double(contributions[slot].entries)
        }
        var exits: [ExitGroup] = []
        var windowPnL = Notional.zero
        for trade in windowClosed {
            let reason = trade.exitReason ?? "exit"
            if let slot = exits.firstIndex(where: { $0.reason == reason }) {
                exits[slot].trades += 1
                exits[slot].wins += trade.pnl.isPositive ? 1 : 0
                exits[slot].pnl = plus(exits[slot].pnl, trade.pnl)
            } else {
                exits.append(ExitGroup(reason: reason, trades: 1, wins: trade.pnl.isPositive ? 1 : 0, pnl: trade.pnl))
            }
            windowPnL = plus(windowPnL, trade.pnl)
        }
        exits.sort { $0.trades > $1.trades || ($0.trades == $1.trades && $0.reason < $1.reason) }

        let suggestion = suggest(config: config, groups: groupRates, judged: judged)
        let independent = Int(max(0, lastClose - windowStart) / max(1, horizon.milliseconds))
        var warnings: [String] = []
        if independent < minimumSample || windowClosed.count < minimumSample {
            warnings.append(
                "small sample: the window holds \(independent) non-overlapping \(horizon) horizons and \(windowClosed.count) closed trades; "
                    + "under \(minimumSample) of either, its rates and P&L are mostly chance; review a longer --since before changing weights"
            )
        }
        for group in groupRates where group.beforeCount + group.windowCount == 0 {
            warnings.append("no \(group.name) signal had data in this span; its weight was not tested")
        }
        return Report(
            windowStart: Timestamp(milliseconds: windowStart), windowEnd: Timestamp(milliseconds: lastClose), horizon: horizon,
            signals: signals, groups: groupRates, contributions: contributions, exits: exits, windowTrades: windowClosed.count,
            earlierTrades: closed.count - windowClosed.count, windowPnL: windowPnL, suggestion: suggestion,
            independentHorizons: independent, warnings: warnings,
            notes: rows.filter { $0.event == "note" && $0.time.milliseconds >= windowStart }.map { Note(time: $0.time, text: $0.text) })
    }

    /// Weights fitted on the groups' accuracy before the window: each group tested on at least
    /// ``minimumSample`` bars keeps its share of the current weights' total only in proportion
    /// to its edge over a coin (hit rate − ½, none below it); an untested group keeps its
    /// current share. Then both sets are judged on the window's bars whose blend reaches the
    /// entry threshold: how often the blend's sign matched what followed.
    static func suggest(config: BotConfig, groups: [Accuracy], judged: [(scores: SignalScores, up: Bool)]) -> Suggestion {
        let weights = config.weights
        let currentValues = [weights.price, weights.network, weights.sentiment]
        let total = currentValues.reduce(0, +)
        var suggestion = Suggestion(current: weights, suggested: nil, basis: "")
        guard total > 0 else {
            suggestion.basis = "the weights are all zero"
            return suggestion
        }
        let shares = currentValues.map { $0 / total }
        let tested = groups.indices.filter { groups[$0].beforeCount >= minimumSample }
        let edges = tested.map { max(0, (groups[$0].beforeRate ?? 0.5) - 0.5) }
        let edgeSum = edges.reduce(0, +)
        if tested.isEmpty {
            suggestion.basis = "no group has \(minimumSample) scored bars before the window to fit on; keep the weights"
        } else if edgeSum <= 0 {
            suggestion.basis = "no group beat a coin before the window; keep the weights"
        } else {
            var values = shares
            let testedShare = tested.map { shares[$0] }.reduce(0, +)
            for (position, slot) in tested.enumerated() { values[slot] = testedShare * edges[position] / edgeSum }
            var fitted = BotConfig.Weights()
            // Three decimals: a file a person reads; the blend only uses their ratios.
            fitted.price = (values[0] * 1000).rounded() / 1000
            fitted.network = (values[1] * 1000).rounded() / 1000
            fitted.sentiment = (values[2] * 1000).rounded() / 1000
            if fitted.price + fitted.network + fitted.sentiment > 0 {
                suggestion.suggested = fitted
                suggestion.basis =
                    "fitted on \(tested.map { "\(groups[$0].name) (\(groups[$0].beforeCount) bars)" }.joined(separator: ", ")) before the window: "
                    + "each tested group's share in proportion to its edge over a coin"
                if tested.count == 1 {
                    suggestion.basis += "; with one group tested its share cannot move, so the weights stay as they are"
                }
            } else {
                suggestion.basis = "the fitted weights round to zero; keep the weights"
            }
        }
        let threshold = config.entryThreshold
        let currentBlend = BlendWeights(weights)
        let suggestedBlend = suggestion.suggested.map(BlendWeights.init)
        for (scores, up) in judged {
            let blended = currentBlend.blend(scores)
            if abs(blended) >= threshold {
                suggestion.currentCount += 1
                suggestion.currentHits += (blended > 0) == up ? 1 : 0
            }
            if let suggestedBlend {
                let value = suggestedBlend.blend(scores)
                if abs(value) >= threshold {
                    suggestion.suggestedCount += 1
                    suggestion.suggestedHits += (value > 0) == up ? 1 : 0
                }
            }
        }
        return suggestion
    }

    /// `a + b`, or `a` past what a ledger holds (a damaged journal).
    static func plus(_ a: Notional, _ b: Notional) -> Notional { (try? a.adding(b, "review P&L")) ?? a }

    /// Scores from a journal row's names.
    static func scores(_ named: [String: Double]) -> SignalScores {
        var scores = SignalScores()
        for (name, value) in named { set(&scores, name, value) }
        return scores
    }

    static func set(_ scores: inout SignalScores, _ name: String, _ value: Double) {
        switch name {
        case "momentum": scores.momentum = value
        case "mean_reversion": scores.meanReversion = value
        case "funding": scores.funding = value
        case "staked": scores.staked = value
        case "activity": scores.activity = value
        case "exchange_flow": scores.exchangeFlow = value
        case "sentiment": scores.sentiment = value
        default: break
        }
    }
}
