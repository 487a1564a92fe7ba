import Foundation
import PerpModel
import PerpStore
import TestSupport
import Testing

@testable import PerpVenues

@Suite("CachedHistory over loopback")
struct CachedHistoryTests {
    static let candleKey = SeriesKey(venue: .binanceSpot, symbol: Symbol("NMRUSDT"), interval: .minutes(1))
    static let lighterKey = SeriesKey(venue: .lighter, symbol: Symbol("market-74"), interval: .hours(1))
    static let binanceFundingKey = SeriesKey(venue: .binanceUSDM, symbol: Symbol("NMRUSDT"), interval: .hours(1))

    /// Long after every bar of the synthetic feeds has closed.
    static let later = ms(klineStart + 100_000 * minuteMS)

    static func minute(_ n: Int64) -> Timestamp { ms(klineStart + n * minuteMS) }
    static func hour(_ n: Int64) -> Timestamp { ms(hourStart + n * hourMS) }

    static func history(_ server: LoopbackHTTPServer) throws -> CachedHistory {
        CachedHistory(
            store: try MarketDataStore.inMemory(), endpoints: endpoints(server), transport: URLSessionTransport(timeout: 5),
            spacing: .zero)
    }

    // MARK: Spot candles

    @Test func aSecondIdenticalCallMakesNoRequest() async throws {
        let feed = SyntheticKlines(count: 2_500)
        let server = try LoopbackHTTPServer { feed.answer($0) }
        defer { server.stop() }
        let history = try Self.history(server)

        let first = try await history.spotCandles(
            symbol: "NMRUSDT", interval: .minutes(1), from: Self.minute(0), to: Self.minute(100), now: Self.later)

        #expect(first == feed.series(from: klineStart, to: Self.minute(100).milliseconds))
        #expect(server.requests.count == 1)
        #expect(try history.store.loadCandles(key: Self.candleKey, from: nil, to: nil) == first)
        #expect(
            try history.store.coveredRanges(of: .candles, key: Self.candleKey) == [
                TimeRange(from: Self.minute(0), to: Self.minute(100))
            ])

        let progress = ProgressRecorder()
        let second = try await history.spotCandles(
            symbol: "NMRUSDT", interval: .minutes(1), from: Self.minute(0), to: Self.minute(100), now: Self.later,
            progress: progress.callback)

