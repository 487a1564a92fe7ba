import Foundation
import PerpEngine
import PerpLive
import PerpModel
import PerpSimulation
import PerpStore
import PerpVenues
import Synchronization
import TestSupport
import Testing

/// A clock the test moves: `sleep(until:)` jumps to the time at once.
final class ManualClock: PaperClock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Timestamp
    init(_ start: Timestamp) { current = start }
    func now() -> Timestamp { lock.withLock { current } }
    func set(_ time: Timestamp) { lock.withLock { current = time } }
    func sleep(until time: Timestamp) async throws {
        try Task.checkCancellation()
        lock.withLock { if time > current { current = time } }
    }
}

/// A Binance USD-M market on 127.0.0.1 that replays recorded bars and settlements in the
/// venue's wire format, showing only what exists at the clock's time (the bar still forming
/// included, as the venue does).
final class ReplayExchange: @unchecked Sendable {
    let bars: [Candle]
    let settlements: [(time: Int64, rate: String, mark: String)]
    let clock: ManualClock
    let interval: Int64 = 900_000
    private let lock = NSLock()
    /// Responses to give instead, in order, for the next kline requests (503s, bad rows).
    private var klineOverrides: [HTTPResponseSpec] = []
    /// Open times of bars the venue never publishes (a gap in its bars).
    private var hidden: Set<Int64> = []
    private(set) var server: LoopbackHTTPServer!

    init(bars: [Candle], settlements: [(time: Int64, rate: String, mark: String)], clock: ManualClock) throws {
        self.bars = bars
        self.settlements = settlements
        self.clock = clock
        server = try LoopbackHTTPServer { [unowned self] request in self.respond(request) }
    }

    func override(next responses: [HTTPResponseSpec]) { lock.withLock { klineOverrides += responses } }
    func hide(_ openTimes: some Sequence<Int64>) { lock.withLock { hidden.formUnion(openTimes) } }
    /// Kline requests served so far.
    var klineRequests: Int { server.requests.filter { $0.path == "/fapi/v1/klines" }.count }

    static func row(_ bar: Candle, interval: Int64) -> String {
        let close = bar.openTime.milliseconds + interval - 1
        return
            #"[\#(bar.openTime.milliseconds),"\#(bar.open)","\#(bar.high)","\#(bar.low)","\#(bar.close)","\#(bar.volume)",\#(close),"0",10,"0","0","0"]"#
    }

    func respond(_ request: HTTPRequestRecord) -> HTTPResponseSpec {
        let now = clock.now().milliseconds
        switch request.path {
        case "/fapi/v1/klines":
            if let override = lock.withLock({ klineOverrides.isEmpty ? nil : klineOverrides.removeFirst() }) { return override }
            let start = Int64(request.query["startTime"] ?? "0") ?? 0
            let limit = Int(request.query["limit"] ?? "500") ?? 500
            let hidden = lock.withLock { self.hidden }
            let rows = bars.lazy.filter {
                $0.openTime.milliseconds >= start && $0.openTime.milliseconds <= now && !hidden.contains($0.openTime.milliseconds)
            }.prefix(limit)
            return .json("[" + rows.map { Self.row($0, interval: self.interval) }.joined(separator: ",") + "]")
        case "/fapi/v1/fundingRate":
            let start = Int64(request.query["startTime"] ?? "0") ?? 0
            let end = Int64(request.query["endTime"] ?? "\(Int64.max)") ?? .max
            let rows = settlements.filter { $0.time >= start && $0.time <= end && $0.time <= now }.map {
                #"{"symbol":"NMRUSDT","fundingTime":\#($0.time),"fundingRate":"\#($0.rate)","markPrice":"\#($0.mark)"}"#
            }
            return .json("[" + rows.joined(separator: ",") + "]")
        default:
            return .json(#"{"code":-1121,"msg":"Invalid symbol."}"#, status: 400)
        }
    }
}

func walk(seed: UInt64, bars count: Int) -> [Candle] { SyntheticBars.walk(seed: seed, bars: count) }

@Suite struct PaperTraderTests {
    static let start = SyntheticBars.start

