import PerpEngine
import PerpModel
import PerpSimulation
import TestSupport
import Testing

func paperWalk(seed: UInt64, bars count: Int) -> [Candle] { SyntheticBars.walk(seed: seed, bars: count) }

/// A bot that trades often on a random walk: one agreeing signal is enough.
func eagerBot() -> BotConfig {
    var config = BotConfig()
    config.minAgreeingSignals = 1
    config.entryThreshold = 0.15
    return config
}

func paperVenue() -> VenueConfig {
    var venue = VenueConfig()
    venue.lotSize = Quantity("0.1")!
    venue.maintenanceFraction = Rate("0.05")!
    return venue
}

@Suite struct PaperSessionTests {
    @Test func steppingBarsGivesTheBacktestsFillsAndJournal() {
        let bars = paperWalk(seed: 7, bars: 3_000)
        var series = CandleSeries()
        for bar in bars { series.append(bar) }
        let funding = stride(from: 32, to: bars.count, by: 32).map {
            FundingRate(time: bars[$0].openTime, rate: Rate(raw: Int64($0 % 7 - 3) * 100_000_000), interval: .hours(8))
        }
        let kernel = TradingKernel(config: eagerBot(), barInterval: .minutes(15), lotSize: Quantity("0.1")!)
        var tester = Backtester(
            strategy: BotStrategy(kernel: kernel, fundingRates: funding), config: paperVenue(), initialCapital: Notional(10_000))
        let result = tester.run(series, funding: funding)

        var session = PaperSession(config: eagerBot(), venue: paperVenue(), capital: Notional(10_000), interval: .minutes(15))
        var rows: [JournalEntry] = []
        var next = 0
        for bar in bars {
            // Settlements arrive before the bar they fall due at, as the shell orders them.
            while next < funding.count, funding[next].time <= bar.openTime {
                rows += session.apply(.funding(funding[next], mark: nil))
                next += 1
            }
            rows += session.apply(.bar(bar))
        }
        #expect(result.trades.count > 10, "the eager bot trades on the walk (\(result.trades.count) trades)")
        #expect(session.venue.fillHistory == result.fills)
        #expect(session.venue.fundingHistory == result.funding)
        #expect(rows == tester.strategy.journal)
        #expect(session.journal == tester.strategy.journal)
        #expect(session.account.equity == result.finalEquity)
        #expect(session.record.liveBars == bars.count)
    }

    /// A bar a million times too high while in a position is bad data: journalled and skipped
    /// (the venue would otherwise stop), and the session trades on with the next bar.
    @Test func aBarBeyondWhatTheAccountCarriesIsSkippedAsBadData() throws {
        let bars = paperWalk(seed: 7, bars: 3_000)
        var session = PaperSession(config: eagerBot(), venue: paperVenue(), capital: Notional(10_000), interval: .minutes(15))
        var index = 0
        while index < bars.count, session.account.position.isZero {
            _ = session.apply(.bar(bars[index]))
            index += 1
        }
        #expect(index < bars.count, "the eager bot takes a position on the walk")
        let next = bars[index]
        let spike = Candle(
            openTime: next.openTime, open: next.open, high: Price(raw: next.high.raw * 10_000_000), low: next.low, close: next.close,
            volume: next.volume)
        let before = session.account
        let rows = session.apply(.bar(spike))
        let row = try #require(rows.first)
        #expect(row.event == .badData && row.reason.contains("skipped"), "\(row.reason)")
        #expect(session.record.badData == 1)
        #expect(session.account == before)
        // The real bar at the same time still goes through, and so do the ones after it.
        _ = session.apply(.bar(next))
        _ = session.apply(.bar(bars[index + 1]))
        #expect(session.account.bars == before.bars + 2)
        #expect(session.venue.halt == nil)
    }

    @Test func aRestartReplaysToTheSameState() {
        let bars = paperWalk(seed: 11, bars: 2_000)
        var events: [PaperEvent] = [.feed(live: false, at: bars[0].openTime, reason: "catching up")]
        for (index, bar) in bars.enumerated() {
            if index == 200 { events.append(.feed(live: true, at: bar.openTime, reason: "caught up")) }
            events.append(.bar(bar))
        }
        var continuous = PaperSession(config: eagerBot(), venue: paperVenue(), capital: Notional(10_000), interval: .minutes(15))
        var written: [JournalEntry] = []
        for event in events { written += continuous.apply(event) }
        // A second process replays what the first stored, then goes on.
        var first = PaperSession(config: eagerBot(), venue: paperVenue(), capital: Notional(10_000), interval: .minutes(15))
        for event in events[..<1_234] { _ = first.apply(event) }
        var resumed = PaperSession(config: eagerBot(), venue: paperVenue(), capital: Notional(10_000), interval: .minutes(15))
        for event in events[..<1_234] { _ = resumed.apply(event) }
        #expect(resumed.journal == first.journal)
        for event in events[1_234...] { _ = resumed.apply(event) }
        #expect(resumed.journal == written)
        #expect(resumed.account == continuous.account)
        #expect(resumed.record == continuous.record)
        #expect(continuous.record.liveBars == bars.count - 200)
        #expect(continuous.record.staleEpisodes == 1)
    }

