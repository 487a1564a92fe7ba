import Foundation
import PerpExecution
import PerpMarketData
import PerpModel

/// Progress of a long fetch: units done and units expected (bars or settlements).
public typealias FetchProgress = @Sendable (_ done: Int, _ expected: Int) -> Void

/// Binance spot market data (`GET /api/v3/klines`, docs/venues.md §4).
public struct BinanceSpotClient: Sendable {
    public static let pageLimit = 1000
    let http: VenueHTTPClient
    let baseURL: URL

    public init(baseURL: URL, transport: any HTTPTransport = URLSessionTransport(), minimumSpacing: Duration = .milliseconds(100)) {
        self.baseURL = baseURL
        self.http = VenueHTTPClient(venue: "binance-spot", transport: transport, minimumSpacing: minimumSpacing)
    }

    init(baseURL: URL, http: VenueHTTPClient) {
        self.baseURL = baseURL
        self.http = http
    }

    /// Binance's name for a bar interval (`5m`, `1h`, `1d`), or `nil` when it has none.
    public static func intervalName(_ interval: TimeSpan) -> String? {
        let names: [(Int64, String)] = [
            (60_000, "1m"), (180_000, "3m"), (300_000, "5m"), (900_000, "15m"), (1_800_000, "30m"), (3_600_000, "1h"),
            (7_200_000, "2h"), (14_400_000, "4h"), (21_600_000, "6h"), (28_800_000, "8h"), (43_200_000, "12h"),
            (86_400_000, "1d"), (259_200_000, "3d"), (604_800_000, "1w"),
        ]
        return names.first(where: { $0.0 == interval.milliseconds })?.1
    }

    /// Every bar with `from ≤ openTime < to`, fetched 1000 at a time (the next page starts one
    /// millisecond after the last bar's open time). Bounded: at most one page per 1000 bars of
    /// the span plus two.
    public func klines(symbol: String, interval: TimeSpan, from: Timestamp, to: Timestamp, progress: FetchProgress? = nil) async throws
        -> CandleSeries
    {
        var series = CandleSeries()
        try await klinePages(symbol: symbol, interval: interval, from: from, to: to) { page, _ in
            for index in 0..<page.count { series.append(page[index]) }
            progress?(series.count, Int(max(0, (to.milliseconds - from.milliseconds) / interval.milliseconds)))
        }
        return series
    }

    /// Fetches `[from, to)` page by page and hands each page to `onPage` with the span it
    /// covers completely (so a cache can record it, gaps included, and a failure later loses
    /// nothing already received).
    ///
    /// `path` is the endpoint: spot `api/v3/klines` by default; on the USD-M base URL,
    /// `fapi/v1/klines` (the perp's trades) or `fapi/v1/markPriceKlines` (its mark price), which
    /// page the same way (docs/venues.md §5).
    public func klinePages(
        symbol: String, interval: TimeSpan, from: Timestamp, to: Timestamp, path: String = "api/v3/klines",
        onPage: (CandleSeries, _ covered: (from: Timestamp, to: Timestamp)) async throws -> Void
    ) async throws {
        guard let name = BinanceSpotClient.intervalName(interval) else {
            throw VenueError(
                kind: .notRetryable, endpoint: "binance \(path)",
                message: "Binance has no \(interval) interval; use 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d, 3d or 1w")
        }
        let expected = Int(max(0, (to.milliseconds - from.milliseconds) / interval.milliseconds))
        let maxPages = expected / BinanceSpotClient.pageLimit + 2
        var start = from.milliseconds
        var lastSeen = Int64.min
        for _ in 0..<maxPages {
            guard start < to.milliseconds else { return }
            let url = baseURL.appending(
                path: path,
                query: [
                    ("symbol", symbol), ("interval", name), ("startTime", String(start)), ("endTime", String(to.milliseconds - 1)),
                    ("limit", String(BinanceSpotClient.pageLimit)),
                ])
            let json = try await http.getJSON(url)
            let rows = json.arrayValue ?? []
            if rows.isEmpty {
                try await onPage(CandleSeries(), (Timestamp(milliseconds: start), to))
                return
            }
            let source = "binance \(path) \(symbol) \(name) from \(Timestamp(milliseconds: start).iso8601)"
            let parsed = try CandleJSON.parseBinance(json, source: source)
            var page = CandleSeries()
            for index in 0..<parsed.count
            where parsed.openTimes[index] >= start && parsed.openTimes[index] < to.milliseconds && parsed.openTimes[index] > lastSeen {
                page.append(parsed[index])
            }
            guard let last = page.openTimes.last else { return }
            lastSeen = last
            let full = parsed.count >= BinanceSpotClient.pageLimit
            let coveredEnd = full ? min(last + interval.milliseconds, to.milliseconds) : to.milliseconds
            try await onPage(page, (Timestamp(milliseconds: start), Timestamp(milliseconds: coveredEnd)))
            guard full else { return }
            start = last + 1
        }
    }
}

