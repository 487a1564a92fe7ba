import PerpExecution
import PerpLive
import PerpModel
import PerpSimulation
import Testing

/// The simulated venue against the backtester it reuses, and the venue behaviours the
/// execution layer must survive (decision 0012): reduce-only refusals, client ids unique among
/// open orders only, lost answers, failed snapshots, the dead man's switch, unruly streams.
@Suite struct SimulatedVenueTests {
    static let start = Timestamp(milliseconds: 1_767_225_600_000)  // 2026-01-01
    static let interval = TimeSpan.minutes(15)
    static let rules = MarketRules(
        symbol: "NMRUSDT", tickSize: Price("0.001")!, lotSize: Quantity("0.1")!, maxMarketQuantity: Quantity(10_000),
        minNotional: Notional(5))

    static func bar(_ index: Int, _ open: String, _ high: String, _ low: String, _ close: String, volume: Int = 1000) -> Candle {
        Candle(
            openTime: start + TimeSpan(milliseconds: Int64(index) * interval.milliseconds), open: Price(open)!, high: Price(high)!,
            low: Price(low)!, close: Price(close)!, volume: Quantity(volume))
    }

    static let bars = [
        bar(0, "8.00", "8.10", "7.95", "8.05"),
        bar(1, "8.05", "8.20", "8.00", "8.15", volume: 1200),
        // Falls from 8.15 through 7.95 inside the bar (high first: it closes down).
        bar(2, "8.15", "8.16", "7.80", "7.90", volume: 900),
        bar(3, "7.90", "8.00", "7.85", "7.95"),
    ]
    /// Bar 2 gapping through 7.95: opens at 7.70.
    static let gapped = [bars[0], bars[1], bar(2, "7.70", "7.75", "7.60", "7.65", volume: 900), bar(3, "7.65", "7.70", "7.60", "7.66")]

    static let slippages: [SlippageModel] = [.none, .fixed(Rate("0.0005")!), .volumeShare(impact: Rate("0.1")!, cap: Rate("0.01")!)]

    /// A backtest strategy that takes the given action at the given bars.
    struct Script: Strategy {
        var actions: [Int: StrategyAction]
        mutating func onBar(_ bar: BarView, account: AccountView) -> StrategyAction? { actions[bar.index] }
    }

    static func config(_ slippage: SlippageModel) -> VenueConfig {
        var config = VenueConfig()
        config.slippage = slippage
        config.recordEquity = false
        return config
    }

    static func venue(_ slippage: SlippageModel = .none, balance: Notional = Notional(1000)) -> SimulatedExecutionVenue {
        SimulatedExecutionVenue(rules: rules, config: config(slippage), balance: balance, time: start, barInterval: interval, seed: 7)
    }

    /// A market order.
    static func intent(_ sequence: Int64, _ side: Side, _ quantity: String, reduceOnly: Bool = false, id: String? = nil) -> OrderIntent {
        intent(sequence, .market, side, quantity, reduceOnly: reduceOnly, id: id)
    }

    static func intent(
        _ sequence: Int64, _ kind: OrderKind, _ side: Side, _ quantity: String, trigger: String? = nil, reduceOnly: Bool = false,
        id: String? = nil
    ) -> OrderIntent {
        OrderIntent(
            sequence: sequence, clientID: id ?? "np-test-\(sequence)", kind: kind, purpose: kind == .market ? .entry : .stop, side: side,
            quantity: Quantity(quantity)!, triggerPrice: trigger.map { Price($0)! }, reduceOnly: reduceOnly, createdAt: start)
    }

    static func order(_ outcome: SubmitOutcome) -> VenueOrder? {
        if case .accepted(let order) = outcome { return order }
        return nil
    }

    // MARK: The backtester's mechanics

    @Test(arguments: SimulatedVenueTests.slippages)
    func marketFillsAndFeesEqualTheBacktesters(slippage: SlippageModel) async throws {
        var backtest = Backtester(
            strategy: Script(actions: [
                1: .submit([OrderRequest(side: .long, quantity: Quantity("12.3")!, kind: .market)]),
                3: .submit([OrderRequest(side: .short, quantity: Quantity("12.3")!, kind: .market)]),
            ]), config: Self.config(slippage), initialCapital: Notional(1000))
        let result = backtest.run(CandleSeries(Self.bars))
        #expect(result.fills.count == 2)

        let venue = Self.venue(slippage)
        await venue.advance(bar: Self.bars[0])
        await venue.advance(bar: Self.bars[1])
        let entry = try #require(Self.order(await venue.submit(Self.intent(1, .long, "12.3"))))
        #expect(entry.status == .filled)
        await venue.advance(bar: Self.bars[2])
        await venue.advance(bar: Self.bars[3])
        _ = await venue.submit(Self.intent(2, .short, "12.3"))
        let snapshot = try await venue.snapshot(fillsSince: Self.start)
        #expect(snapshot.fills.count == 2)
        for (fill, expected) in zip(snapshot.fills, result.fills) {
            #expect(fill.price == expected.price)
            #expect(fill.fee == expected.fee)
            #expect(fill.quantity == expected.quantity)
            #expect(fill.realizedPnL == expected.realizedPnL)
            #expect(fill.time == expected.time)
        }
        #expect(entry.averagePrice == result.fills.first?.price)
        #expect(snapshot.position.quantity.isZero)
        // Flat: the wallet is the backtest's final equity to the last unit.
        #expect(snapshot.balance.wallet == result.finalEquity)
        #expect(snapshot.balance.wallet == Notional(1000) + result.fills.map(\.realizedPnL).reduce(.zero, +) - result.feesPaid)
    }

