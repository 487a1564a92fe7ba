import PerpModel

/// Identifies one cached series: where it came from, which market, and at what resolution.
///
/// Candles and funding rates with the same key are separate series (see ``SeriesKind``): the
/// store keeps their rows and their coverage apart.
public struct SeriesKey: Hashable, Sendable, CustomStringConvertible {
    /// The venue feed the data came from, such as `"binance-spot"` or `"lighter"`
    /// (``VenueID`` raw values).
    public var source: String
    /// The symbol as the venue writes it (`"NMRUSDT"`, `"NMR"`).
    public var symbol: String
    /// The bar interval of a candle series, or the resolution a funding series was requested
    /// at. Must be positive.
    public var interval: TimeSpan

    public init(source: String, symbol: String, interval: TimeSpan) {
        self.source = source
        self.symbol = symbol
        self.interval = interval
    }

    /// A key for a venue we know (`source` is the venue's raw value).
    public init(venue: VenueID, symbol: Symbol, interval: TimeSpan) {
        self.init(source: venue.rawValue, symbol: symbol.value, interval: interval)
    }

    /// `binance-spot NMRUSDT 1m`.
    public var description: String { "\(source) \(symbol) \(interval)" }
}

/// What a series holds. Coverage is tracked per kind, so fetching candles never marks funding
/// as fetched (or the other way round) for the same ``SeriesKey``.
public enum SeriesKind: String, Sendable, Hashable, CaseIterable {
    /// OHLCV bars (``CandleSeries``).
    case candles
    /// Funding settlements (``FundingRate``).
    case funding
}

/// A half-open span of time `[from, to)`.
public struct TimeRange: Hashable, Sendable, CustomStringConvertible {
    /// The first instant inside the range.
    public var from: Timestamp
    /// The first instant after the range.
    public var to: Timestamp

    /// A range `[from, to)`. The store rejects ranges whose `from` is after `to` with
    /// ``StoreError/invalidRange(from:to:)``.
    public init(from: Timestamp, to: Timestamp) {
        self.from = from
        self.to = to
    }

    /// `true` when the range holds no instant (`from ≥ to`).
    public var isEmpty: Bool { from >= to }

    /// The length of the range (`to − from`).
    public var duration: TimeSpan { to - from }

    /// `true` when `time` lies inside `[from, to)`.
    public func contains(_ time: Timestamp) -> Bool { from <= time && time < to }

    /// `[2024-01-01T00:00:00Z, 2024-01-02T00:00:00Z)`.
    public var description: String { "[\(from), \(to))" }
}