/// Binance USD-M futures data (`GET /fapi/v1/fundingRate`, docs/venues.md §5).
public struct BinanceUSDMClient: Sendable {
    public static let pageLimit = 1000
    let http: VenueHTTPClient
    let baseURL: URL

    /// - Parameter maxAttempts: tries per request for retryable failures. A long-running
    ///   caller that shows its own waits and backs off itself (paper trading) passes 1, so a
    ///   429 or a bad answer reaches it at once instead of being slept through here.
    public init(
        baseURL: URL, transport: any HTTPTransport = URLSessionTransport(), minimumSpacing: Duration = .milliseconds(700),
        maxAttempts: Int = 4
    ) {
        self.baseURL = baseURL
        // 500 requests per 5 minutes per IP for fundingRate: 0.6 s apart stays under it.
        self.http = VenueHTTPClient(venue: "binance-usdm", transport: transport, minimumSpacing: minimumSpacing, maxAttempts: maxAttempts)
    }

    /// A 200 whose JSON is not the shape `endpoint` returns (`{"code":0}` where an array is
    /// due): retryable, like a 5xx, with an excerpt.
    static func wrongShape(_ json: JSONValue, endpoint: String, expected: String) -> VenueError {
        VenueError.badResponse(endpoint: endpoint, body: Array(json.serialized(pretty: false).utf8), problem: "expected \(expected)")
    }

    /// Funding settlements with `from ≤ time < to`, oldest first, each with the interval
    /// inferred from the spacing of settlements (NMRUSDT moved from 8 h to 4 h).
    public func fundingRates(symbol: String, from: Timestamp, to: Timestamp, progress: FetchProgress? = nil) async throws -> [FundingRate] {
        try await fundingSettlements(symbol: symbol, from: from, to: to, progress: progress).map(\.rate)
    }

    /// Funding settlements with `from ≤ time < to`, oldest first, each with the mark price it
    /// settled at (the row's `markPrice`; `nil` when absent or not a positive decimal).
    public func fundingSettlements(symbol: String, from: Timestamp, to: Timestamp, progress: FetchProgress? = nil) async throws -> [(
        rate: FundingRate, mark: Price?
    )] {
        var rows: [JSONValue] = []
        var start = from.milliseconds
        // One settlement per hour at most: bounded page count.
        let maxPages = Int((to.milliseconds - from.milliseconds) / 3_600_000) / BinanceUSDMClient.pageLimit + 2
        for _ in 0..<maxPages {
            guard start < to.milliseconds else { break }
            let url = baseURL.appending(
                path: "fapi/v1/fundingRate",
                query: [
                    ("symbol", symbol), ("startTime", String(start)), ("endTime", String(to.milliseconds - 1)),
                    ("limit", String(BinanceUSDMClient.pageLimit)),
                ])
            let json = try await http.getJSON(url)
            guard let page = json.arrayValue else {
                throw Self.wrongShape(json, endpoint: "binance-usdm GET /fapi/v1/fundingRate", expected: "a JSON array of settlements")
            }
            if page.isEmpty { break }
            rows.append(contentsOf: page)
            progress?(rows.count, 0)
            guard page.count >= BinanceUSDMClient.pageLimit, let last = page.last?["fundingTime"]?.int64Value else { break }
            start = last + 1
        }
        if rows.isEmpty { return [] }
        let rates = try FundingFormats.parseBinance(.array(rows), source: "binance-usdm fundingRate \(symbol)")
        return zip(rates, rows).map { rate, row in
            let mark = row["markPrice"]?.numericText.flatMap { Price($0) }
            return (rate, mark.flatMap { $0.isPositive ? $0 : nil })
        }
    }

