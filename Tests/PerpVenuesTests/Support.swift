import Foundation
import PerpModel
import PerpStore
import Synchronization
import TestSupport

@testable import PerpVenues

// MARK: - Server helpers

extension LoopbackHTTPServer {
    /// `http://127.0.0.1:PORT` as a URL: the base URL a venue client is given.
    var root: URL { URL(string: baseURL)! }

    /// The value of query parameter `name` in every request so far, in arrival order.
    func queryValues(_ name: String) -> [String?] { requests.map { $0.query[name] } }
}

/// Every venue pointed at one loopback server.
func endpoints(_ server: LoopbackHTTPServer) -> VenueEndpoints {
    VenueEndpoints(binanceSpot: server.root, binanceUSDM: server.root, lighter: server.root, numerai: server.root)
}

/// Answers requests from a list, in order; once the list is used up, every answer is `then`.
final class ResponseScript: Sendable {
    private let remaining: Mutex<[HTTPResponseSpec]>
    private let fallback: HTTPResponseSpec

    init(_ responses: [HTTPResponseSpec], then fallback: HTTPResponseSpec) {
        remaining = Mutex(responses)
        self.fallback = fallback
    }

    func next() -> HTTPResponseSpec {
        remaining.withLock { list in list.isEmpty ? fallback : list.removeFirst() }
    }
}

/// A `sleeper` for ``VenueHTTPClient`` that returns at once and records what it was asked to wait.
final class SleepRecorder: Sendable {
    private let recorded = Mutex<[Duration]>([])

    var sleeper: @Sendable (Duration) async throws -> Void {
        { [self] duration in recorded.withLock { $0.append(duration) } }
    }

    var durations: [Duration] { recorded.withLock { $0 } }
}

/// A ``VenueHTTPClient`` over `URLSessionTransport` with no pacing and a recording no-op sleeper.
func testHTTPClient(venue: String = "test", maxAttempts: Int = 4, sleeps: SleepRecorder) -> VenueHTTPClient {
    VenueHTTPClient(
        venue: venue, transport: URLSessionTransport(timeout: 5), minimumSpacing: .zero, maxAttempts: maxAttempts,
        sleeper: sleeps.sleeper)
}

// MARK: - Time

let minuteMS: Int64 = 60_000
let hourMS: Int64 = 3_600_000

/// 2023-11-14T21:53:00Z, a minute boundary.
let klineStart: Int64 = 1_699_999_980_000
/// 2023-11-14T21:00:00Z, an hour boundary.
let hourStart: Int64 = 1_699_999_200_000

func ms(_ value: Int64) -> Timestamp { Timestamp(milliseconds: value) }

// MARK: - A synthetic Binance spot feed

/// A made-up 1m kline feed served the way Binance serves `GET /api/v3/klines` (docs/venues.md §4):
/// bars with `startTime ≤ openTime ≤ endTime`, oldest first, at most `limit` (default 500, max 1000).
/// Bars whose index lies in `missing` do not exist (a venue gap).
struct SyntheticKlines: Sendable {
    var start: Int64 = klineStart
    var interval: Int64 = minuteMS
    var count: Int
    var missing: Range<Int> = 0..<0

    func openTime(_ index: Int) -> Int64 { start + Int64(index) * interval }

    /// Prices in cents, all positive with `low ≤ open, close ≤ high`.
    private func cents(_ index: Int) -> (open: Int, high: Int, low: Int, close: Int) {
        let open = 1000 + (index * 37) % 500
        return (open, open + 7, open - 5, open + 2)
    }

    private static func decimal(_ cents: Int) -> String {
        let fraction = cents % 100
        return "\(cents / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    func row(_ index: Int) -> String {
        let price = cents(index)
        return Fixture.binanceKlineRow(
            openTime: openTime(index), interval: interval, open: Self.decimal(price.open), high: Self.decimal(price.high),
            low: Self.decimal(price.low), close: Self.decimal(price.close), volume: "\(index % 50).5")
    }

    /// The bars this feed holds with `from ≤ openTime < to`, as the client should return them.
    func series(from: Int64, to: Int64) -> CandleSeries {
        var series = CandleSeries()
        for index in 0..<count where !missing.contains(index) && openTime(index) >= from && openTime(index) < to {
            let price = cents(index)
            series.append(
                Candle(
                    openTime: ms(openTime(index)), open: Price(Self.decimal(price.open))!, high: Price(Self.decimal(price.high))!,
                    low: Price(Self.decimal(price.low))!, close: Price(Self.decimal(price.close))!,
                    volume: Quantity("\(index % 50).5")!))
        }
        return series
    }