        #expect(second == first)
        #expect(server.requests.count == 1)
        #expect(progress.all.last?.done == 100)
        #expect(progress.all.last?.expected == 100)
    }

    @Test func aLongerSpanRequestsOnlyTheMissingPart() async throws {
        let feed = SyntheticKlines(count: 2_500)
        let server = try LoopbackHTTPServer { feed.answer($0) }
        defer { server.stop() }
        let history = try Self.history(server)

        _ = try await history.spotCandles(
            symbol: "NMRUSDT", interval: .minutes(1), from: Self.minute(0), to: Self.minute(100), now: Self.later)
        let progress = ProgressRecorder()
        let longer = try await history.spotCandles(
            symbol: "NMRUSDT", interval: .minutes(1), from: Self.minute(0), to: Self.minute(250), now: Self.later,
            progress: progress.callback)

        #expect(longer == feed.series(from: klineStart, to: Self.minute(250).milliseconds))
        let requests = server.requests
        #expect(requests.count == 2)
        #expect(requests.last?.query["startTime"] == String(Self.minute(100).milliseconds))
        #expect(requests.last?.query["endTime"] == String(Self.minute(250).milliseconds - 1))
        // 100 of 250 bars were already there, then the rest arrived.
        #expect(progress.all.first?.done == 100)
        #expect(progress.all.last?.done == 250)
        #expect(progress.all.allSatisfy { $0.expected == 250 })
    }

    @Test func onlyTheHoleBetweenTwoCachedSpansIsRequested() async throws {
        let feed = SyntheticKlines(count: 2_500)
        let server = try LoopbackHTTPServer { feed.answer($0) }
        defer { server.stop() }
        let history = try Self.history(server)

        _ = try await history.spotCandles(
            symbol: "NMRUSDT", interval: .minutes(1), from: Self.minute(0), to: Self.minute(100), now: Self.later)
        _ = try await history.spotCandles(
            symbol: "NMRUSDT", interval: .minutes(1), from: Self.minute(200), to: Self.minute(300), now: Self.later)
        let all = try await history.spotCandles(
            symbol: "NMRUSDT", interval: .minutes(1), from: Self.minute(0), to: Self.minute(300), now: Self.later)

        #expect(all == feed.series(from: klineStart, to: Self.minute(300).milliseconds))
        #expect(server.requests.count == 3)
        #expect(server.requests.last?.query["startTime"] == String(Self.minute(100).milliseconds))
        #expect(server.requests.last?.query["endTime"] == String(Self.minute(200).milliseconds - 1))
        #expect(
            try history.store.coveredRanges(of: .candles, key: Self.candleKey) == [
                TimeRange(from: Self.minute(0), to: Self.minute(300))
            ])
    }

    @Test func aVenueGapIsRecordedAndNotRequestedAgain() async throws {
        // No bars at minutes 1200..<1300.
        let feed = SyntheticKlines(count: 2_500, missing: 1_200..<1_300)
        let server = try LoopbackHTTPServer { feed.answer($0) }
        defer { server.stop() }
        let history = try Self.history(server)

        let gap = try await history.spotCandles(
            symbol: "NMRUSDT", interval: .minutes(1), from: Self.minute(1_200), to: Self.minute(1_300), now: Self.later)

        #expect(gap.isEmpty)
        #expect(server.requests.count == 1)
        #expect(
            try history.store.coveredRanges(of: .candles, key: Self.candleKey) == [
                TimeRange(from: Self.minute(1_200), to: Self.minute(1_300))
            ])

        let again = try await history.spotCandles(
            symbol: "NMRUSDT", interval: .minutes(1), from: Self.minute(1_200), to: Self.minute(1_300), now: Self.later)
        #expect(again.isEmpty)
        #expect(server.requests.count == 1)
    }

    @Test func aSpanAcrossAGapKeepsTheBarsAroundIt() async throws {
        let feed = SyntheticKlines(count: 2_500, missing: 1_200..<1_300)
        let server = try LoopbackHTTPServer { feed.answer($0) }
        defer { server.stop() }
        let history = try Self.history(server)

        let series = try await history.spotCandles(
            symbol: "NMRUSDT", interval: .minutes(1), from: Self.minute(1_150), to: Self.minute(1_350), now: Self.later)

        #expect(series.count == 100)
        #expect(series == feed.series(from: Self.minute(1_150).milliseconds, to: Self.minute(1_350).milliseconds))
        _ = try await history.spotCandles(
            symbol: "NMRUSDT", interval: .minutes(1), from: Self.minute(1_150), to: Self.minute(1_350), now: Self.later)
        #expect(server.requests.count == 1)
    }

    @Test func theBarOpenAtNowIsNotCached() async throws {
        let feed = SyntheticKlines(count: 2_500)
        let server = try LoopbackHTTPServer { feed.answer($0) }
        defer { server.stop() }
        let history = try Self.history(server)
        // 20 s into the bar that opened at minute 30.
        let now = ms(Self.minute(30).milliseconds + 20_000)

        let early = try await history.spotCandles(
            symbol: "NMRUSDT", interval: .minutes(1), from: Self.minute(0), to: Self.minute(60), now: now)

        #expect(early.count == 30)
        #expect(early.openTimes.last == Self.minute(29).milliseconds)
        #expect(server.requests.first?.query["endTime"] == String(Self.minute(30).milliseconds - 1))
        #expect(try history.store.loadCandles(key: Self.candleKey, from: nil, to: nil).count == 30)
        #expect(
            try history.store.coveredRanges(of: .candles, key: Self.candleKey) == [
                TimeRange(from: Self.minute(0), to: Self.minute(30))
            ])

        // Once those bars have closed, only they are fetched.
        let full = try await history.spotCandles(
            symbol: "NMRUSDT", interval: .minutes(1), from: Self.minute(0), to: Self.minute(60), now: Self.minute(60))
        #expect(full == feed.series(from: klineStart, to: Self.minute(60).milliseconds))
        #expect(server.requests.count == 2)
        #expect(server.requests.last?.query["startTime"] == String(Self.minute(30).milliseconds))
    }

    @Test func aSpanThatHasNotClosedYetMakesNoRequest() async throws {
        let feed = SyntheticKlines(count: 2_500)
        let server = try LoopbackHTTPServer { feed.answer($0) }
        defer { server.stop() }
        let history = try Self.history(server)

        let series = try await history.spotCandles(
            symbol: "NMRUSDT", interval: .minutes(1), from: Self.minute(10), to: Self.minute(20), now: ms(Self.minute(10).milliseconds + 5))

        #expect(series.isEmpty)
        #expect(server.requests.isEmpty)
    }

    @Test func aFailedFetchKeepsThePagesAlreadySaved() async throws {
        // The second page fails for good: the first page stays cached and is not asked for again.
        let feed = SyntheticKlines(count: 2_500)
        let server = try LoopbackHTTPServer { request in
            request.query["startTime"] == String(klineStart) ? feed.answer(request) : .json(Fixture.binanceInvalidSymbol, status: 400)
        }
        defer { server.stop() }
        let history = try Self.history(server)

        await #expect(throws: VenueError.self) {
            try await history.spotCandles(
                symbol: "NMRUSDT", interval: .minutes(1), from: Self.minute(0), to: Self.minute(1_500), now: Self.later)
        }
        #expect(try history.store.loadCandles(key: Self.candleKey, from: nil, to: nil).count == 1_000)
        #expect(
            try history.store.coveredRanges(of: .candles, key: Self.candleKey) == [
                TimeRange(from: Self.minute(0), to: Self.minute(1_000))
            ])
        #expect(server.requests.count == 2)
    }

    // MARK: Funding

    @Test func lighterFundingIsFetchedOnce() async throws {
        let feed = SyntheticLighterFundings(to: hourStart + 1_000 * hourMS)
        let server = try LoopbackHTTPServer { feed.answer($0) }
        defer { server.stop() }
        let history = try Self.history(server)
        let now = ms(Self.hour(48).milliseconds + 30 * minuteMS)

        let first = try await history.lighterFunding(marketID: 74, from: Self.hour(0), to: Self.hour(48), now: now)
        let second = try await history.lighterFunding(marketID: 74, from: Self.hour(0), to: Self.hour(48), now: now)

        #expect(first.count == 48)
        #expect(first.first?.rate == Rate("0.000012")!)
        #expect(first.dropFirst().first?.rate == Rate("-0.000012")!)
        #expect(second == first)
        #expect(server.requests.count == 1)
        #expect(
            try history.store.coveredRanges(of: .funding, key: Self.lighterKey) == [TimeRange(from: Self.hour(0), to: Self.hour(48))])
    }

    @Test func lighterFundingStopsAtTheCurrentHourAndLaterFetchesTheRest() async throws {
        let feed = SyntheticLighterFundings(to: hourStart + 1_000 * hourMS)
        let server = try LoopbackHTTPServer { feed.answer($0) }
        defer { server.stop() }
        let history = try Self.history(server)

        let early = try await history.lighterFunding(
            marketID: 74, from: Self.hour(0), to: Self.hour(48), now: ms(Self.hour(24).milliseconds + 10 * minuteMS))
        #expect(early.count == 24)
        #expect(server.requests.first?.query["end_timestamp"] == String(Self.hour(24).milliseconds))

        let all = try await history.lighterFunding(marketID: 74, from: Self.hour(0), to: Self.hour(48), now: Self.hour(100))
        #expect(all.count == 48)
        #expect(server.requests.count == 2)
        #expect(server.requests.last?.query["start_timestamp"] == String(Self.hour(24).milliseconds))
    }

    @Test func binanceFundingIsFetchedOnce() async throws {
        let feed = SyntheticBinanceFunding(count: 30)
        let server = try LoopbackHTTPServer { feed.answer($0) }
        defer { server.stop() }
        let history = try Self.history(server)

        let first = try await history.binanceFunding(symbol: "NMRUSDT", from: Self.hour(0), to: Self.hour(72), now: Self.hour(1_000))
        let second = try await history.binanceFunding(symbol: "NMRUSDT", from: Self.hour(0), to: Self.hour(72), now: Self.hour(1_000))

        #expect(first.count == 9)
        #expect(first.map(\.time) == (0..<9).map { ms(feed.time($0)) })
        #expect(first.first?.rate == Rate("0.0001")!)
        #expect(second == first)
        #expect(server.requests.count == 1)
        #expect(
            try history.store.coveredRanges(of: .funding, key: Self.binanceFundingKey) == [
                TimeRange(from: Self.hour(0), to: Self.hour(72))
            ])
    }
}