    static func settings(name: String = "test") -> PaperSettings {
        var bot = BotConfig()
        bot.minAgreeingSignals = 1
        bot.entryThreshold = 0.15
        var venue = VenueConfig()
        venue.lotSize = Quantity("0.1")!
        venue.maintenanceFraction = Rate("0.05")!
        var settings = PaperSettings(name: name, bot: bot, botText: "# eager test bot", venue: venue)
        settings.interval = .minutes(15)
        settings.warmup = .hours(24)
        return settings
    }

    static func settlements(_ bars: [Candle]) -> [(time: Int64, rate: String, mark: String)] {
        stride(from: 16, to: bars.count, by: 16).map { index in
            (bars[index].openTime.milliseconds + 7, index % 3 == 0 ? "0.0021" : "-0.0004", "\(bars[index].open)")
        }
    }

    static func trader(_ exchange: ReplayExchange, store: PaperStore, clock: ManualClock, settings: PaperSettings = settings())
        -> PaperTrader
    {
        // One try per request, as `nmrperp paper` does: the loop retries on the manual clock.
        let client = BinanceUSDMClient(baseURL: exchange.server.url("/"), minimumSpacing: .zero, maxAttempts: 1)
        return PaperTrader(
            settings: settings, store: store, feed: BinanceUSDMPaperFeed(client: client, symbol: "NMRUSDT", interval: .minutes(15)),
            clock: clock)
    }

    static func temporaryPath(_ name: String) -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-paper-\(UUID().uuidString)")
        return folder.appendingPathComponent(name).path
    }

    /// The first live bar: 96 bars (24 h) of history exist before it.
    static let firstLive = Timestamp(milliseconds: start + 96 * 900_000 + 900_000 + 2_000)

