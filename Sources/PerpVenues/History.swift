import Foundation
import PerpModel
import PerpStore

/// Market history fetched once and kept in the local SQLite cache: a span already fetched (gaps
/// included) is never requested again; each page is saved with the span it covers in one
/// transaction, so an interrupted fetch resumes where it stopped.
public struct CachedHistory: Sendable {
    public let store: MarketDataStore
    public let endpoints: VenueEndpoints
    let transport: any HTTPTransport
    let spacing: Duration?

    /// - Parameter spacing: overrides the venues' request spacing (tests use zero).
    public init(
        store: MarketDataStore, endpoints: VenueEndpoints, transport: any HTTPTransport = URLSessionTransport(), spacing: Duration? = nil
    ) {
        self.store = store
        self.endpoints = endpoints
        self.transport = transport
        self.spacing = spacing
    }

    /// A fetch refused offline because the cache lacks part of the span (issue 15: a fetch is
    /// answered from the cache, offline, when the cache covers it).
    public struct NotCached: Error, CustomStringConvertible, Sendable {
        public var what: String
        public var missing: [TimeRange]
        public var description: String {
            let spans = missing.prefix(3).map { "\($0.from.iso8601) to \($0.to.iso8601)" }.joined(separator: ", ")
            return "\(what) is not all in the cache (missing \(spans)\(missing.count > 3 ? ", …" : ""))"
        }
    }

    /// The bar series a kline endpoint gives: spot, the USD-M perp's trades, or its mark price.
    public enum Klines: Sendable {
        case spot, usdm, usdmMark

        var venue: VenueID { self == .spot ? .binanceSpot : .binanceUSDM }
        var path: String {
            switch self {
            case .spot: return "api/v3/klines"
            case .usdm: return "fapi/v1/klines"
            case .usdmMark: return "fapi/v1/markPriceKlines"
            }
        }
        /// The cache keeps the mark price under its own symbol (`NMRUSDT:mark`).
        func cacheSymbol(_ symbol: String) -> String { self == .usdmMark ? symbol + ":mark" : symbol }
    }

    /// Binance spot bars of `symbol` with `from ≤ openTime < to`. Only closed bars are cached:
    /// `to` is capped at the start of the bar open at `now`.
    public func spotCandles(
        symbol: String, interval: TimeSpan, from: Timestamp, to: Timestamp, now: Timestamp, progress: FetchProgress? = nil
    ) async throws -> CandleSeries {
        try await candles(.spot, symbol: symbol, interval: interval, from: from, to: to, now: now, progress: progress)
    }

    /// Bars of `symbol` from a kline endpoint with `from ≤ openTime < to`, closed bars only.
    /// With `offline`, the cache alone answers, or ``NotCached`` says what it lacks.
    public func candles(
        _ kind: Klines, symbol: String, interval: TimeSpan, from: Timestamp, to: Timestamp, now: Timestamp, offline: Bool = false,
        progress: FetchProgress? = nil
    ) async throws -> CandleSeries {
        let closedEnd = Timestamp(milliseconds: now.milliseconds / interval.milliseconds * interval.milliseconds)
        let end = min(to, closedEnd)
        guard from < end else { return CandleSeries() }
        let key = SeriesKey(venue: kind.venue, symbol: Symbol(kind.cacheSymbol(symbol)), interval: interval)
        if offline {
            let missing = try store.missingRanges(of: .candles, key: key, from: from, to: end)
            guard missing.isEmpty else {
                throw NotCached(what: "\(kind.venue.rawValue) \(kind.path) \(symbol) \(interval)", missing: missing)
            }
            return try store.loadCandles(key: key, from: from, to: end)
        }
        let base = kind == .spot ? endpoints.binanceSpot : endpoints.binanceUSDM
        let client = BinanceSpotClient(
            baseURL: base, transport: transport, minimumSpacing: spacing ?? (kind == .spot ? .milliseconds(100) : .milliseconds(250)))
        let expected = Int((end.milliseconds - from.milliseconds) / interval.milliseconds)
        var done = expected
        for range in try store.missingRanges(of: .candles, key: key, from: from, to: end) {
            done -= Int(range.duration.milliseconds / interval.milliseconds)
        }
        progress?(done, expected)
        for range in try store.missingRanges(of: .candles, key: key, from: from, to: end) {
            try await client.klinePages(symbol: symbol, interval: interval, from: range.from, to: range.to, path: kind.path) {
                page, covered in
                try store.saveCandlesPage(page, key: key, covering: TimeRange(from: covered.from, to: covered.to))
                done += Int((covered.to.milliseconds - covered.from.milliseconds) / interval.milliseconds)
                progress?(min(done, expected), expected)
            }
        }
        return try store.loadCandles(key: key, from: from, to: end)
    }

    /// Lighter hourly funding of market `id` with `from ≤ time < to` (settled hours only).
    public func lighterFunding(marketID id: Int, from: Timestamp, to: Timestamp, now: Timestamp, progress: FetchProgress? = nil)
        async throws -> [FundingRate]
    {
        let hour: Int64 = 3_600_000
        let end = min(to, Timestamp(milliseconds: now.milliseconds / hour * hour))
        guard from < end else { return [] }
        let key = SeriesKey(venue: .lighter, symbol: Symbol("market-\(id)"), interval: .hours(1))
        let client = LighterClient(baseURL: endpoints.lighter, transport: transport, minimumSpacing: spacing ?? .seconds(1))
        for range in try store.missingRanges(of: .funding, key: key, from: from, to: end) {
            let rates = try await client.fundings(marketID: id, from: range.from, to: range.to, progress: progress)
            try store.saveFundingPage(rates, key: key, covering: range)
        }
        return try store.loadFunding(key: key, from: from, to: end)
    }

    /// Binance USD-M funding of `symbol` with `from ≤ time < to`.
    public func binanceFunding(
        symbol: String, from: Timestamp, to: Timestamp, now: Timestamp, offline: Bool = false, progress: FetchProgress? = nil
    ) async throws
        -> [FundingRate]
    {
        // Cache only settled hours: a settlement published a little late must not be marked
        // as fetched before it exists.
        let hour: Int64 = 3_600_000
        let end = min(to, Timestamp(milliseconds: (now.milliseconds - 10 * 60_000) / hour * hour))
        guard from < end else { return [] }
        let key = SeriesKey(venue: .binanceUSDM, symbol: Symbol(symbol), interval: .hours(1))
        if offline {
            let missing = try store.missingRanges(of: .funding, key: key, from: from, to: end)
            guard missing.isEmpty else { throw NotCached(what: "binance-usdm funding \(symbol)", missing: missing) }
            return try store.loadFunding(key: key, from: from, to: end)
        }
        let client = BinanceUSDMClient(baseURL: endpoints.binanceUSDM, transport: transport, minimumSpacing: spacing ?? .milliseconds(700))
        for range in try store.missingRanges(of: .funding, key: key, from: from, to: end) {
            let rates = try await client.fundingRates(symbol: symbol, from: range.from, to: range.to, progress: progress)
            try store.saveFundingPage(rates, key: key, covering: range)
        }
        return try store.loadFunding(key: key, from: from, to: end)
    }
}
