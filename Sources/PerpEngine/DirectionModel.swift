import PerpModel

/// A learned scorer the kernel may consult in place of the blended signals (spec §4: "a learned
/// model may score direction and conviction; it never sizes positions"). The kernel turns
/// `p = probabilityUp` into a direction `sign(p − ½)` and a conviction `|2p − 1|`; every risk rule
/// and the sizing stay the kernel's.
public protocol DirectionModel: Sendable {
    /// The probability that the price is higher one label horizon after `decisionTime`, from what
    /// is known at `decisionTime` (the close of the bar just handled); `nil` when the model has
    /// nothing to say (no entry then).
    func probabilityUp(scores: SignalScores, at decisionTime: Timestamp) -> Double?
    /// How journal rows name the model that decided at `decisionTime`.
    func name(at decisionTime: Timestamp) -> String
}

/// Logistic models trained walk-forward: fold `k`'s model scores the decisions from its first
/// test bar's close until fold `k + 1`'s; before the first fold and from `end` on it says nothing.
/// A fold whose model could not be trained (``ModelError``) says nothing either.
public struct WalkForwardModel: DirectionModel {
    public let features: FeatureSet
    /// First decision time of each fold, ascending.
    public let starts: [Int64]
    public let regressions: [LogisticRegression?]
    /// Decisions at or after this time get no score.
    public let end: Int64
    /// Price features: the decision time of each bar (`openTime + interval`) and its row.
    private let priceTimes: [Int64]
    private let priceRows: FeatureMatrix?

    /// - Parameters:
    ///   - price: for ``FeatureSet/price``, the bars' decision times and their price features
    ///     (``Features/price(_:)``).
    public init(
        features: FeatureSet, starts: [Timestamp], regressions: [LogisticRegression?], end: Timestamp,
        price: (decisionTimes: [Int64], rows: FeatureMatrix)? = nil
    ) {
        precondition(starts.count == regressions.count, "one start per fold")
        precondition(features != .price || price != nil, "a price model needs its feature rows")
        self.features = features
        self.starts = starts.map(\.milliseconds)
        self.regressions = regressions
        self.end = end.milliseconds
        priceTimes = price?.decisionTimes ?? []
        priceRows = price?.rows
    }

    /// The fold scoring decisions at `time` (binary search), `nil` outside every fold.
    public func fold(at time: Int64) -> Int? {
        guard time < end else { return nil }
        var low = 0
        var high = starts.count
        while low < high {
            let mid = (low + high) / 2
            if starts[mid] <= time { low = mid + 1 } else { high = mid }
        }
        return low == 0 ? nil : low - 1
    }

    public func probabilityUp(scores: SignalScores, at decisionTime: Timestamp) -> Double? {
        guard let fold = fold(at: decisionTime.milliseconds), let regression = regressions[fold] else { return nil }
        switch features {
        case .signals:
            return regression.probability(Features.row(scores))
        case .price:
            // The row of the bar whose close is now: only data up to this close.
            guard let rows = priceRows, let index = Self.index(of: decisionTime.milliseconds, in: priceTimes) else { return nil }
            return regression.probability(rows, row: index)
        }
    }

    public func name(at decisionTime: Timestamp) -> String {
        "\(features.variantName)" + (fold(at: decisionTime.milliseconds).map { " (fold \($0 + 1))" } ?? "")
    }

    private static func index(of time: Int64, in times: [Int64]) -> Int? {
        var low = 0
        var high = times.count
        while low < high {
            let mid = (low + high) / 2
            if times[mid] < time { low = mid + 1 } else { high = mid }
        }
        return low < times.count && times[low] == time ? low : nil
    }
}
