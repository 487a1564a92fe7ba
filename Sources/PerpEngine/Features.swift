import PerpModel

/// Which features a learned model reads (docs/decisions/0006-learned-model.md).
public enum FeatureSet: String, Sendable, Hashable, CaseIterable {
    /// The kernel's six signal scores at the bar's close (spec §4's signals).
    case signals
    /// A generic price-only baseline: lagged returns and recent volatility, nothing NMR-specific.
    case price

    public var names: [String] {
        switch self {
        case .signals: return ["momentum", "mean_reversion", "funding", "staked", "activity", "exchange_flow", "sentiment"]
        case .price: return ["return_1", "return_4", "return_16", "return_64", "volatility_16"]
        }
    }

    /// What the variant is called in reports.
    public var variantName: String {
        switch self {
        case .signals: return "signal model"
        case .price: return "price model"
        }
    }
}

/// Per-bar features and labels. Row `i` holds only what is known at the close of bar `i` (its
/// decision time, `openTime + interval`): no look-ahead. Labels look forward and are only ever
/// used for rows whose horizon ends before the fold they train for (``WalkForwardPlan``).
public enum Features {
    /// The signal scores the kernel computes at each bar's close, bar by bar, fed exactly as
    /// ``BotStrategy`` feeds the kernel: funding rates published up to the close, then the close.
    public static func signalScores(
        _ series: CandleSeries, funding: [FundingRate], inputs: SignalInputs, config: BotConfig.Signals, barInterval: TimeSpan
    ) -> [SignalScores] {
        var engine = SignalEngine(config: config, inputs: inputs)
        // The kernel's bar history (its circuit-breaker and volatility windows do not touch the
        // signal scores; they are given the signal windows so nothing extra is kept).
        var history = BarHistory(
            circuitWindow: config.momentumWindow, volatilityWindow: config.meanReversionWindow,
            meanReversionWindow: config.meanReversionWindow, momentumWindow: config.momentumWindow)
        let rates = funding.sorted { $0.time < $1.time }
        var next = 0
        var scores: [SignalScores] = []
        scores.reserveCapacity(series.count)
        for index in 0..<series.count {
            let open = series.openTimes[index]
            let decision = open + barInterval.milliseconds
            while next < rates.count, rates[next].time.milliseconds <= decision {
                engine.observe(funding: rates[next])
                next += 1
            }
            let closeRaw = Double(series.closes[index])
            history.append(time: open, openRaw: Double(series.opens[index]), closeRaw: closeRaw)
            scores.append(engine.scores(closeRaw: closeRaw, at: decision, history: &history))
        }
        return scores
    }

    /// One row of the signal features, in ``FeatureSet/signals`` order.
    public static func row(_ scores: SignalScores) -> [Double?] {
        [scores.momentum, scores.meanReversion, scores.funding, scores.staked, scores.activity, scores.exchangeFlow, scores.sentiment]
    }

    /// The signal features of every bar.
    public static func signals(_ scores: [SignalScores]) -> FeatureMatrix {
        var matrix = FeatureMatrix(names: FeatureSet.signals.names)
        for score in scores { matrix.append(row(score)) }
        return matrix
    }

    /// The price-only features of every bar: simple returns over 1, 4, 16 and 64 bars
    /// (`cᵢ/cᵢ₋ₖ − 1`) and the population standard deviation of the last 16 one-bar returns;
    /// missing until enough bars exist.
    public static func price(_ series: CandleSeries) -> FeatureMatrix {
        var matrix = FeatureMatrix(names: FeatureSet.price.names)
        let closes = series.closes.map { Price(raw: $0).doubleValue }
        var returns: [Double] = []
        returns.reserveCapacity(closes.count)
        for index in 0..<closes.count {
            func back(_ k: Int) -> Double? { index >= k && closes[index - k] > 0 ? closes[index] / closes[index - k] - 1 : nil }
            let one = back(1)
            returns.append(one ?? 0)
            var volatility: Double?
            if index >= 16 {
                // The 16 one-bar returns ending at this bar (returns[0] is a placeholder, never used).
                var sum = 0.0
                var squares = 0.0
                for k in (index - 15)...index {
                    sum += returns[k]
                    squares += returns[k] * returns[k]
                }
                let mean = sum / 16
                volatility = max(0, squares / 16 - mean * mean).squareRoot()
            }
            matrix.append([one, back(4), back(16), back(64), volatility])
        }
        return matrix
    }

    /// The label of each bar: `true` when the close `horizon` bars later is above this close,
    /// `false` below; `nil` when equal or past the end.
    public static func labels(_ series: CandleSeries, horizon: Int) -> [Bool?] {
        precondition(horizon >= 1, "the label horizon is at least one bar")
        let closes = series.closes
        return (0..<closes.count).map { index in
            guard index + horizon < closes.count, closes[index + horizon] != closes[index] else { return nil }
            return closes[index + horizon] > closes[index]
        }
    }
}