    @Test(arguments: [false, true], SimulatedVenueTests.slippages)
    func stopTriggersLikeTheBacktestersStop(gap: Bool, slippage: SlippageModel) async throws {
        let bars = gap ? Self.gapped : Self.bars
        var backtest = Backtester(
            strategy: Script(actions: [
                1: .submit([
                    OrderRequest(side: .long, quantity: Quantity(10), kind: .market),
                    OrderRequest(side: .short, quantity: Quantity(10), kind: .stop(Price("7.95")!), reduceOnly: true),
                ])
            ]), config: Self.config(slippage), initialCapital: Notional(1000))
        let result = backtest.run(CandleSeries(bars))
        let expected = try #require(result.fills.last)
        #expect(result.fills.count == 2)
        #expect(expected.reason == .stop)

        let venue = Self.venue(slippage)
        await venue.advance(bar: bars[0])
        await venue.advance(bar: bars[1])
        _ = await venue.submit(Self.intent(1, .long, "10"))
        let stop = try #require(
            Self.order(await venue.submit(Self.intent(2, .stopMarket, .short, "10", trigger: "7.95", reduceOnly: true))))
        #expect(stop.status == .accepted)
        await venue.advance(bar: bars[2])
        await venue.advance(bar: bars[3])
        let snapshot = try await venue.snapshot(fillsSince: Self.start)
        let fill = try #require(snapshot.fills.last)
        #expect(snapshot.fills.count == 2)
        #expect(fill.price == expected.price)
        #expect(fill.fee == expected.fee)
        #expect(fill.realizedPnL == expected.realizedPnL)
        #expect(fill.time == expected.time)
        // The trigger, or the open when the bar gapped through it (before slippage).
        if slippage == .none { #expect(fill.price == (gap ? Price("7.70")! : Price("7.95")!)) }
        #expect(snapshot.openOrders.isEmpty)
        #expect(snapshot.position.quantity.isZero)
        #expect(snapshot.balance.wallet == result.finalEquity)
        // The stop is filled in its book, and its trades carry the market order it became.
        guard case .found(let done) = await venue.lookup(clientID: "np-test-2", kind: .stopMarket) else {
            Issue.record("the stop is not found")
            return
        }
        #expect(done.status == .filled)
        #expect(done.triggeredOrderID == fill.venueOrderID)
    }

    @Test func takeProfitTriggersOnTheWayUpAsATaker() async throws {
        let venue = Self.venue()
        await venue.advance(bar: Self.bars[0])
        _ = await venue.submit(Self.intent(1, .long, "10"))
        _ = await venue.submit(Self.intent(2, .takeProfitMarket, .short, "10", trigger: "8.18", reduceOnly: true))
        await venue.advance(bar: Self.bars[1])
        let snapshot = try await venue.snapshot(fillsSince: Self.start)
        let fill = try #require(snapshot.fills.last)
        #expect(fill.price == Price("8.18")!)
        #expect(fill.fee == Price("8.18")!.times(Quantity(10)).times(VenueConfig().takerFee))
        #expect(snapshot.position.quantity.isZero)
    }

    @Test func aTriggerThatWouldFireAtOnceIsRefused() async {
        let venue = Self.venue()
        await venue.advance(bar: Self.bars[0])
        _ = await venue.submit(Self.intent(1, .long, "10"))
        let outcome = await venue.submit(Self.intent(2, .stopMarket, .short, "10", trigger: "8.05", reduceOnly: true))
        #expect(outcome == .rejected(code: -2021, message: "Order would immediately trigger."))
    }

    // MARK: Refusals