    func answer(_ request: HTTPRequestRecord) -> HTTPResponseSpec {
        guard request.path == "/api/v3/klines" else { return .json(#"{"code":-1,"msg":"no route"}"#, status: 404) }
        guard request.query["interval"] == "1m" else { return .json(#"{"code":-1120,"msg":"Invalid interval."}"#, status: 400) }
        let startTime = request.query["startTime"].flatMap { Int64($0) } ?? start
        let endTime = request.query["endTime"].flatMap { Int64($0) } ?? Int64.max
        let limit = min(request.query["limit"].flatMap { Int($0) } ?? 500, 1000)
        var rows: [String] = []
        for index in 0..<count where !missing.contains(index) {
            let time = openTime(index)
            if time < startTime { continue }
            if time > endTime || rows.count >= limit { break }
            rows.append(row(index))
        }
        return .json("[" + rows.joined(separator: ",") + "]")
    }
}

// MARK: - A synthetic Lighter funding feed

/// Hourly Lighter fundings of market 74 on `[from, to)`, served like `GET /api/v1/fundings`
/// (docs/venues.md §1): query times in ms, `end_timestamp` excluded, answer times in seconds,
/// rate `"0.0012"` (percent), direction `"long"` on even hours since `from` and `"short"` on odd.
/// At most `cap` rows per call (750 per the docs).
struct SyntheticLighterFundings: Sendable {
    var from: Int64 = hourStart
    var to: Int64
    var cap = 750

    static func direction(hourIndex: Int64) -> String { hourIndex % 2 == 0 ? "long" : "short" }

    func answer(_ request: HTTPRequestRecord) -> HTTPResponseSpec {
        guard request.path == "/api/v1/fundings" else { return .json(#"{"code":404,"message":"no route"}"#, status: 404) }
        guard request.query["market_id"] == "74", request.query["resolution"] == "1h",
            let start = request.query["start_timestamp"].flatMap({ Int64($0) }),
            let end = request.query["end_timestamp"].flatMap({ Int64($0) })
        else { return .json(Fixture.lighterInvalidParam, status: 400) }
        var rows: [(seconds: Int64, rate: String, direction: String)] = []
        // First settlement at or after `start`, then hourly.
        var time = start <= from ? from : from + (start - from + hourMS - 1) / hourMS * hourMS
        while time < min(end, to) && rows.count < cap {
            rows.append((time / 1000, "0.0012", Self.direction(hourIndex: (time - from) / hourMS)))
            time += hourMS
        }
        return .json(Fixture.lighterFundings(rows))
    }
}

// MARK: - A synthetic Binance USD-M funding feed

/// NMRUSDT funding every 8 h from `from`, `count` settlements, served like
/// `GET /fapi/v1/fundingRate` (docs/venues.md §5: start and end inclusive, ascending, at most `limit`).
struct SyntheticBinanceFunding: Sendable {
    var from: Int64 = hourStart
    var count: Int

    func time(_ index: Int) -> Int64 { from + Int64(index) * 8 * hourMS }

    func answer(_ request: HTTPRequestRecord) -> HTTPResponseSpec {
        guard request.path == "/fapi/v1/fundingRate" else { return .json(#"{"code":-1,"msg":"no route"}"#, status: 404) }
        let start = request.query["startTime"].flatMap { Int64($0) } ?? from
        let end = request.query["endTime"].flatMap { Int64($0) } ?? Int64.max
        let limit = min(request.query["limit"].flatMap { Int($0) } ?? 100, 1000)
        var rows: [String] = []
        for index in 0..<count where time(index) >= start && time(index) <= end && rows.count < limit {
            rows.append(
                Fixture.binanceFundingRow(symbol: "NMRUSDT", time: time(index), rate: index % 2 == 0 ? "0.00010000" : "-0.00005000"))
        }
        return .json("[" + rows.joined(separator: ",") + "]")
    }
}

// MARK: - Progress

/// Records `(done, expected)` progress reports.
final class ProgressRecorder: Sendable {
    private let reports = Mutex<[(done: Int, expected: Int)]>([])

    var callback: FetchProgress { { [self] done, expected in reports.withLock { $0.append((done, expected)) } } }

    var all: [(done: Int, expected: Int)] { reports.withLock { $0 } }
}

// MARK: - Shared data

/// Reads a recorded payload from ../shared/data/api (nil when the shared folder is absent).
func sharedPayload(_ relative: String) -> [UInt8]? {
    SharedData.data("data/api/" + relative).map { [UInt8]($0) }
}

func hasSharedPayload(_ relative: String) -> Bool { SharedData.file("data/api/" + relative) != nil }
