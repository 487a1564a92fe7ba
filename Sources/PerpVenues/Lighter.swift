import Foundation
import PerpMarketData
import PerpModel

/// A Lighter market as `GET /api/v1/orderBookDetails` describes it (docs/venues.md §3).
public struct LighterMarket: Sendable, Hashable {
    public var symbol: String
    public var marketID: Int
    /// Fractions converted from Lighter's integers out of 10,000.
    public var maintenanceFraction: Rate
    public var minInitialFraction: Rate
    public var defaultInitialFraction: Rate
    public var closeoutFraction: Rate?
    public var markPrice: Price?
    public var lastTradePrice: Price?
    public var sizeDecimals: Int?
    public var priceDecimals: Int?
    /// The smallest order size and notional (`min_base_amount`, `min_quote_amount`).
    public var minBaseAmount: Quantity?
    public var minQuoteAmount: Notional?

    /// The price to plan with: the mark price when given, else the last trade.
    public var referencePrice: Price? { markPrice ?? lastTradePrice }
}

/// Lighter's public REST API (spec §5; docs/venues.md §1–3). 60 requests a minute on standard
/// accounts, so requests are spaced one second apart.
public struct LighterClient: Sendable {
    /// Lighter returns at most 750 fundings per call; we ask for 500 hours per call.
    public static let fundingPageHours: Int64 = 500
    let http: VenueHTTPClient
    let baseURL: URL

    public init(baseURL: URL, transport: any HTTPTransport = URLSessionTransport(), minimumSpacing: Duration = .seconds(1)) {
        self.baseURL = baseURL
        self.http = VenueHTTPClient(venue: "lighter", transport: transport, minimumSpacing: minimumSpacing)
    }

    /// Margin fractions and prices of one market (NMR is 74).
    public func market(id: Int) async throws -> LighterMarket {
        let url = baseURL.appending(path: "api/v1/orderBookDetails", query: [("market_id", String(id))])
        let json = try await http.getJSON(url)
        return try LighterClient.parseMarket(json, id: id)
    }

    /// Parses an `orderBookDetails` answer and picks market `id`.
    public static func parseMarket(_ json: JSONValue, id: Int) throws -> LighterMarket {
        let endpoint = "lighter orderBookDetails"
        guard let details = json["order_book_details"]?.arrayValue else {
            throw VenueError(kind: .notRetryable, endpoint: endpoint, message: "the answer has no order_book_details")
        }
        guard let entry = details.first(where: { $0["market_id"]?.int64Value == Int64(id) }) else {
            throw VenueError(kind: .notRetryable, endpoint: endpoint, message: "market \(id) is not in the answer")
        }
        func fraction(_ key: String) throws -> Rate {
            guard let value = entry[key]?.int64Value, value > 0, value < 10_000 else {
                throw VenueError(kind: .notRetryable, endpoint: endpoint, message: "\(key) is missing or not an integer between 1 and 9999")
            }
            return Rate(basisPointsOf10000: Int(value))
        }
        return LighterMarket(
            symbol: entry["symbol"]?.stringValue ?? "?", marketID: id,
            maintenanceFraction: try fraction("maintenance_margin_fraction"),
            minInitialFraction: try fraction("min_initial_margin_fraction"),
            defaultInitialFraction: try fraction("default_initial_margin_fraction"),
            closeoutFraction: try? fraction("closeout_margin_fraction"),
            markPrice: entry["mark_price"]?.numericText.flatMap { Price($0) }.flatMap { $0.isPositive ? $0 : nil },
            lastTradePrice: entry["last_trade_price"]?.numericText.flatMap { Price($0) }.flatMap { $0.isPositive ? $0 : nil },
            sizeDecimals: entry["size_decimals"]?.int64Value.flatMap { (0...18).contains($0) ? Int($0) : nil },
            priceDecimals: entry["price_decimals"]?.int64Value.flatMap { (0...18).contains($0) ? Int($0) : nil },
            minBaseAmount: entry["min_base_amount"]?.numericText.flatMap { Quantity($0) }.flatMap { $0.isNegative ? nil : $0 },
            minQuoteAmount: entry["min_quote_amount"]?.numericText.flatMap { Notional($0) }.flatMap { $0.isNegative ? nil : $0 })
    }

