import Foundation
import PerpModel
import TestSupport
import Testing

@testable import PerpVenues

@Suite("Binance spot klines over loopback")
struct BinanceKlinesTests {
    @Test func klinesPagesThroughAThousandBarsAtATime() async throws {
        let feed = SyntheticKlines(count: 2_500)
        let server = try LoopbackHTTPServer { feed.answer($0) }
        defer { server.stop() }
        let client = BinanceSpotClient(baseURL: server.root, transport: URLSessionTransport(timeout: 5), minimumSpacing: .zero)
        let progress = ProgressRecorder()
        let from = klineStart
        let to = klineStart + 2_500 * minuteMS

        let series = try await client.klines(
            symbol: "NMRUSDT", interval: .minutes(1), from: ms(from), to: ms(to), progress: progress.callback)

        #expect(series.count == 2_500)
        #expect(series == feed.series(from: from, to: to))
        #expect(series.openTimes.first == from)
        #expect(series.openTimes.last == to - minuteMS)
        #expect(zip(series.openTimes, series.openTimes.dropFirst()).allSatisfy { $1 - $0 == minuteMS })

        // Three pages (1000, 1000, 500); each next startTime is the last open time + 1 ms.
        let requests = server.requests
        #expect(requests.count == 3)
        #expect(requests.allSatisfy { $0.method == "GET" && $0.path == "/api/v3/klines" })
        #expect(requests.allSatisfy { $0.query["symbol"] == "NMRUSDT" && $0.query["interval"] == "1m" })
        #expect(requests.allSatisfy { $0.query["limit"] == "1000" && $0.query["endTime"] == String(to - 1) })
        #expect(
            server.queryValues("startTime") == [
                String(from), String(from + 999 * minuteMS + 1), String(from + 1_999 * minuteMS + 1),
            ])

        let reports = progress.all
        #expect(reports.map(\.done) == [1_000, 2_000, 2_500])
        #expect(reports.allSatisfy { $0.expected == 2_500 })
    }

    @Test func klinePagesReportTheSpanEachPageCovers() async throws {
        let feed = SyntheticKlines(count: 2_500)
        let server = try LoopbackHTTPServer { feed.answer($0) }
        defer { server.stop() }
        let client = BinanceSpotClient(baseURL: server.root, transport: URLSessionTransport(timeout: 5), minimumSpacing: .zero)
        let from = klineStart
        let to = klineStart + 2_500 * minuteMS
        var covered: [(Int64, Int64, Int)] = []

        try await client.klinePages(symbol: "NMRUSDT", interval: .minutes(1), from: ms(from), to: ms(to)) { page, span in
            covered.append((span.from.milliseconds, span.to.milliseconds, page.count))
        }

        // A full page covers up to its last bar's close; the short last page covers up to `to`.
        #expect(covered.map(\.0) == [from, from + 999 * minuteMS + 1, from + 1_999 * minuteMS + 1])
        #expect(covered.map(\.1) == [from + 1_000 * minuteMS, from + 2_000 * minuteMS, to])
        #expect(covered.map(\.2) == [1_000, 1_000, 500])
    }

    @Test func anExactMultipleOfThePageEndsOnAnEmptyPage() async throws {
        let feed = SyntheticKlines(count: 2_000)
        let server = try LoopbackHTTPServer { feed.answer($0) }
        defer { server.stop() }
        let client = BinanceSpotClient(baseURL: server.root, transport: URLSessionTransport(timeout: 5), minimumSpacing: .zero)
        let to = klineStart + 2_000 * minuteMS

        let series = try await client.klines(symbol: "NMRUSDT", interval: .minutes(1), from: ms(klineStart), to: ms(to))

        #expect(series.count == 2_000)
        // Two full pages, then one that comes back empty and ends the loop.
        #expect(server.requests.count == 3)
    }

    @Test func anEmptyAnswerEndsTheLoop() async throws {
        let server = try LoopbackHTTPServer { _ in .json("[]") }
        defer { server.stop() }
        let client = BinanceSpotClient(baseURL: server.root, transport: URLSessionTransport(timeout: 5), minimumSpacing: .zero)
        let progress = ProgressRecorder()

        let series = try await client.klines(
            symbol: "NMRUSDT", interval: .minutes(1), from: ms(klineStart), to: ms(klineStart + 5_000 * minuteMS),
            progress: progress.callback)

        #expect(series.isEmpty)
        #expect(server.requests.count == 1)
        #expect(progress.all.last?.done == 0)
        #expect(progress.all.last?.expected == 5_000)
    }

    @Test func aServerThatRepeatsTheSamePageCannotLoopForever() async throws {
        // A broken venue answering the same 1000 bars whatever is asked: the page budget bounds the loop.
        let feed = SyntheticKlines(count: 1_000)
        let page = feed.answer(
            HTTPRequestRecord(
                method: "GET", path: "/api/v3/klines", query: ["interval": "1m", "limit": "1000"], rawTarget: "", headers: [:],
                body: []))
        let server = try LoopbackHTTPServer { _ in page }
        defer { server.stop() }
        let client = BinanceSpotClient(baseURL: server.root, transport: URLSessionTransport(timeout: 5), minimumSpacing: .zero)

        let series = try await client.klines(
            symbol: "NMRUSDT", interval: .minutes(1), from: ms(klineStart), to: ms(klineStart + 10_000 * minuteMS))

        #expect(series.count == 1_000)
        #expect(server.requests.count <= 10_000 / 1_000 + 2)
    }

    @Test func anIntervalBinanceLacksIsNotRetryable() async throws {
        let server = try LoopbackHTTPServer { _ in .json("[]") }
        defer { server.stop() }
        let client = BinanceSpotClient(baseURL: server.root, transport: URLSessionTransport(timeout: 5), minimumSpacing: .zero)

        let error = try await #require(throws: VenueError.self) {
            try await client.klines(symbol: "NMRUSDT", interval: .minutes(7), from: ms(klineStart), to: ms(klineStart + hourMS))
        }
        #expect(error.kind == .notRetryable)
        #expect(error.description.contains("7"))
        #expect(server.requests.isEmpty)
    }

    @Test func intervalNames() {
        #expect(BinanceSpotClient.intervalName(.minutes(1)) == "1m")
        #expect(BinanceSpotClient.intervalName(.minutes(15)) == "15m")
        #expect(BinanceSpotClient.intervalName(.hours(4)) == "4h")
        #expect(BinanceSpotClient.intervalName(.days(1)) == "1d")
        #expect(BinanceSpotClient.intervalName(.days(7)) == "1w")
        #expect(BinanceSpotClient.intervalName(.minutes(7)) == nil)
        #expect(BinanceSpotClient.intervalName(.seconds(1)) == nil)
    }

    @Test func anInvalidSymbolIsNotRetriedAndKeepsBinancesMessage() async throws {
        let server = try LoopbackHTTPServer { _ in .json(Fixture.binanceInvalidSymbol, status: 400) }
        defer { server.stop() }
        let sleeps = SleepRecorder()
        let client = BinanceSpotClient(baseURL: server.root, http: testHTTPClient(venue: "binance-spot", sleeps: sleeps))

        let error = try await #require(throws: VenueError.self) {
            try await client.klines(symbol: "NMRXXX", interval: .minutes(1), from: ms(klineStart), to: ms(klineStart + hourMS))
        }
        #expect(error.kind == .notRetryable)
        #expect(error.description.contains("Invalid symbol."))
        #expect(error.description.contains("-1121"))
        #expect(server.requests.count == 1)
        #expect(sleeps.durations.isEmpty)
    }

    static let realKlines = "binance_spot/real_klines_NMRUSDT_1m_2022-11-08.json"

    @Test(.enabled(if: hasSharedPayload(realKlines), "../shared/data/api/\(realKlines) is absent"))
    func realRecordedPageParses() async throws {
        let payload = try #require(sharedPayload(Self.realKlines))
        let server = try LoopbackHTTPServer { _ in .bytes(payload, contentType: "application/json") }
        defer { server.stop() }
        let client = BinanceSpotClient(baseURL: server.root, transport: URLSessionTransport(timeout: 5), minimumSpacing: .zero)

        let series = try await client.klines(
            symbol: "NMRUSDT", interval: .minutes(1), from: ms(1_667_946_840_000), to: ms(1_667_947_140_000))

        #expect(series.count == 5)
        #expect(series.openTimes == [1_667_946_840_000, 1_667_946_900_000, 1_667_946_960_000, 1_667_947_020_000, 1_667_947_080_000])
        #expect(series[0].close == Price("13.48")!)
        #expect(series[0].volume == .zero)
        #expect(series[4].high == Price("13.53")!)
        #expect(series[4].low == Price("13.48")!)
        #expect(series[4].volume == Quantity("150.4")!)
        // Fewer than 1000 rows: one request.
        #expect(server.requests.count == 1)
    }
}