    @Test func aRestartInTheMiddleContinuesWithNothingLostOrDuplicated() async throws {
        let bars = walk(seed: 21, bars: 700)
        // One uninterrupted session.
        let clockA = ManualClock(Self.firstLive)
        let exchangeA = try ReplayExchange(bars: bars, settlements: Self.settlements(bars), clock: clockA)
        let storeA = try PaperStore(path: Self.temporaryPath("a.sqlite"))
        var continuous = Self.trader(exchangeA, store: storeA, clock: clockA)
        try continuous.start()
        try await continuous.run(maxPolls: 560) { _ in }

        // The same market, stopped after 230 polls and started again by a new process.
        let clockB = ManualClock(Self.firstLive)
        let exchangeB = try ReplayExchange(bars: bars, settlements: Self.settlements(bars), clock: clockB)
        let path = Self.temporaryPath("b.sqlite")
        var first = Self.trader(exchangeB, store: try PaperStore(path: path), clock: clockB)
        try first.start()
        try await first.run(maxPolls: 230) { _ in }
        let positionAtStop = first.session.account.position
        let journalAtStop = try first.store.journal().count
        var second = Self.trader(exchangeB, store: try PaperStore(path: path), clock: clockB)
        let replayed = try second.start()
        #expect(replayed > 230)
        #expect(second.session.account.position == positionAtStop, "the position comes back after the restart")
        #expect(second.session.journal.count == journalAtStop)
        // (its first poll finds nothing new: the first process stopped right after a poll)
        try await second.run(maxPolls: 331) { _ in }

        #expect(clockA.now() == clockB.now())
        let journal = try second.store.journal()
        #expect(journal == (try storeA.journal()), "the restarted session's journal is the uninterrupted one's")
        #expect(
            journal.filter { $0.event == .entry }.count >= 3, "the session traded (\(journal.filter { $0.event == .entry }.count) entries)")
        #expect(second.session.venue.fillHistory == continuous.session.venue.fillHistory)
        #expect(second.session.account == continuous.session.account)
        #expect(second.session.record == continuous.session.record)
        #expect(second.session.venue.fundingHistory.count > 0, "funding was settled on open positions")
        // Each bar went in once.
        let events = try second.store.events()
        let barTimes = events.compactMap { event -> Int64? in
            if case .bar(let bar) = event { return bar.openTime.milliseconds }
            return nil
        }
        #expect(Set(barTimes).count == barTimes.count)
        #expect(barTimes == barTimes.sorted())
        // Warm-up bars were catch-up (no entries), the rest live.
        #expect(continuous.session.record.liveBars == 560)
        // (entries are stamped at the close that decided them; the first live bar closed 2 s before.)
        #expect(!journal.contains { $0.event == .entry && $0.time < Self.firstLive - .seconds(2) })
    }

    @Test func downtimeIsCaughtUpWithoutEntriesThenTradingResumes() async throws {
        let bars = walk(seed: 21, bars: 700)
        let clock = ManualClock(Self.firstLive)
        let exchange = try ReplayExchange(bars: bars, settlements: Self.settlements(bars), clock: clock)
        let path = Self.temporaryPath("down.sqlite")
        var first = Self.trader(exchange, store: try PaperStore(path: path), clock: clock)
        try first.start()
        try await first.run(maxPolls: 50) { _ in }
        // Down for 12 hours.
        let down = clock.now()
        clock.set(down + .hours(12))
        var second = Self.trader(exchange, store: try PaperStore(path: path), clock: clock)
        try second.start()
        let status = try await second.poll()
        #expect(status.newBars >= 47)
        #expect(status.live, "the last bar fetched is current")
        let rows = status.newJournalRows
        #expect(rows.first?.event == .staleFeed)
        #expect(rows.last { $0.event == .stateChange }?.reason.contains("feed live") == true)
        #expect(!rows.contains { $0.event == .entry && $0.time < clock.now() - .minutes(30) }, "no entry on catch-up bars")
        #expect(second.session.record.liveBars == 50 + 1)
        #expect(second.session.record.staleEpisodes == 2, "warm-up and downtime")
    }

    @Test func badRowsAndVenueErrorsAreReportedAndTheBotKeepsRunning() async throws {
        let bars = walk(seed: 5, bars: 300)
        let clock = ManualClock(Self.firstLive)
        let exchange = try ReplayExchange(bars: bars, settlements: [], clock: clock)
        var trader = Self.trader(exchange, store: try PaperStore.inMemory(), clock: clock)
        try trader.start()
        try await trader.run(maxPolls: 3) { _ in }
        let next = bars[Int((clock.now().milliseconds - Self.start) / 900_000) - 1]
        let nan =
            #"[[\#(next.openTime.milliseconds),"NaN","20.1","19.9","20.0","100",\#(next.openTime.milliseconds + 899_999),"0",1,"0","0","0"]]"#
        exchange.override(next: [.json(nan), .status(418), .json(#"{"code":-1121,"msg":"Invalid symbol."}"#, status: 400)])
        var reports: [PaperStatus] = []
        try await trader.run(maxPolls: 1) { reports.append($0) }
        #expect(reports.last?.newJournalRows.map(\.event) == [.badData])
        #expect(reports.last?.newJournalRows.first?.reason.contains("NaN") == true)
        // An IP ban (418) is fatal: the loop stops with it, state intact.
        await #expect(throws: VenueError.self) { try await trader.run(maxPolls: 1) { _ in } }
        await #expect(throws: VenueError.self) { try await trader.run(maxPolls: 1) { _ in } }
        // The feed comes back: the bot goes on from where it was, the bad bar reported once.
        try await trader.run(maxPolls: 5) { reports.append($0) }
        #expect(trader.session.record.badData == 1)
        #expect(reports.last?.problem == nil)
        #expect(trader.session.account.bars > 100)
    }

    @Test func changedSettingsAreRefused() async throws {
        let bars = walk(seed: 5, bars: 200)
        let clock = ManualClock(Self.firstLive)
        let exchange = try ReplayExchange(bars: bars, settlements: [], clock: clock)
        let path = Self.temporaryPath("settings.sqlite")
        var trader = Self.trader(exchange, store: try PaperStore(path: path), clock: clock)
        try trader.start()
        var other = Self.settings()
        other.capital = Notional(5_000)
        var changed = Self.trader(exchange, store: try PaperStore(path: path), clock: clock, settings: other)
        #expect(throws: PaperError.self) { try changed.start() }
        // Another store kind refuses the file.
        #expect(throws: StoreError.self) { _ = try JournalStore(path: path) }
        #expect(throws: StoreError.self) { _ = try MarketDataStore(path: path) }
    }
}

@Suite struct PaperSignalTests {
    @Test func everyEventKindReadsBackExactly() throws {
        let store = try PaperStore.inMemory()
        let bar = walk(seed: 1, bars: 1)[0]
        let events: [PaperEvent] = [
            .feed(live: false, at: bar.openTime, reason: "catching up"), .bar(bar),
            .funding(FundingRate(time: bar.openTime + .hours(1), rate: Rate("-0.000125")!, interval: .hours(4)), mark: Price("19.87")!),
            .funding(FundingRate(time: bar.openTime + .hours(5), rate: Rate("0.0001")!, interval: .hours(4)), mark: nil),
            .badData(reason: "kline row 2: \"NaN\"", at: bar.openTime), .signal(.staked, value: 1_234.5678, at: bar.openTime),
            .signal(.sentiment, value: -0.25, at: bar.openTime), .feed(live: true, at: bar.openTime, reason: "current"),
        ]
        try store.append(events, journal: [], received: bar.openTime)
        #expect(try store.events() == events)
    }

    @Test func signalFilesFeedNewLinesOnceAndTheStakeDropReachesTheKernel() async throws {
        let bars = walk(seed: 21, bars: 700)
        let clock = ManualClock(PaperTraderTests.firstLive)
        let exchange = try ReplayExchange(bars: bars, settlements: [], clock: clock)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-signals-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        // Staked NMR: flat, then a 20 % drop published one day into the session.
        let start = PaperTraderTests.start
        var lines = ["time_ms,value"]
        for day in 0..<6 { lines.append("\(start + Int64(day) * 86_400_000),\(day < 2 ? 1000 : 800)") }
        try (lines.joined(separator: "\n") + "\n").write(to: folder.appendingPathComponent("staked.csv"), atomically: true, encoding: .utf8)
        let client = BinanceUSDMClient(baseURL: exchange.server.url("/"), minimumSpacing: .zero)
        var settings = PaperTraderTests.settings()
        settings.bot.signals.stakeWindow = .days(1)
        var trader = PaperTrader(
            settings: settings, store: try PaperStore.inMemory(),
            feed: BinanceUSDMPaperFeed(client: client, symbol: "NMRUSDT", interval: .minutes(15)), clock: clock,
            signalSources: [SignalFilesSource(folder: folder.path)])
        try trader.start()
        try await trader.run(maxPolls: 300) { _ in }
        let signals = try trader.store.events().compactMap { event -> Timestamp? in
            if case .signal(.staked, _, let time) = event { return time }
            return nil
        }
        #expect(signals.count == 5, "each line once, only once published: days 0 to 4 (\(signals.count))")
        #expect(signals == signals.sorted())
        let decisions = trader.session.journal.filter { $0.event == .entry || $0.event == .riskDenied }
        let late = decisions.filter { $0.time.milliseconds > start + 2 * 86_400_000 + 3_600_000 }
        #expect(late.contains { row in row.signals.contains { $0.0 == "staked" && $0.1 < 0 } }, "the drop scores bearish")
    }
}
