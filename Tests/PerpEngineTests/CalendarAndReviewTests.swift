import PerpEngine
import PerpModel
import PerpSimulation
import Testing

/// Issue 16: the exchange-flow signal in the blend, blackout windows around calendar events,
/// and the weekly review's trades, accuracy and out-of-sample weights.
@Suite struct CalendarAndReviewTests {
    static let hour: Int64 = 3_600_000

    // MARK: Exchange flow

    /// Hourly net flows onto exchanges: the score is minus their sum over the window, ±1 at the
    /// full scale, read only from flows known at the bar's close.
    @Test func exchangeFlowScoresTheWindowsNetInflowAgainstThePrice() {
        let start = ExitRuleTests.start
        // +3000 NMR an hour onto exchanges for 24 hours, then −1000 an hour.
        let flows = (0..<48).map { index in (start + Int64(index + 1) * Self.hour, index < 24 ? 3000.0 : -1000.0) }
        var config = BotConfig.Signals()
        config.exchangeFlowFullScale = 100_000
        config.exchangeFlowWindow = .hours(24)
        var series = CandleSeries()
        for bar in ExitRuleTests.bars(ExitRuleTests.flat("10", count: 48 * 4)) { series.append(bar) }
        let scores = Features.signalScores(
            series, funding: [], inputs: SignalInputs(exchangeNetflow: SignalSeries(flows)), config: config, barInterval: .minutes(15))
        // Bar i decides at start + (i + 1)·15m. Until 24 h of flows exist before the window's
        // start there is no reading at both ends: no score.
        #expect(scores[10].exchangeFlow == nil)
        // At +25 h: flows of hours 2…25 in the window: 23 × 3000 − 1000 = 68,000 in → −0.68.
        let at25h = 25 * 4 - 1
        #expect(abs((scores[at25h].exchangeFlow ?? 0) - -0.68) < 1e-12)
        // At +48 h: 24 hours of −1000: 24,000 off the exchanges → +0.24.
        #expect(abs((scores[48 * 4 - 1].exchangeFlow ?? 0) - 0.24) < 1e-12)
        // It is a network signal: the named scores and the blend include it.
        #expect(scores[at25h].named.contains { $0.0 == "exchange_flow" })
        var only = SignalScores()
        only.exchangeFlow = -0.68
        #expect(abs(only.blended(BotConfig.Weights()) - -0.68) < 1e-12)
    }

    @Test func theFlowSettingsAreChecked() {
        var config = BotConfig()
        config.signals.exchangeFlowFullScale = 0
        config.signals.exchangeFlowWindow = TimeSpan(milliseconds: 0)
        config.minAgreeingSignals = 8
        let problems = config.problems().joined(separator: "\n")
        #expect(problems.contains("signals.exchange_flow_full_scale"))
        #expect(problems.contains("signals.exchange_flow_window"))
        #expect(problems.contains("between 1 and 7"))
    }

    // MARK: Blackouts

    @Test func windowsCoverTheirEventsMarginsOnlyForChosenKinds() {
        var config = BotConfig.Calendar()
        config.blackoutKinds = ["news", "round_close"]
        config.blackoutBefore = .hours(1)
        config.blackoutAfter = .hours(2)
        let base = ExitRuleTests.start
        let events = [
            CalendarEvent(time: Timestamp(milliseconds: base + 10 * Self.hour), kind: "round_close"),
            CalendarEvent(time: Timestamp(milliseconds: base), kind: "news", note: "listing"),
            CalendarEvent(time: Timestamp(milliseconds: base + 5 * Self.hour), kind: "round_open"),
            CalendarEvent(time: Timestamp(milliseconds: base), kind: "news", note: "the same again"),
        ]
        let windows = BlackoutWindows(events: events, config: config)
        #expect(windows.windows.count == 2, "round_open is not chosen; the repeated news is one window")
        #expect(windows.window(containing: base - Self.hour)?.event.note == "listing", "from one hour before")
        #expect(windows.window(containing: base - Self.hour - 1) == nil)
        #expect(windows.window(containing: base + 2 * Self.hour - 1) != nil)
        #expect(windows.window(containing: base + 2 * Self.hour) == nil, "to two hours after, exclusive")
        #expect(windows.window(containing: base + 5 * Self.hour) == nil)
        #expect(windows.window(containing: base + 11 * Self.hour)?.event.kind == "round_close")
        // Events at the ends of time do not overflow.
        let far = BlackoutWindows(events: [CalendarEvent(time: Timestamp(milliseconds: .max), kind: "news")], config: config)
        #expect(far.window(containing: .max - 1) != nil)
    }

    @Test func anEntryInABlackoutIsJournalledAsARefusalAndComesAfterIt() throws {
        // AlwaysUp wants a long at the first close (10:15); a news event at 10:30 blacks out
        // 09:30–11:30, so the first entry is at the 11:30 close.
        let event = CalendarEvent(time: Timestamp(milliseconds: ExitRuleTests.start + Self.hour / 2), kind: "news", note: "unlock")
        var kernel = TradingKernel(config: BotConfig(), inputs: SignalInputs(calendar: [event]), barInterval: .minutes(15))
        kernel.model = AlwaysUp()
        var venue = VenueConfig()
        venue.lotSize = Quantity("0.1")!
        var tester = Backtester(strategy: BotStrategy(kernel: kernel), config: venue, initialCapital: Notional(10_000))
        var series = CandleSeries()
        for bar in ExitRuleTests.bars(ExitRuleTests.flat("10", count: 12)) { series.append(bar) }
        _ = tester.run(series)
        let journal = tester.strategy.journal
        let refusals = journal.filter { $0.event == .riskDenied && $0.reason.hasPrefix("blackout: news") }
        #expect(refusals.count == 5, "closes 10:15, 10:30, 10:45, 11:00, 11:15")
        #expect(refusals.first?.reason.contains("(unlock)") == true)
        let entry = try #require(journal.first { $0.event == .entry })
        #expect(entry.time.milliseconds >= ExitRuleTests.start + 90 * 60_000)
        // A live shell hands events over as they appear: the same refusal from then on.
        var live = TradingKernel(config: BotConfig(), barInterval: .minutes(15))
        live.model = AlwaysUp()
        _ = live.handle(.calendar(event, at: Timestamp(milliseconds: ExitRuleTests.start)))
        var liveTester = Backtester(strategy: BotStrategy(kernel: live), config: venue, initialCapital: Notional(10_000))
        _ = liveTester.run(series)
        #expect(liveTester.strategy.journal.filter { $0.reason.hasPrefix("blackout: news") }.count == 5)
    }