@Suite("Binance USD-M funding over loopback")
struct BinanceFundingTests {
    @Test func fundingRatesPageByLastFundingTimePlusOne() async throws {
        let feed = SyntheticBinanceFunding(count: 2_100)
        let server = try LoopbackHTTPServer { feed.answer($0) }
        defer { server.stop() }
        let client = BinanceUSDMClient(baseURL: server.root, transport: URLSessionTransport(timeout: 5), minimumSpacing: .zero)
        let to = feed.time(2_100)

        let rates = try await client.fundingRates(symbol: "NMRUSDT", from: ms(feed.from), to: ms(to))

        #expect(rates.count == 2_100)
        #expect(rates.map(\.time.milliseconds) == (0..<2_100).map { feed.time($0) })
        #expect(rates[0].rate == Rate("0.0001")!)
        #expect(rates[1].rate == Rate("-0.00005")!)
        #expect(rates.allSatisfy { $0.interval == .hours(8) })
        #expect(
            server.queryValues("startTime") == [String(feed.from), String(feed.time(999) + 1), String(feed.time(1_999) + 1)])
        #expect(server.requests.allSatisfy { $0.path == "/fapi/v1/fundingRate" && $0.query["limit"] == "1000" })
    }

    static let docex = "binance_usdm/docex_GetFundingRates.json"

    @Test(.enabled(if: hasSharedPayload(docex), "../shared/data/api/\(docex) is absent"))
    func documentedExampleParses() async throws {
        let payload = try #require(sharedPayload(Self.docex))
        let server = try LoopbackHTTPServer { _ in .bytes(payload, contentType: "application/json") }
        defer { server.stop() }
        let client = BinanceUSDMClient(baseURL: server.root, transport: URLSessionTransport(timeout: 5), minimumSpacing: .zero)

        let rates = try await client.fundingRates(symbol: "BTCUSDT", from: ms(1_698_768_000_000), to: ms(1_698_796_800_001))

        #expect(rates.map(\.time.milliseconds) == [1_698_768_000_000, 1_698_796_800_000])
        #expect(rates.allSatisfy { $0.rate == Rate("0.0001")! && $0.interval == .hours(8) })
        #expect(server.requests.first?.query["symbol"] == "BTCUSDT")
    }
}