    @Test func reduceOnlyThatWouldIncreaseThePositionIsRefused() async throws {
        let venue = Self.venue()
        await venue.advance(bar: Self.bars[0])
        let refused = SubmitOutcome.rejected(code: -2022, message: "ReduceOnly Order is rejected.")
        // Flat: nothing to reduce.
        #expect(await venue.submit(Self.intent(1, .short, "1", reduceOnly: true)) == refused)
        #expect(await venue.submit(Self.intent(2, .stopMarket, .short, "1", trigger: "7.5", reduceOnly: true)) == refused)
        _ = await venue.submit(Self.intent(3, .long, "10"))
        // Long: a reduce-only buy would add to it.
        #expect(await venue.submit(Self.intent(4, .long, "1", reduceOnly: true)) == refused)
        // A reduce-only sell larger than the position closes it and no more.
        let close = try #require(Self.order(await venue.submit(Self.intent(5, .short, "15", reduceOnly: true))))
        #expect(close.filledQuantity == Quantity(10))
        #expect(try await venue.snapshot(fillsSince: Self.start).position.quantity.isZero)
    }

    @Test func ordersOffTheRulesAreRefusedWithBinancesCodes() async {
        let venue = Self.venue(balance: Notional(50))
        await venue.advance(bar: Self.bars[0])
        func code(_ outcome: SubmitOutcome) -> Int? {
            if case .rejected(let code, _) = outcome { return code }
            return nil
        }
        #expect(code(await venue.submit(Self.intent(1, .long, "0.15"))) == -4023)
        #expect(code(await venue.submit(Self.intent(2, .long, "0.5"))) == -4164)
        #expect(code(await venue.submit(Self.intent(3, .long, "10.0"))) == -2019)
        #expect(code(await venue.submit(Self.intent(4, .long, "20000"))) == -4005)
        #expect(code(await venue.submit(Self.intent(5, .stopMarket, .long, "1", trigger: "8.0005"))) == -4014)
        #expect(code(await venue.submit(Self.intent(6, .stopMarket, .long, "1"))) == -1102)
        let snapshot = try? await venue.snapshot(fillsSince: Self.start)
        #expect(snapshot?.fills.isEmpty == true)
        #expect(snapshot?.balance.wallet == Notional(50))
    }

    @Test func noPriceNoMarketOrder() async {
        let venue = Self.venue()
        guard case .rejected = await venue.submit(Self.intent(1, .long, "1")) else {
            Issue.record("a market order filled with no price")
            return
        }
    }

    // MARK: Client ids, lookups, cancels

