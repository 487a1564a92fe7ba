import Foundation
import PerpEngine
import PerpLive
import PerpModel
import PerpStore
import PerpVenues
import TestSupport
import Testing

/// The live loop under venue trouble (issue 11): bad 200 answers, gaps in the venue's bars,
/// 429s without `Retry-After`, and two processes on one session.
@Suite struct VenueTroubleTests {
    static let interval: Int64 = 900_000

    @Test func badAnswersWithStatus200AreRetriedJournalledAndTheRunGoesOn() async throws {
        let bars = walk(seed: 5, bars: 300)
        let clock = ManualClock(PaperTraderTests.firstLive)
        let exchange = try ReplayExchange(bars: bars, settlements: [], clock: clock)
        let path = PaperTraderTests.temporaryPath("bad200.sqlite")
        var trader = PaperTraderTests.trader(exchange, store: try PaperStore(path: path), clock: clock)
        try trader.start()
        try await trader.run(maxPolls: 3) { _ in }
        let barsBefore = trader.session.account.bars
        let secret = "sk" + String(repeating: "A1b2C3d4", count: 6)
        exchange.override(next: [
            .json(#"[[1700000000000,"20.1","20.2""#),  // cut short
            .text("<html><body>502 Bad Gateway\n token=\(secret)</body></html>"),
            .json(#"{"code":0}"#),
            .json(#"{"code":0}"#),  // the same answer again: not journalled twice in a row
        ])
        var reports: [PaperStatus] = []
        try await trader.run(maxPolls: 7) { reports.append($0) }
        let problems = reports.compactMap(\.problem)
        #expect(problems.count == 4, "\(problems)")
        #expect(problems.allSatisfy { $0.contains("bad answer from binance-usdm GET /fapi/v1/klines") }, "\(problems)")
        let rows = try trader.store.journal().filter { $0.event == .badResponse }
        #expect(rows.count == 3, "\(rows.map(\.reason))")
        #expect(rows[0].reason.contains("not valid JSON"), "\(rows[0].reason)")
        #expect(rows[1].reason.contains("<html>"), "\(rows[1].reason)")
        #expect(rows[2].reason.contains(#"{\"code\":0}"#) || rows[2].reason.contains(#"{"code":0}"#), "\(rows[2].reason)")
        #expect(rows[2].reason.contains("expected a JSON array of klines"), "\(rows[2].reason)")
        #expect(!(try trader.store.journal()).contains { $0.reason.contains(secret) }, "no token in the journal")
        #expect(!problems.contains { $0.contains(secret) }, "no token on the status line")
        // The run went on: bars after the trouble were traded, the last report is clean.
        #expect(trader.session.account.bars > barsBefore)
        #expect(reports.last?.problem == nil)
        // The journalled trouble replays: a restart accepts the file.
        var again = PaperTraderTests.trader(exchange, store: try PaperStore(path: path), clock: clock)
        try again.start()
        #expect(again.session.journal == (try trader.store.journal()))
    }

    @Test func aGapInTheVenuesBarsBacksOffAndNamesTheMissingBars() async throws {
        let bars = walk(seed: 21, bars: 400)
        let clock = ManualClock(PaperTraderTests.firstLive)
        let exchange = try ReplayExchange(bars: bars, settlements: [], clock: clock)
        var trader = PaperTraderTests.trader(exchange, store: try PaperStore.inMemory(), clock: clock)
        try trader.start()
        try await trader.run(maxPolls: 3) { _ in }
        // The venue publishes nothing for 2 hours: 8 bars never appear.
        let last = try #require(trader.session.lastBar).openTime.milliseconds
        let missing = (1...8).map { last + Int64($0) * Self.interval }
        exchange.hide(missing)
        let requestsBefore = exchange.klineRequests
        let gapEnd = Timestamp(milliseconds: missing.last! + Self.interval)
        var pollTimes: [Timestamp] = []
        var rows: [JournalEntry] = []
        var problems: [String] = []
        for _ in 0..<2_000 {
            pollTimes.append(clock.now())
            let status = try await trader.poll()
            rows += status.newJournalRows
            problems += status.problem.map { [$0] } ?? []
            if let bar = trader.session.lastBar, bar.openTime >= gapEnd { break }
            try await clock.sleep(until: trader.nextPollTime(after: clock.now()))
        }
        let requests = exchange.klineRequests - requestsBefore
        // 2 h 15 min at 4 requests a second would be 32,400; backing off to one a minute: ~140.
        #expect(requests <= 160, "\(requests) kline requests during a 2-hour gap")
        #expect(requests >= 100, "still polling once a minute: \(requests)")
        // (the first wait is the ordinary one, until the next bar is due)
        let spacing = zip(pollTimes.dropFirst(), pollTimes).map { ($0.milliseconds - $1.milliseconds) / 1000 }.dropFirst()
        #expect(spacing.max() == 60, "the wait is capped at a minute: \(spacing.prefix(12))")
        #expect(Array(spacing.prefix(8)).contains(1) && Array(spacing.prefix(9)).contains(32), "it doubles: \(spacing.prefix(12))")
        let gap = try #require(rows.first { $0.event == .missingBars })
        #expect(gap.reason.contains("(8 missing)"), "\(gap.reason)")
        #expect(gap.reason.contains(Timestamp(milliseconds: missing.first!).iso8601), "\(gap.reason)")
        #expect(gap.reason.contains(Timestamp(milliseconds: missing.last!).iso8601), "\(gap.reason)")
        #expect(rows.contains { $0.event == .staleFeed }, "the silent feed goes stale")
        #expect(trader.session.isLive, "and live again when bars resume")
        #expect(
            problems.contains { $0.contains("no new bar from the venue since") && $0.contains("next poll in 60 s") },
            "\(problems.suffix(2))")
        // Back to one poll per bar once bars flow again.
        #expect(trader.quietPolls == 0)
    }

    @Test func a429WithoutRetryAfterShowsTheWaitOnTheStatusLine() async throws {
        let bars = walk(seed: 5, bars: 300)
        let clock = ManualClock(PaperTraderTests.firstLive)
        let exchange = try ReplayExchange(bars: bars, settlements: [], clock: clock)
        var trader = PaperTraderTests.trader(exchange, store: try PaperStore.inMemory(), clock: clock)
        try trader.start()
        try await trader.run(maxPolls: 2) { _ in }
        exchange.override(next: [
            .json(#"{"code":-1003,"msg":"Too many requests."}"#, status: 429),
            .json(#"{"code":-1003,"msg":"Too many requests."}"#, status: 429).withHeader("Retry-After", "7"),
        ])
        var reports: [PaperStatus] = []
        var times: [Timestamp] = []
        try await trader.run(maxPolls: 3) {
            reports.append($0)
            times.append(clock.now())
        }
        let first = try #require(reports.first?.problem)
        #expect(first.contains("rate limited (429)") && first.contains("waiting 60 s") && first.contains("no Retry-After"), "\(first)")
        let second = try #require(reports.dropFirst().first?.problem)
        #expect(second.contains("waiting 7 s (Retry-After)"), "\(second)")
        #expect(times[1].milliseconds - times[0].milliseconds == 60_000, "the default wait was waited")
        #expect(times[2].milliseconds - times[1].milliseconds == 7_000, "Retry-After was honoured")
        #expect(reports.last?.problem == nil)
    }

    @Test func twoProcessesWritingOneSessionAreNamedAsSuch() async throws {
        // What builds without the session lock allowed: two traders on one file.
        let bars = walk(seed: 21, bars: 300)
        let clock = ManualClock(PaperTraderTests.firstLive)
        let exchange = try ReplayExchange(bars: bars, settlements: [], clock: clock)
        let path = PaperTraderTests.temporaryPath("doubled.sqlite")
        var first = PaperTraderTests.trader(exchange, store: try PaperStore(path: path), clock: clock)
        try first.start()
        _ = try await first.poll()
        var second = PaperTraderTests.trader(exchange, store: try PaperStore(path: path), clock: clock)
        try second.start()
        for _ in 0..<4 {
            clock.set(clock.now() + .minutes(15))
            _ = try await first.poll()
            _ = try await second.poll()
        }
        var third = PaperTraderTests.trader(exchange, store: try PaperStore(path: path), clock: clock)
        let error = try #require(throws: PaperError.self) { try third.start() }
        guard case .doubledWrites(_, let bars, _, _) = error else {
            Issue.record("expected doubledWrites, got \(error)")
            return
        }
        #expect(bars == 4)
        #expect(error.description.contains("two processes") && !error.description.contains("configuration or this build changed"))
    }

    @Test func aJournalRowTheEventsCannotExplainMakesTheSessionUnusable() async throws {
        let bars = walk(seed: 5, bars: 200)
        let clock = ManualClock(PaperTraderTests.firstLive)
        let exchange = try ReplayExchange(bars: bars, settlements: [], clock: clock)
        let path = PaperTraderTests.temporaryPath("edited.sqlite")
        var trader = PaperTraderTests.trader(exchange, store: try PaperStore(path: path), clock: clock)
        try trader.start()
        _ = try await trader.poll()
        let store = try PaperStore(path: path)
        try store.append([], journal: [JournalEntry(time: clock.now(), event: .entry, reason: "typed in by hand")], received: clock.now())
        let fresh = PaperSession(
            config: PaperTraderTests.settings().bot, venue: PaperTraderTests.settings().venue, capital: Notional(10_000),
            interval: .minutes(15))
        #expect(throws: PaperError.self) { _ = try PaperIntegrity.replay(store, into: fresh) }
    }
}

@Suite struct SessionLockTests {
    @Test func oneOwnerAtATimeAndTheSecondIsToldWho() throws {
        let path = PaperTraderTests.temporaryPath("x.lock")
        #expect(SessionLock.state(path: path) == .free)
        let first = try SessionLock.acquire(path: path, since: "2026-12-02T22:00:00Z", host: "here")
        #expect(first.owner.pid == getpid())
        // flock locks belong to the open file description: a second open conflicts even in
        // this process, as it does across processes.
        let refusal = try #require(throws: SessionLockError.self) { _ = try SessionLock.acquire(path: path, since: "later") }
        #expect(refusal == .held(path: path, owner: SessionOwner(pid: getpid(), since: "2026-12-02T22:00:00Z", host: "here")))
        #expect(refusal.description.contains("pid \(getpid())"))
        #expect(SessionLock.state(path: path) == .held(first.owner))
        first.release()
        #expect(SessionLock.state(path: path) == .free)
        let second = try SessionLock.acquire(path: path, since: "later")
        #expect(SessionLock.state(path: path) == .held(second.owner))
        second.release()
    }

    @Test func theLockFileSitsBesideTheDatabase() {
        #expect(SessionLock.path(forDatabase: "/h/paper/x.sqlite") == "/h/paper/x.lock")
    }
}