    /// Lighter's own current rate for market `id` from `GET /api/v1/funding-rates` (the row
    /// with `exchange` "lighter"): a fraction per 8 hours, as printed (`9.6e-05`). `nil` when the
    /// market has no such row.
    public func fundingRateSnapshot(marketID id: Int) async throws -> Double? {
        let json = try await http.getJSON(baseURL.appending(path: "api/v1/funding-rates", query: []))
        return Self.parseFundingRateSnapshot(json, marketID: id)
    }

    public static func parseFundingRateSnapshot(_ json: JSONValue, marketID id: Int) -> Double? {
        guard let rows = json["funding_rates"]?.arrayValue else { return nil }
        let row = rows.first { $0["market_id"]?.int64Value == Int64(id) && $0["exchange"]?.stringValue?.lowercased() == "lighter" }
        return row?["rate"]?.numericText.flatMap { Double($0) }.flatMap { $0.isFinite ? $0 : nil }
    }

    /// The newest fundings row and the funding-rates snapshot for market `id`, compared
    /// (``LighterFundingUnits``): one line saying whether `fundings.rate` reads as percent per hour.
    public func checkFundingUnits(marketID id: Int, now: Timestamp) async throws -> (LighterFundingUnits.Verdict, String) {
        let rows = try await fundings(marketID: id, from: now - .hours(6), to: now)
        let snapshot = try await fundingRateSnapshot(marketID: id)
        let verdict = LighterFundingUnits.check(newest: rows.last, snapshot: snapshot)
        return (verdict, LighterFundingUnits.describe(verdict, newest: rows.last, snapshot: snapshot))
    }

    /// Hourly funding of market `id` with `from ≤ time < to`, signed (positive: longs pay).
    /// Pages of 500 hours; query times in milliseconds (docs/venues.md §1).
    public func fundings(marketID id: Int, from: Timestamp, to: Timestamp, progress: FetchProgress? = nil) async throws -> [FundingRate] {
        var result: [FundingRate] = []
        let page = LighterClient.fundingPageHours * 3_600_000
        var start = from.milliseconds
        let expected = Int((to.milliseconds - from.milliseconds) / 3_600_000)
        // Page by time: a window of up to 500 hours; when the venue returns fewer rows than the
        // window holds (it may cap rows per call), continue after the last row received.
        let hour: Int64 = 3_600_000
        let maxCalls = Int((to.milliseconds - from.milliseconds) / hour) + 2
        for _ in 0..<maxCalls {
            guard start < to.milliseconds else { break }
            let end = min(start + page, to.milliseconds)
            let url = baseURL.appending(
                path: "api/v1/fundings",
                query: [
                    ("market_id", String(id)), ("resolution", "1h"), ("start_timestamp", String(start)), ("end_timestamp", String(end)),
                    ("count_back", "0"),
                ])
            let json = try await http.getJSON(url)
            var lastInWindow: Int64?
            if let rows = json["fundings"]?.arrayValue, !rows.isEmpty {
                let parsed = try FundingFormats.parseLighter(json, source: "lighter fundings market \(id)")
                for rate in parsed where rate.time.milliseconds >= start && rate.time.milliseconds < end {
                    lastInWindow = rate.time.milliseconds
                    if let last = result.last, rate.time <= last.time { continue }
                    result.append(rate)
                }
            }
            progress?(result.count, expected)
            if let lastInWindow, lastInWindow + hour < end {
                start = lastInWindow + hour
            } else {
                start = end
            }
        }
        return result
    }
}

extension LighterClient {
    /// `GET /api/v1/account?by=index&value=` (public): the account's row.
    public func account(index: Int64) async throws -> JSONValue {
        let json = try await http.getJSON(
            baseURL.appending(path: "api/v1/account", query: [("by", "index"), ("value", String(index))]))
        guard let row = LighterWire.account(json, index: index) else {
            throw VenueError(kind: .notRetryable, endpoint: "lighter account", message: "no account \(index) in the answer")
        }
        return row
    }
}