    @Test func aFilledOrdersClientIDCanBeUsedAgain() async throws {
        let venue = Self.venue()
        await venue.advance(bar: Self.bars[0])
        let first = try #require(Self.order(await venue.submit(Self.intent(1, .long, "10", id: "np-reused-1e"))))
        // Binance keeps client ids unique among open orders only: a blind resend is a second order.
        let second = try #require(Self.order(await venue.submit(Self.intent(1, .long, "10", id: "np-reused-1e"))))
        #expect(first.venueOrderID != second.venueOrderID)
        #expect(try await venue.snapshot(fillsSince: Self.start).position.quantity == Quantity(20))
        // A lookup finds the newest.
        #expect(await venue.lookup(clientID: "np-reused-1e", kind: .market) == .found(second))
        // An open order's id cannot be reused until it is no longer open.
        _ = await venue.submit(Self.intent(2, .stopMarket, .short, "20", trigger: "7.5", reduceOnly: true, id: "np-reused-2s"))
        #expect(
            await venue.submit(Self.intent(3, .stopMarket, .short, "20", trigger: "7.6", reduceOnly: true, id: "np-reused-2s"))
                == .rejected(code: -4116, message: "ClientOrderId is duplicated."))
        guard case .cancelled = await venue.cancel(clientID: "np-reused-2s", kind: .stopMarket) else {
            Issue.record("the stop was not cancelled")
            return
        }
        let again = await venue.submit(Self.intent(3, .stopMarket, .short, "20", trigger: "7.6", reduceOnly: true, id: "np-reused-2s"))
        #expect(Self.order(again)?.status == .accepted)
    }

    @Test func unknownIDsAreNotFoundAndNotOpen() async {
        let venue = Self.venue()
        await venue.advance(bar: Self.bars[0])
        #expect(await venue.lookup(clientID: "np-none-1e", kind: .market) == .notFound)
        #expect(await venue.cancel(clientID: "np-none-1e", kind: .stopMarket) == .notOpen)
        // A filled order is not open either.
        _ = await venue.submit(Self.intent(1, .long, "10"))
        #expect(await venue.cancel(clientID: "np-test-1", kind: .market) == .notOpen)
        // Each kind lives in its own book.
        #expect(await venue.lookup(clientID: "np-test-1", kind: .stopMarket) == .notFound)
    }

    // MARK: Faults

    @Test func aLostAnswerIsFoundByLookup() async throws {
        let venue = Self.venue()
        await venue.advance(bar: Self.bars[0])
        await venue.inject(.loseNextSubmitAnswer)
        guard case .unknown = await venue.submit(Self.intent(1, .long, "10")) else {
            Issue.record("the answer was not lost")
            return
        }
        guard case .found(let order) = await venue.lookup(clientID: "np-test-1", kind: .market) else {
            Issue.record("the accepted order is not found")
            return
        }
        #expect(order.status == .filled)
        #expect(try await venue.snapshot(fillsSince: Self.start).position.quantity == Quantity(10))
        // A request that never arrived is definitively not found.
        await venue.inject(.dropNextSubmit)
        guard case .unknown = await venue.submit(Self.intent(2, .long, "10")) else {
            Issue.record("the dropped request answered")
            return
        }
        #expect(await venue.lookup(clientID: "np-test-2", kind: .market) == .notFound)
        #expect(try await venue.snapshot(fillsSince: Self.start).position.quantity == Quantity(10))
        // A failed lookup is unknown, never not-found.
        await venue.inject(.failNextLookup)
        guard case .unknown = await venue.lookup(clientID: "np-test-2", kind: .market) else {
            Issue.record("the lookup did not fail")
            return
        }
    }

    @Test func aFailedSnapshotThrowsOnce() async throws {
        let venue = Self.venue()
        await venue.inject(.failNextSnapshot)
        await #expect(throws: SimulatedVenueError.self) { try await venue.snapshot(fillsSince: Self.start) }
        #expect(try await venue.snapshot(fillsSince: Self.start).balance.wallet == Notional(1000))
    }

    @Test func theDeadMansSwitchCancelsOpenOrders() async throws {
        let venue = Self.venue()
        await venue.advance(bar: Self.bars[0])
        _ = await venue.submit(Self.intent(1, .long, "10"))
        _ = await venue.submit(Self.intent(2, .stopMarket, .short, "10", trigger: "7.5", reduceOnly: true))
        let now = await venue.time
        try await venue.heartbeat(countdown: .seconds(60))
        await venue.advance(to: now + .seconds(59))
        #expect(try await venue.snapshot(fillsSince: Self.start).openOrders.count == 1)
        // Refreshed: the deadline moves.
        try await venue.heartbeat(countdown: .seconds(60))
        await venue.advance(to: now + .seconds(100))
        #expect(try await venue.snapshot(fillsSince: Self.start).openOrders.count == 1)
        await venue.advance(to: now + .seconds(119))
        let snapshot = try await venue.snapshot(fillsSince: Self.start)
        #expect(snapshot.openOrders.isEmpty)
        // The position is the venue's to keep; only orders are cancelled.
        #expect(snapshot.position.quantity == Quantity(10))
        guard case .found(let stop) = await venue.lookup(clientID: "np-test-2", kind: .stopMarket) else {
            Issue.record("the stop is not found")
            return
        }
        #expect(stop.status == .cancelled)
        #expect(await venue.cancel(clientID: "np-test-2", kind: .stopMarket) == .notOpen)
        // Zero disarms it.
        _ = await venue.submit(Self.intent(3, .stopMarket, .short, "10", trigger: "7.5", reduceOnly: true))
        try await venue.heartbeat(countdown: .seconds(60))
        try await venue.heartbeat(countdown: TimeSpan(milliseconds: 0))
        await venue.advance(to: now + .seconds(1000))
        #expect(try await venue.snapshot(fillsSince: Self.start).openOrders.count == 1)
    }

    @Test func theStreamReportsFillsAndCanRepeatAndReorder() async throws {
        let venue = Self.venue()
        await venue.advance(bar: Self.bars[0])
        let stream = try #require(await venue.events())
        var iterator = stream.makeAsyncIterator()
        _ = await venue.submit(Self.intent(1, .long, "10"))
        var plain: [VenueEvent] = []
        for _ in 0..<5 { if let event = await iterator.next() { plain.append(event) } }
        #expect(plain.count == 5)
        #expect(plain.contains { if case .fill(let fill) = $0 { fill.clientID == "np-test-1" } else { false } })
        #expect(plain.last == .balance(try await venue.snapshot(fillsSince: Self.start).balance))

        await venue.inject(.repeatEvents)
        await venue.inject(.reorderEvents)
        _ = await venue.submit(Self.intent(2, .long, "10"))
        var unruly: [VenueEvent] = []
        for _ in 0..<10 { if let event = await iterator.next() { unruly.append(event) } }
        let fills = unruly.compactMap { event -> VenueFill? in if case .fill(let fill) = event { fill } else { nil } }
        // Each event twice, same trade id: the execution layer deduplicates on it.
        #expect(fills.count == 2)
        #expect(Set(fills.map(\.tradeID)).count == 1)
    }

    @Test func rulesComeFromInit() async throws {
        #expect(try await Self.venue().rules() == Self.rules)
        #expect(Self.venue().name == "sim")
    }
}