@Suite("VenueEndpoints.fromEnvironment")
struct VenueEndpointsTests {
    static let keys = VenueEndpoints.environmentKeys

    @Test func environmentKeyNames() {
        #expect(Self.keys.binanceSpot == "NMRPERP_BINANCE_SPOT_URL")
        #expect(Self.keys.binanceUSDM == "NMRPERP_BINANCE_USDM_URL")
        #expect(Self.keys.lighter == "NMRPERP_LIGHTER_URL")
        #expect(Self.keys.numerai == "NMRPERP_NUMERAI_URL")
    }

    @Test func anEmptyEnvironmentGivesProduction() {
        let endpoints = VenueEndpoints.fromEnvironment([:])
        #expect(endpoints == .production)
        #expect(endpoints.binanceSpot.absoluteString == "https://api.binance.com")
        #expect(endpoints.binanceUSDM.absoluteString == "https://fapi.binance.com")
        #expect(endpoints.lighter.absoluteString == "https://mainnet.zklighter.elliot.ai")
        #expect(endpoints.numerai.absoluteString == "https://api-tournament.numer.ai")
    }

    @Test func everyVariableIsPickedUp() {
        let endpoints = VenueEndpoints.fromEnvironment([
            Self.keys.binanceSpot: "http://127.0.0.1:9001", Self.keys.binanceUSDM: "http://127.0.0.1:9002",
            Self.keys.lighter: "http://127.0.0.1:9003", Self.keys.numerai: "http://127.0.0.1:9004/graphql",
            "UNRELATED": "http://example.invalid",
        ])
        #expect(endpoints.binanceSpot == URL(string: "http://127.0.0.1:9001")!)
        #expect(endpoints.binanceUSDM == URL(string: "http://127.0.0.1:9002")!)
        #expect(endpoints.lighter == URL(string: "http://127.0.0.1:9003")!)
        #expect(endpoints.numerai == URL(string: "http://127.0.0.1:9004/graphql")!)
    }

