import PerpModel
import PerpSimulation

/// The objective a parameter search ranks runs by (issue 15, "Optimisation").
public enum RankObjective: String, CaseIterable, Sendable {
    case sharpe, sortino, calmar
    case totalReturn = "return"

    /// The run's value, `nil` when undefined (then it ranks last).
    public func value(_ m: PerformanceMetrics) -> Double? {
        switch self {
        case .sharpe: return m.sharpe
        case .sortino: return m.sortino
        case .totalReturn: return m.totalReturn
        case .calmar: return RankObjective.calmar(m)
        }
    }

    /// Annualised return over the deepest drawdown; `nil` for a run under the annualising
    /// minimum or without a drawdown.
    public static func calmar(_ m: PerformanceMetrics) -> Double? {
        guard let annual = m.annualizedReturn, let drawdown = m.maxDrawdown, drawdown > 0 else { return nil }
        return annual / drawdown
    }

    /// Indices of `metrics` best first; undefined values last, ties in their given order.
    public func ranking(_ metrics: [PerformanceMetrics]) -> [Int] {
        metrics.indices.sorted { a, b in
            switch (value(metrics[a]), value(metrics[b])) {
            case (let x?, let y?): return x != y ? x > y : a < b
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return a < b
            }
        }
    }
}

/// Walk-forward optimisation's pieces, for the CLI's `--walk-forward --sweep` and for a
/// library user's own strategy (docs/decisions/0017): folds of a training window followed by a
/// test window, stepping by the test window; parameters are chosen on the training window only
/// and judged on the test window only.
public enum ParameterWalkForward {
    public struct Fold: Sendable, Equatable {
        public var trainStart: Timestamp
        public var testStart: Timestamp
        public var testEnd: Timestamp
    }

    /// A test window's result: the equity's return and deepest drawdown inside it.
    public struct Window: Sendable, Equatable {
        public var `return`: Double
        public var maxDrawdown: Double
    }

    /// The folds that fit bars opening from `first` to `last` (each bar lasting `barInterval`).
    public static func folds(first: Timestamp, last: Timestamp, barInterval: TimeSpan, train: TimeSpan, test: TimeSpan) -> [Fold] {
        guard train.milliseconds > 0, test.milliseconds > 0 else { return [] }
        var folds: [Fold] = []
        var start = first
        while start + train + test <= last + barInterval {
            folds.append(Fold(trainStart: start, testStart: start + train, testEnd: start + train + test))
            start = start + test
        }
        return folds
    }

    /// The equity's return and deepest drawdown from the last bar before `from` to the end of
    /// the curve; `nil` when the account had nothing left at `from` or no bar falls after it.
    /// A run over the training and test windows together (the training bars warm its
    /// indicators up) is judged on the test window alone this way.
    public static func window(_ curve: EquityCurve, from: Timestamp) -> Window? {
        guard let index = curve.times.firstIndex(where: { $0 >= from.milliseconds }), index > 0 else { return nil }
        let start = Double(curve.equity[index - 1])
        guard start > 0 else { return nil }
        var peak = start
        var deepest = 0.0
        for value in curve.equity[index...] {
            let equity = Double(value)
            peak = max(peak, equity)
            deepest = max(deepest, (peak - equity) / peak)
        }
        return Window(return: Double(curve.equity[curve.equity.count - 1]) / start - 1, maxDrawdown: deepest)
    }
}