    /// The mark price, index price and the funding rate being accrued for the next settlement
    /// (`GET /fapi/v1/premiumIndex?symbol=`, docs/venues.md §5).
    public struct PremiumIndex: Sendable, Equatable {
        public var mark: Price
        public var index: Price?
        /// The rate accruing for the next settlement (Binance calls it `lastFundingRate`).
        public var fundingRate: Rate?
        public var nextFundingTime: Timestamp?
        public var time: Timestamp?
    }

    /// The venue's clock (`GET /fapi/v1/time`, weight 1: `{"serverTime": ms}`).
    public func serverTime() async throws -> Timestamp {
        let json = try await http.getJSON(baseURL.appending(path: "fapi/v1/time", query: []))
        guard let milliseconds = json["serverTime"]?.int64Value, milliseconds > 0 else {
            throw Self.wrongShape(json, endpoint: "binance-usdm GET /fapi/v1/time", expected: #"{"serverTime": milliseconds}"#)
        }
        return Timestamp(milliseconds: milliseconds)
    }

    /// `symbol`'s trading rules from `GET /fapi/v1/exchangeInfo` (public; the same reading as
    /// the live adapter's, `BinanceWire.rules`): tick, lot, largest market order, minimum
    /// notional. Paper trading's simulated venue enforces them as the venue would.
    public func marketRules(symbol: String) async throws -> MarketRules {
        let json = try await http.getJSON(baseURL.appending(path: "fapi/v1/exchangeInfo", query: []))
        switch BinanceWire.rules(json, symbol: symbol) {
        case .success(let rules): return rules
        case .failure(let problem):
            throw Self.wrongShape(json, endpoint: "binance-usdm GET /fapi/v1/exchangeInfo", expected: problem.text)
        }
    }

    public func premiumIndex(symbol: String) async throws -> PremiumIndex {
        let url = baseURL.appending(path: "fapi/v1/premiumIndex", query: [("symbol", symbol)])
        let json = try await http.getJSON(url)
        guard let mark = json["markPrice"]?.numericText.flatMap({ Price($0) }), mark.isPositive else {
            throw Self.wrongShape(
                json, endpoint: "binance-usdm GET /fapi/v1/premiumIndex", expected: "an object with a positive markPrice for \(symbol)")
        }
        return PremiumIndex(
            mark: mark, index: json["indexPrice"]?.numericText.flatMap { Price($0) },
            fundingRate: json["lastFundingRate"]?.numericText.flatMap { Rate($0) },
            nextFundingTime: json["nextFundingTime"]?.int64Value.map(Timestamp.init(milliseconds:)),
            time: json["time"]?.int64Value.map(Timestamp.init(milliseconds:)))
    }

    /// One row of a kline response: a bar, or why it could not be read (a NaN or missing price,
    /// a malformed row). Live feeds keep going past a bad row; it is reported, never traded on.
    public enum KlineRow: Sendable, Equatable {
        case bar(Candle)
        case bad(openTime: Timestamp?, reason: String)
    }

    /// Up to `limit` (≤ 1500) bars of `GET /fapi/v1/klines` opening at or after `from`, oldest
    /// first, row by row (docs/venues.md §5). The last row may be the bar still forming; the
    /// caller decides which bars have closed.
    public func klineRows(symbol: String, interval: TimeSpan, from: Timestamp, limit: Int = 1000) async throws -> [KlineRow] {
        guard let name = BinanceSpotClient.intervalName(interval) else {
            throw VenueError(
                kind: .notRetryable, endpoint: "binance-usdm klines",
                message: "Binance has no \(interval) interval; use 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d, 3d or 1w")
        }
        let url = baseURL.appending(
            path: "fapi/v1/klines",
            query: [
                ("symbol", symbol), ("interval", name), ("startTime", String(from.milliseconds)),
                ("limit", String(min(max(limit, 1), 1500))),
            ])
        let json = try await http.getJSON(url)
        guard let rows = json.arrayValue else {
            throw Self.wrongShape(json, endpoint: "binance-usdm GET /fapi/v1/klines", expected: "a JSON array of klines")
        }
        return rows.enumerated().map { index, row in
            let openTime = row.arrayValue?.first?.int64Value.map(Timestamp.init(milliseconds:))
            do {
                let parsed = try CandleJSON.parseBinance(.array([row]), source: "binance-usdm klines \(symbol) \(name)")
                return .bar(parsed[0])
            } catch {
                return .bad(openTime: openTime, reason: "kline row \(index + 1) of \(symbol) \(name): \(error)")
            }
        }
    }
}