    @Test(arguments: 0..<4)
    func eachVariableAloneChangesOnlyItsVenue(which: Int) {
        let names = [Self.keys.binanceSpot, Self.keys.binanceUSDM, Self.keys.lighter, Self.keys.numerai]
        let replay = URL(string: "http://127.0.0.1:8080")!
        let endpoints = VenueEndpoints.fromEnvironment([names[which]: replay.absoluteString])
        let got = [endpoints.binanceSpot, endpoints.binanceUSDM, endpoints.lighter, endpoints.numerai]
        let production = [
            VenueEndpoints.production.binanceSpot, VenueEndpoints.production.binanceUSDM, VenueEndpoints.production.lighter,
            VenueEndpoints.production.numerai,
        ]
        for index in 0..<4 {
            #expect(got[index] == (index == which ? replay : production[index]), "venue \(index)")
        }
    }

    @Test func anEmptyValueFallsBackToProduction() {
        let endpoints = VenueEndpoints.fromEnvironment([Self.keys.lighter: "", Self.keys.numerai: ""])
        #expect(endpoints == .production)
    }

    @Test func clientsReachTheOverriddenURL() async throws {
        let server = try LoopbackHTTPServer { _ in .json(Fixture.numeraiStake) }
        defer { server.stop() }
        let endpoints = VenueEndpoints.fromEnvironment([Self.keys.numerai: server.baseURL])

        let stake = try await NumeraiClient(baseURL: endpoints.numerai, transport: URLSessionTransport(timeout: 5), minimumSpacing: .zero)
            .stake(model: ModelName("uuazed")!)

        #expect(stake == Quantity("14.63")!)
        #expect(server.requests.count == 1)
    }
}