    @Test func noEntryWhileCatchingUp() {
        let bars = paperWalk(seed: 3, bars: 1_500)
        var session = PaperSession(config: eagerBot(), venue: paperVenue(), capital: Notional(10_000), interval: .minutes(15))
        var rows = session.apply(.feed(live: false, at: bars[0].openTime, reason: "catching up on 1500 bars"))
        for bar in bars { rows += session.apply(.bar(bar)) }
        #expect(rows.first?.event == .staleFeed)
        #expect(!rows.contains { $0.event == .entry })
        #expect(session.venue.fillHistory.isEmpty)
        #expect(session.record.liveBars == 0)
        #expect(!session.record.isComplete(interval: .minutes(15)))
        // Live again: the same signals now trade.
        rows = session.apply(.feed(live: true, at: bars.last!.openTime, reason: "caught up"))
        #expect(rows.map(\.event) == [.stateChange])
        for bar in paperWalk(seed: 4, bars: 1_500).map({
            Candle(openTime: $0.openTime + .days(16), open: $0.open, high: $0.high, low: $0.low, close: $0.close, volume: $0.volume)
        }) {
            rows += session.apply(.bar(bar))
        }
        #expect(rows.contains { $0.event == .entry })
    }

    @Test func badBarsAreJournalledAndNeverReachTheVenue() {
        let bars = paperWalk(seed: 5, bars: 10)
        var session = PaperSession(config: eagerBot(), venue: paperVenue(), capital: Notional(10_000), interval: .minutes(15))
        for bar in bars[..<5] { _ = session.apply(.bar(bar)) }
        var zero = bars[5]
        zero.low = .zero
        var crossed = bars[5]
        crossed.high = Price(raw: crossed.low.raw - 1)
        var rows = session.apply(.bar(zero))
        rows += session.apply(.bar(crossed))
        rows += session.apply(.bar(bars[4]))  // duplicate
        rows += session.apply(.bar(bars[2]))  // out of order
        rows += session.apply(.badData(reason: "kline row 3: high \"NaN\" is not a decimal", at: bars[5].openTime))
        #expect(rows.map(\.event) == Array(repeating: .badData, count: 5))
        #expect(rows[2].reason.contains("duplicate"))
        #expect(rows[3].reason.contains("older"))
        #expect(session.account.bars == 5, "no bad bar was stepped")
        #expect(session.record.badData == 5)
        // The bot keeps running.
        for bar in bars[5...] { _ = session.apply(.bar(bar)) }
        #expect(session.account.bars == 10)
    }

    @Test func lateAndRepeatedFundingSettleOnceAtTheNextBar() {
        let bars = paperWalk(seed: 9, bars: 8)
        var session = PaperSession(config: eagerBot(), venue: paperVenue(), capital: Notional(10_000), interval: .minutes(15))
        _ = session.apply(.bar(bars[0]))
        let rate = FundingRate(time: bars[0].openTime + .minutes(5), rate: Rate("0.0001")!, interval: .hours(8))
        _ = session.apply(.funding(rate, mark: Price("20")!))
        let repeated = session.apply(.funding(rate, mark: Price("20")!))
        #expect(repeated.map(\.event) == [.badData])
        _ = session.apply(.bar(bars[1]))
        #expect(session.venue.fundingHistory.isEmpty, "flat: a settlement pays nothing")
        #expect(session.lastFundingTime == rate.time)
    }

    @Test func theKillSwitchClosesAtTheNextBarAndOpensNothingAfter() {
        let bars = paperWalk(seed: 7, bars: 3_000)
        let kernel = TradingKernel(config: eagerBot(), barInterval: .minutes(15), lotSize: Quantity("0.1")!)
        var tester = Backtester(strategy: BotStrategy(kernel: kernel), config: paperVenue(), initialCapital: Notional(10_000))
        var index = 0
        while index < bars.count, tester.snapshot.position.isZero {
            tester.step(bars[index])
            index += 1
        }
        #expect(!tester.snapshot.position.isZero, "the eager bot opened a position")
        tester.strategy.handle(.kill(reason: "operator", at: bars[index].openTime))
        tester.step(bars[index])
        #expect(tester.snapshot.position.isZero, "flattened at the next bar")
        let killedAt = tester.fillHistory.count
        for bar in bars[(index + 1)...] { tester.step(bar) }
        #expect(tester.snapshot.position.isZero, "\(tester.fillHistory[killedAt...].prefix(3))")
        #expect(tester.strategy.kernel.state == .reducing)
        #expect(tester.strategy.journal.contains { $0.event == .stateChange && $0.reason.contains("kill switch") })
        #expect(tester.strategy.journal.contains { $0.event == .riskDenied && $0.reason.contains("reducing only") })
    }
}
