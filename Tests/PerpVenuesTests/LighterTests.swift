import Foundation
import PerpModel
import TestSupport
import Testing

@testable import PerpVenues

@Suite("Lighter over loopback")
struct LighterTests {
    static let orderBook = "lighter/real_orderBookDetails_NMR_SOL_trimmed.json"
    static let fundingDocex = "lighter/docex_GetFundingRateHistory.json"

    static func client(_ server: LoopbackHTTPServer) -> LighterClient {
        LighterClient(baseURL: server.root, transport: URLSessionTransport(timeout: 5), minimumSpacing: .zero)
    }

    // MARK: orderBookDetails

    @Test(.enabled(if: hasSharedPayload(orderBook), "../shared/data/api/\(orderBook) is absent"))
    func realOrderBookDetailsGiveNMRsFractionsAndMark() async throws {
        let payload = try #require(sharedPayload(Self.orderBook))
        let server = try LoopbackHTTPServer { _ in .bytes(payload, contentType: "application/json") }
        defer { server.stop() }

        let market = try await Self.client(server).market(id: 74)

        #expect(market.symbol == "NMR")
        #expect(market.marketID == 74)
        #expect(market.maintenanceFraction == Rate("0.2")!)
        #expect(market.minInitialFraction == Rate("0.3333")!)
        #expect(market.defaultInitialFraction == Rate("0.6666")!)
        #expect(market.closeoutFraction == nil)
        #expect(market.markPrice == Price("8.4603")!)
        #expect(market.referencePrice == Price("8.4603")!)
        #expect(market.sizeDecimals == 2)
        let request = try #require(server.requests.first)
        #expect(request.method == "GET")
        #expect(request.path == "/api/v1/orderBookDetails")
        #expect(request.query == ["market_id": "74"])
    }

    @Test(.enabled(if: hasSharedPayload(orderBook), "../shared/data/api/\(orderBook) is absent"))
    func realOrderBookDetailsPickTheRequestedMarket() async throws {
        let payload = try #require(sharedPayload(Self.orderBook))
        let server = try LoopbackHTTPServer { _ in .bytes(payload, contentType: "application/json") }
        defer { server.stop() }

        let sol = try await Self.client(server).market(id: 2)

        #expect(sol.symbol == "SOL")
        #expect(sol.maintenanceFraction == Rate("0.024")!)
        #expect(sol.minInitialFraction == Rate("0.04")!)
        #expect(sol.defaultInitialFraction == Rate("0.1")!)
        #expect(sol.markPrice == Price("75.46")!)
    }

    @Test(.enabled(if: hasSharedPayload(orderBook), "../shared/data/api/\(orderBook) is absent"))
    func anUnknownMarketIsNotRetryable() async throws {
        let payload = try #require(sharedPayload(Self.orderBook))
        let server = try LoopbackHTTPServer { _ in .bytes(payload, contentType: "application/json") }
        defer { server.stop() }

        let error = try await #require(throws: VenueError.self) { try await Self.client(server).market(id: 999) }
        #expect(error.kind == .notRetryable)
        #expect(error.description.contains("market 999"))
        #expect(server.requests.count == 1)
    }

    @Test func anUnknownMarketInAnOwnFixtureIsNotRetryable() async throws {
        let server = try LoopbackHTTPServer { _ in .json(Fixture.lighterOrderBookDetailsStringFractions) }
        defer { server.stop() }

        let error = try await #require(throws: VenueError.self) { try await Self.client(server).market(id: 999) }
        #expect(error.kind == .notRetryable)
        #expect(error.description.contains("market 999"))
    }

    @Test func fractionsSentAsStringsAreAccepted() async throws {
        let server = try LoopbackHTTPServer { _ in .json(Fixture.lighterOrderBookDetailsStringFractions) }
        defer { server.stop() }

        let market = try await Self.client(server).market(id: 74)

        #expect(market.maintenanceFraction == Rate("0.2")!)
        #expect(market.minInitialFraction == Rate("0.3333")!)
        #expect(market.defaultInitialFraction == Rate("0.6666")!)
        #expect(market.closeoutFraction == Rate("0.12")!)
        #expect(market.markPrice == Price("8.4603")!)
        #expect(market.lastTradePrice == Price("8.4606")!)
        #expect(market.priceDecimals == 4)
    }

    @Test func withoutAMarkPriceTheLastTradeIsTheReference() async throws {
        let server = try LoopbackHTTPServer { _ in .json(Fixture.lighterOrderBookDetailsNoMark) }
        defer { server.stop() }

        let market = try await Self.client(server).market(id: 74)

        #expect(market.markPrice == nil)
        #expect(market.referencePrice == Price("8.5")!)
    }

