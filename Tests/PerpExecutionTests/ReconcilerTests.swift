import PerpEngine
import PerpExecution
import PerpModel
import PerpSimulation
import Testing

@Suite struct ReconcilerTests {
    static let foreign = VenueOrder(
        clientID: "web_abc123", venueOrderID: "555", kind: .market, side: .long, status: .accepted, quantity: Quantity(1),
        filledQuantity: .zero, averagePrice: nil, triggerPrice: nil, reduceOnly: false, updatedAt: time(1))

    static func trade(_ id: String, _ side: Side, _ quantity: String, order: String = "v1") -> VenueFill {
        VenueFill(
            tradeID: id, venueOrderID: order, clientID: nil, side: side, quantity: qty(quantity), price: price("8.25"), fee: .zero,
            realizedPnL: .zero, time: time(1))
    }

    @Test func pureStepsInOrder() throws {
        var engine = openEngine()
        let entry = try #require(enter(&engine))
        let local = ReconcileLocal(orders: engine.orders, seenTradeIDs: [], position: .zero)
        let ours = ClientOrderID.make(tag: testTag, sequence: 7, purpose: .stop)
        let oursOpen = VenueOrder(
            clientID: ours, venueOrderID: "a7", kind: .stopMarket, side: .short, status: .accepted, quantity: Quantity(10),
            filledQuantity: .zero, averagePrice: nil, triggerPrice: price("7"), reduceOnly: true, updatedAt: time(1))
        let otherSession = ClientOrderID.make(tag: "zzzzzzzz", sequence: 1, purpose: .entry)
        var other = Self.foreign
        other.clientID = otherSession
        let venue = flatSnapshot(
            at: 5, position: Quantity(10), open: [oursOpen, Self.foreign, other, Self.foreign],
            fills: [Self.trade("t1", .long, "6"), Self.trade("t2", .long, "4"), Self.trade("t1", .long, "6")])
        let steps = Reconciler.reconcile(local: local, venue: venue, rules: testRules, tag: testTag)
        #expect(
            steps == [
                .missedFill(Self.trade("t1", .long, "6")), .missedFill(Self.trade("t2", .long, "4")), .adopt(oursOpen),
                .cancelForeign(Self.foreign), .cancelForeign(other), .lookup(clientID: entry.clientID, kind: .market),
                .positionMatches(venue: Quantity(10), local: Quantity(10)), .ensureProtection,
            ])
    }

    @Test(arguments: [
        ("0", "0.1", true), ("0", "0.11", false), ("10", "-10", false), ("10", "9.9", true), ("-5", "5", false), ("-5", "-5.2", false),
    ])
    func positionToleranceIsOneLot(_ local: String, _ venue: String, _ matches: Bool) {
        let steps = Reconciler.reconcile(
            local: ReconcileLocal(orders: [], seenTradeIDs: [], position: qty(local)), venue: flatSnapshot(at: 1, position: qty(venue)),
            rules: testRules, tag: testTag)
        #expect(steps.contains { if case .positionMatches = $0 { true } else { false } } == matches)
        #expect(steps.contains { if case .positionMismatch = $0 { true } else { false } } == !matches)
    }

    @Test func nothingIsSentBeforeASnapshot() {
        var engine = ExecutionEngine(settings: testSettings())
        #expect(engine.gate == .awaitingReconciliation)
        let actions = engine.handle(
            .commands([.open(side: .long, quantity: Quantity(10), stop: price("7"), target: price("9"))], at: time(1), price: price("8.25"))
        )
        #expect(actions.sends.isEmpty && actions.notes(.refused).count == 1)
        #expect(engine.nextSequence == 1)
    }

    @Test func missedFillRecordedAndGateOpens() throws {
        var engine = openEngine()
        let entry = try #require(enter(&engine))
        _ = engine.handle(.submitted(clientID: entry.clientID, .accepted(report(entry, .accepted)), at: time(1)))
        let actions = engine.handle(
            .snapshot(
                flatSnapshot(at: 30, position: Quantity(10), fills: [fill("t1", entry, "10", at: "8.25", clientID: false)]), at: time(30)))
        #expect(actions.notes(.missedFill).count == 1)
        #expect(actions.kernelFills.map(\.reason) == [.signal])
        #expect(actions.sends.map(\.kind) == [.stopMarket, .takeProfitMarket])
        #expect(engine.position == Quantity(10) && engine.gate == .reducing("2 orders with an unknown outcome"))
    }

    @Test func externalOrderCancelled() {
        var engine = openEngine()
        let actions = engine.handle(.snapshot(flatSnapshot(at: 5, open: [Self.foreign]), at: time(5)))
        #expect(actions.cancels == ["web_abc123"])
        #expect(actions.notes(.unknownOrderCancelled).count == 1)
        #expect(engine.gate == .open)
    }

    @Test(arguments: ["10", "-10"])
    func positionMismatchHalts(_ venue: String) {
        var engine = ExecutionEngine(settings: testSettings())
        let actions = engine.handle(.snapshot(flatSnapshot(at: 1, position: qty(venue)), at: time(1)))
        #expect(actions.notes(.positionMismatch).count == 1 && actions.notes(.halted).count == 1)
        #expect(engine.gate == .halted("position mismatch: venue \(venue), local 0"))
        #expect(enter(&engine) == nil)
    }

    @Test func sideFlipHalts() throws {
        var (engine, _, stop, target) = try #require(protectedEngine())
        let open = [report(stop, .accepted, venueID: "algo-s"), report(target, .accepted, venueID: "algo-t")]
        let actions = engine.handle(.snapshot(flatSnapshot(at: 10, position: Quantity(-10), open: open), at: time(10)))
        #expect(actions.notes(.positionMismatch).count == 1)
        #expect(engine.gate == .halted("position mismatch: venue -10, local 10"))
        #expect(actions.sends.isEmpty)
        // Cancels still pass while halted.
        #expect(engine.handle(.commands([.cancelOrders], at: time(11), price: price("8"))).cancels == [stop.clientID, target.clientID])
    }

    @Test func restartLooksUpPendingSubmitFirst() throws {
        var engine = openEngine()
        let entry = try #require(enter(&engine, seconds: 1))
        let restart = engine.handle(.restarted(at: time(60)))
        #expect(restart == [.lookup(clientID: entry.clientID, kind: .market)])
        #expect(engine.gate == .awaitingReconciliation)
        let reconcile = engine.handle(.snapshot(flatSnapshot(at: 61), at: time(61)))
        #expect(reconcile.lookups.isEmpty && reconcile.sends.isEmpty)  // the lookup is already asked
        #expect(engine.gate == .reducing("1 order with an unknown outcome"))
        #expect(enter(&engine, seconds: 62) == nil)
        _ = engine.handle(.lookedUp(clientID: entry.clientID, .found(report(entry, .expired)), at: time(62)))
        #expect(engine.gate == .open)
    }

    @Test func secondReconcileIsANoOp() throws {
        var (engine, entry, stop, target) = try #require(protectedEngine())
        let venue = flatSnapshot(
            at: 20, position: Quantity(10),
            open: [report(stop, .accepted, venueID: "algo-s"), report(target, .accepted, venueID: "algo-t"), Self.foreign],
            fills: [fill("t1", entry, "10", at: "8.25", clientID: false)])
        let first = engine.handle(.snapshot(venue, at: time(20)))
        #expect(first.cancels == ["web_abc123"] && first.sends.isEmpty)
        var second = venue
        second.openOrders.removeLast()
        let again = engine.handle(.snapshot(second, at: time(80)))
        #expect(again.isEmpty)
    }

    @Test func missingStopIsReplacedFromThePlan() throws {
        var (engine, _, stop, target) = try #require(protectedEngine())
        // The venue dropped the stop (dead man's switch, a manual cancel).
        _ = engine.handle(.venue(.order(report(stop, .cancelled, venueID: "algo-s")), at: time(30)))
        let actions = engine.handle(
            .snapshot(flatSnapshot(at: 31, position: Quantity(10), open: [report(target, .accepted, venueID: "algo-t")]), at: time(31)))
        #expect(actions.sends.count == 1)
        let replacement = try #require(actions.sends.first)
        #expect(replacement.kind == .stopMarket && replacement.triggerPrice == price("7.5") && replacement.quantity == Quantity(10))
        #expect(replacement.clientID != stop.clientID)
    }

    @Test func unknownOrderOfOursIsAdoptedAndAStrayStopCancelled() {
        var engine = openEngine()
        let id = ClientOrderID.make(tag: testTag, sequence: 41, purpose: .stop)
        let order = VenueOrder(
            clientID: id, venueOrderID: "a41", kind: .stopMarket, side: .short, status: .accepted, quantity: Quantity(3),
            filledQuantity: .zero,
            averagePrice: nil, triggerPrice: price("7"), reduceOnly: true, updatedAt: time(1))
        let actions = engine.handle(.snapshot(flatSnapshot(at: 2, open: [order]), at: time(2)))
        #expect(actions.notes(.adopted).count == 1)
        // A stop resting with no position to protect is cancelled.
        #expect(actions.cancels == [id])
        #expect(engine.order(clientID: id)?.status == .pendingCancel)
        #expect(engine.nextSequence == 42)
    }
}