    @Test func blackoutKindsAreChecked() {
        var config = BotConfig()
        config.calendar.blackoutKinds = ["news", "Round Close", ""]
        let problems = config.problems()
        #expect(problems.filter { $0.hasPrefix("calendar.blackout_kinds") }.count == 2)
    }

    // MARK: Review

    static func row(
        _ hours: Int64, _ event: String, side: Side? = nil, signals: [String: Double] = [:], pnl: String? = nil, reason: String = ""
    )
        -> SignalReview.Row
    {
        SignalReview.Row(
            time: Timestamp(milliseconds: ExitRuleTests.start + hours * Self.hour), event: event, side: side, signals: signals,
            pnl: pnl.flatMap { Notional($0) }, reason: reason)
    }

    @Test func tradesPairEntriesWithTheirClosesAndNameWhy() {
        let rows = [
            Self.row(0, "entry", side: .long, signals: ["momentum": 0.5]),
            Self.row(1, "stop", pnl: "-25"),
            Self.row(2, "entry", side: .short, signals: ["momentum": -0.4]),
            Self.row(8, "time_exit"),
            Self.row(8, "exit", pnl: "-3.5"),
            Self.row(8, "exit", pnl: "-0.5"),
            Self.row(9, "entry", side: .long),
            Self.row(10, "state_change", reason: "kill switch: operator; reducing only"),
            Self.row(10, "exit", pnl: "7"),
            Self.row(11, "entry", side: .long),
        ]
        let trades = SignalReview.trades(rows)
        #expect(trades.map(\.exitReason) == ["stop", "time_exit", "kill_switch", nil])
        #expect(trades.map(\.pnl) == [Notional("-25")!, Notional("-4")!, Notional(7), .zero], "a second fill adds to its trade")
    }

    /// Price rises for 20 days, then falls; a sentiment series turns with it. Momentum follows
    /// the trend and is right on both sides, mean reversion bets against it and is wrong; the
    /// suggestion is fitted only on the bars before the window and moves weight to sentiment.
    @Test func accuracyIsCountedBeforeAndInTheWindowWithoutOverlap() {
        var series = CandleSeries()
        let days = 30
        let turn = ExitRuleTests.start + Int64(20 * 24) * Self.hour
        var price = 10.0
        for index in 0..<(days * 24) {
            let open = price
            price *= index < 20 * 24 ? 1.002 : 0.998
            let format = { (value: Double) in Price(String(format: "%.4f", value))! }
            series.append(
                Candle(
                    openTime: Timestamp(milliseconds: ExitRuleTests.start + Int64(index) * Self.hour), open: format(open),
                    high: format(max(open, price) + 0.01), low: format(min(open, price) - 0.01), close: format(price), volume: Quantity(1)))
        }
        let sentiment = SignalSeries([(ExitRuleTests.start, 1.0), (turn, -1.0)])
        var config = BotConfig()
        config.risk.timeExit = .hours(6)
        let scores = Features.signalScores(
            series, funding: [], inputs: SignalInputs(sentiment: sentiment), config: config.signals, barInterval: .hours(1))
        let review = SignalReview.review(series: series, barInterval: .hours(1), scores: scores, rows: [], config: config, since: .days(7))
        func signal(_ name: String) -> SignalReview.Accuracy { review.signals.first { $0.name == name }! }
        #expect((signal("momentum").beforeRate ?? 0) > 0.9 && (signal("momentum").windowRate ?? 0) > 0.9)
        #expect((signal("mean_reversion").beforeRate ?? 1) < 0.1)
        #expect((signal("sentiment").beforeRate ?? 0) > 0.95 && (signal("sentiment").windowRate ?? 0) == 1)
        // No bar is counted on both sides: those whose horizon reaches into the window are left out.
        let counted = signal("sentiment").beforeCount + signal("sentiment").windowCount
        #expect(counted == days * 24 - 6 - 5, "every bar with a label, less the five whose horizon straddles the window's start")
        #expect(review.windowTrades == 0 && review.warnings.contains { $0.hasPrefix("small sample") })
        #expect(review.warnings.contains { $0.contains("no network signal") })
        // Price (mostly wrong: its reversion outweighs momentum) gets nothing; the network was
        // not tested and keeps its share; sentiment takes price's.
        let suggested = review.suggestion.suggested
        #expect(suggested?.price == 0 && suggested?.network == 0.35 && suggested?.sentiment == 0.65, "\(review.suggestion)")
        #expect(review.suggestion.suggestedHits == review.suggestion.suggestedCount && review.suggestion.suggestedCount > 0)
        // The current weights let the wrong reversion cancel sentiment: no bar reaches the threshold.
        #expect(review.suggestion.currentCount < review.suggestion.suggestedCount)
    }

}