    @Test func anAnswerWithoutOrderBookDetailsIsNotRetryable() async throws {
        let server = try LoopbackHTTPServer { _ in .json(#"{"code":200}"#) }
        defer { server.stop() }

        let error = try await #require(throws: VenueError.self) { try await Self.client(server).market(id: 74) }
        #expect(error.kind == .notRetryable)
        #expect(error.description.contains("order_book_details"))
    }

    // MARK: fundings

    @Test func fundingsOver600HoursPageIn500HourWindows() async throws {
        let from = hourStart
        let to = hourStart + 600 * hourMS
        let feed = SyntheticLighterFundings(to: to)
        let server = try LoopbackHTTPServer { feed.answer($0) }
        defer { server.stop() }
        let progress = ProgressRecorder()

        let rates = try await Self.client(server).fundings(marketID: 74, from: ms(from), to: ms(to), progress: progress.callback)

        #expect(rates.count == 600)
        #expect(rates.map(\.time.milliseconds) == (0..<600).map { from + $0 * hourMS })
        #expect(rates.allSatisfy { $0.interval == .hours(1) })
        // "0.0012" percent per hour: +0.000012 when longs pay, −0.000012 when shorts pay.
        #expect(rates[0].rate == Rate("0.000012")!)
        #expect(rates[1].rate == Rate("-0.000012")!)
        #expect(rates.enumerated().allSatisfy { $1.rate == ($0 % 2 == 0 ? Rate("0.000012")! : Rate("-0.000012")!) })

        let requests = server.requests
        #expect(requests.count == 2)
        #expect(requests.allSatisfy { $0.path == "/api/v1/fundings" && $0.method == "GET" })
        #expect(requests.allSatisfy { $0.query["market_id"] == "74" && $0.query["resolution"] == "1h" })
        #expect(requests.allSatisfy { $0.query["count_back"] == "0" })
        // Milliseconds, in windows of 500 hours.
        #expect(server.queryValues("start_timestamp") == [String(from), String(from + 500 * hourMS)])
        #expect(server.queryValues("end_timestamp") == [String(from + 500 * hourMS), String(to)])

        #expect(progress.all.map(\.done) == [500, 600])
        #expect(progress.all.allSatisfy { $0.expected == 600 })
    }

    @Test func directionGivesTheSign() async throws {
        let server = try LoopbackHTTPServer { _ in
            .json(
                Fixture.lighterFundings([
                    (hourStart / 1000, "0.0012", "short"), (hourStart / 1000 + 3_600, "0.0012", "long"),
                    (hourStart / 1000 + 7_200, "0.0500", "short"),
                ]))
        }
        defer { server.stop() }

        let rates = try await Self.client(server).fundings(marketID: 74, from: ms(hourStart), to: ms(hourStart + 3 * hourMS))

        #expect(rates.map(\.rate) == [Rate("-0.000012")!, Rate("0.000012")!, Rate("-0.0005")!])
        #expect(rates.map(\.time) == [ms(hourStart), ms(hourStart + hourMS), ms(hourStart + 2 * hourMS)])
    }

    @Test func rowsOutsideTheWindowAndRepeatsAreDropped() async throws {
        // A server that ignores the window: every call answers the same four hours, two of them
        // before `from` and one at the exclusive end.
        let seconds = hourStart / 1000
        let server = try LoopbackHTTPServer { _ in
            .json(
                Fixture.lighterFundings([
                    (seconds - 3_600, "0.0012", "long"), (seconds, "0.0012", "long"), (seconds + 3_600, "0.0012", "short"),
                    (seconds + 7_200, "0.0012", "long"),
                ]))
        }
        defer { server.stop() }

        let rates = try await Self.client(server).fundings(marketID: 74, from: ms(hourStart), to: ms(hourStart + 2 * hourMS))

        #expect(rates.map(\.time) == [ms(hourStart), ms(hourStart + hourMS)])
    }

    @Test func emptyPagesGiveNoRates() async throws {
        let server = try LoopbackHTTPServer { _ in .json(Fixture.lighterFundings([])) }
        defer { server.stop() }

        let rates = try await Self.client(server).fundings(marketID: 74, from: ms(hourStart), to: ms(hourStart + 1_200 * hourMS))

        #expect(rates.isEmpty)
        #expect(server.requests.count == 3)
    }

    /// docs/venues.md §1: NautilusTrader pages Lighter fundings at 100 rows ("the venue per-call
    /// cap"); the docs say at most 750. "Treat 750 as an upper bound and page by time until a page
    /// comes back empty." The client asks for fixed 500-hour windows and moves on to the next
    /// window whatever came back, so a venue that stops at 100 rows loses hours 100–499 of every
    /// window (and CachedHistory then records them as fetched).
    @Test func aVenueCappingRowsPerCallLosesNoHours() async throws {
        let from = hourStart
        let to = hourStart + 600 * hourMS
        let feed = SyntheticLighterFundings(to: to, cap: 100)
        let server = try LoopbackHTTPServer { feed.answer($0) }
        defer { server.stop() }

        let rates = try await Self.client(server).fundings(marketID: 74, from: ms(from), to: ms(to))

        #expect(rates.count == 600)
        #expect(server.requests.count <= 20)
    }

    @Test(.enabled(if: hasSharedPayload(fundingDocex), "../shared/data/api/\(fundingDocex) is absent"))
    func documentedFundingExampleParses() async throws {
        // The docs example carries `timestamp` as a string ("1640995200"): accepted too.
        let payload = try #require(sharedPayload(Self.fundingDocex))
        let server = try LoopbackHTTPServer { _ in .bytes(payload, contentType: "application/json") }
        defer { server.stop() }

        let rates = try await Self.client(server).fundings(marketID: 74, from: ms(1_640_995_200_000), to: ms(1_640_998_800_000))

        #expect(rates.count == 1)
        #expect(rates.first?.time == ms(1_640_995_200_000))
        #expect(rates.first?.rate == Rate("0.000001")!)
        #expect(rates.first?.interval == .hours(1))
    }
}
