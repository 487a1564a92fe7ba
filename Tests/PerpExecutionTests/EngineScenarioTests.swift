import PerpEngine
import PerpExecution
import PerpModel
import PerpSimulation
import Testing

@Suite struct EngineScenarioTests {
    @Test func marketEntryFilledInTwoTradesThenStopAndTarget() throws {
        var engine = openEngine()
        let entry = try #require(enter(&engine))
        #expect(entry.kind == .market && entry.purpose == .entry && !entry.reduceOnly && entry.quantity == Quantity(10))
        #expect(entry.clientID == ClientOrderID.make(tag: testTag, sequence: 1, purpose: .entry))
        #expect(engine.nextSequence == 2)
        _ = engine.handle(.submitted(clientID: entry.clientID, .accepted(report(entry, .accepted)), at: time(1)))
        let first = engine.handle(.venue(.fill(fill("t1", entry, "6", at: "8.25")), at: time(2)))
        #expect(first.kernelFills.isEmpty && first.sends.isEmpty)
        let second = engine.handle(.venue(.fill(fill("t2", entry, "4", at: "8.26")), at: time(2)))
        let record = try #require(second.kernelFills.first)
        #expect(second.kernelFills.count == 1)
        #expect(record.side == .long && record.quantity == Quantity(10) && record.reason == .signal)
        #expect(record.price == price("8.254"))  // (6·8.25 + 4·8.26) ÷ 10
        #expect(record.fee == Notional("0.02"))
        let sends = second.sends
        #expect(sends.count == 2)
        #expect(sends.map(\.kind) == [.stopMarket, .takeProfitMarket])
        #expect(sends.allSatisfy { $0.reduceOnly && $0.side == .short && $0.quantity == Quantity(10) })
        #expect(sends.map(\.triggerPrice) == [price("7.5"), price("9")])
        #expect(engine.position == Quantity(10))
        #expect(engine.averageEntry == price("8.254"))
        #expect(engine.order(clientID: entry.clientID)?.status == .filled)
    }

    @Test func lostResponseLookupFindsItFilledAdoptedOnce() throws {
        var engine = openEngine()
        let entry = try #require(enter(&engine, seconds: 10))
        let unknown = engine.handle(.submitted(clientID: entry.clientID, .unknown(reason: "timeout"), at: time(11)))
        #expect(unknown.notes(.unknownOutcome).count == 1 && unknown.lookups.isEmpty && unknown.sends.isEmpty)
        #expect(engine.gate == .reducing("1 order with an unknown outcome"))
        #expect(engine.handle(.tick(at: time(14))).lookups.isEmpty)  // within the grace
        let due = engine.handle(.tick(at: time(15)))
        #expect(due.lookups == [entry.clientID])
        #expect(engine.handle(.tick(at: time(16))).lookups.isEmpty)  // not more often than the grace
        let found = engine.handle(.lookedUp(clientID: entry.clientID, .found(report(entry, .filled, filled: Quantity(10))), at: time(16)))
        #expect(found.notes(.adopted).count == 1 && found.sends.isEmpty && found.kernelFills.isEmpty)  // fills come as fills
        let filled = engine.handle(.venue(.fill(fill("t1", entry, "10", at: "8.25", clientID: false)), at: time(17)))
        #expect(filled.kernelFills.count == 1 && filled.sends.count == 2)
        #expect(engine.gate == .reducing("2 orders with an unknown outcome"))  // the stop and target just sent
        #expect(engine.handle(.tick(at: time(40))).lookups.isEmpty)
        #expect(engine.orders.filter { $0.intent.purpose == .entry }.count == 1)
    }

    @Test func notFoundAfterGraceResendsOnceWithTheSameID() throws {
        var engine = openEngine()
        let entry = try #require(enter(&engine, seconds: 10))
        _ = engine.handle(.submitted(clientID: entry.clientID, .unknown(reason: "HTTP 503"), at: time(10)))
        #expect(engine.handle(.tick(at: time(15))).lookups == [entry.clientID])
        let resent = engine.handle(.lookedUp(clientID: entry.clientID, .notFound, at: time(15)))
        #expect(resent.sends == [entry])
        #expect(resent.notes(.resent).count == 1)
        _ = engine.handle(.submitted(clientID: entry.clientID, .unknown(reason: "timeout"), at: time(16)))
        // A not-found inside the grace of the resend is not definitive.
        let early = engine.handle(.lookedUp(clientID: entry.clientID, .notFound, at: time(18)))
        #expect(early.sends.isEmpty && early.notes(.neverSent).isEmpty)
        #expect(engine.handle(.tick(at: time(21))).lookups == [entry.clientID])
        let final = engine.handle(.lookedUp(clientID: entry.clientID, .notFound, at: time(21)))
        #expect(final.sends.isEmpty && final.notes(.neverSent).count == 1)
        #expect(engine.order(clientID: entry.clientID)?.status == .neverSent)
        #expect(engine.gate == .open)
    }

    @Test func duplicateFillAppliedOnce() throws {
        var engine = openEngine()
        let entry = try #require(enter(&engine))
        _ = engine.handle(.venue(.fill(fill("t1", entry, "4", at: "8.25")), at: time(2)))
        let again = engine.handle(.venue(.fill(fill("t1", entry, "4", at: "8.25", clientID: false)), at: time(3)))
        #expect(again.notes(.duplicateFill).count == 1 && again.kernelFills.isEmpty)
        #expect(engine.position == Quantity(4))
        #expect(engine.order(clientID: entry.clientID)?.tradeCount == 1)
    }

    @Test func lateFillAfterCancelCounts() throws {
        var (engine, _, stop, target) = try #require(protectedEngine())
        let cancel = engine.handle(.commands([.cancelOrders], at: time(5), price: price("8.5")))
        #expect(cancel.cancels == [stop.clientID, target.clientID])
        _ = engine.handle(.cancelAnswered(clientID: target.clientID, .cancelled(nil), at: time(6)))
        #expect(engine.order(clientID: target.clientID)?.status == .cancelled)
        let late = engine.handle(.venue(.fill(fill("t9", target, "10", at: "9", venueID: "algo-t")), at: time(7)))
        #expect(engine.order(clientID: target.clientID)?.status == .filled)
        #expect(engine.position == .zero)
        #expect(late.kernelFills.map(\.reason) == [.target])
    }

    @Test func cancelOfAnOrderAlreadyFilledLooksItUp() throws {
        var (engine, _, stop, target) = try #require(protectedEngine())
        _ = engine.handle(.commands([.cancelOrders], at: time(5), price: price("7.4")))
        let notOpen = engine.handle(.cancelAnswered(clientID: stop.clientID, .notOpen, at: time(6)))
        #expect(notOpen.lookups == [stop.clientID])
        _ = engine.handle(
            .lookedUp(clientID: stop.clientID, .found(report(stop, .filled, filled: Quantity(10), venueID: "algo-s")), at: time(6)))
        let filled = engine.handle(.venue(.fill(fill("s1", stop, "10", at: "7.5", venueID: "algo-s")), at: time(7)))
        #expect(filled.kernelFills.map(\.reason) == [.stop])
        #expect(engine.order(clientID: stop.clientID)?.status == .filled)
        #expect(engine.order(clientID: target.clientID)?.status == .pendingCancel)
        #expect(engine.position == .zero)
    }

    @Test func overfillRefused() throws {
        var engine = openEngine()
        let entry = try #require(enter(&engine))
        _ = engine.handle(.venue(.fill(fill("t1", entry, "6", at: "8.25")), at: time(2)))
        let over = engine.handle(.venue(.fill(fill("t2", entry, "6", at: "8.25")), at: time(2)))
        #expect(over.notes(.refused).contains { $0.text.contains("overfill") })
        #expect(over.wantsSnapshot)
        #expect(engine.position == Quantity(6))
    }

    @Test func stopFilledCancelsTargetAndTellsKernel() throws {
        var (engine, _, stop, target) = try #require(protectedEngine())
        _ = engine.handle(.venue(.order(report(stop, .filled, filled: Quantity(10), venueID: "algo-s", triggered: "m-77")), at: time(8)))
        let actions = engine.handle(.venue(.fill(fill("s1", stop, "10", at: "7.49", clientID: false, venueID: "m-77")), at: time(8)))
        #expect(actions.kernelFills.count == 1)
        let record = try #require(actions.kernelFills.first)
        #expect(record.reason == .stop && record.side == .short && record.price == price("7.49"))
        #expect(actions.cancels == [target.clientID])
        #expect(engine.position == .zero && engine.averageEntry == nil)
    }

    @Test func protectiveRejectedClosesAtMarket() throws {
        var engine = openEngine()
        let entry = try #require(enter(&engine))
        let sends = engine.handle(.venue(.fill(fill("t1", entry, "10", at: "8.25")), at: time(2))).sends
        let stop = try #require(sends.first)
        let rejected = engine.handle(
            .submitted(clientID: stop.clientID, .rejected(code: -2021, message: "Order would immediately trigger."), at: time(3)))
        #expect(rejected.notes(.rejected).count == 1)
        let close = try #require(rejected.sends.first)
        #expect(rejected.sends.count == 1)
        #expect(
            close.kind == .market && close.reduceOnly && close.purpose == .stop && close.side == .short && close.quantity == Quantity(10))
    }

    @Test func closeCancelsProtectionAndSendsReduceOnlyMarket() throws {
        var (engine, _, stop, target) = try #require(protectedEngine())
        let actions = engine.handle(.commands([.close(reason: .timeExit)], at: time(9), price: price("8.3")))
        #expect(actions.cancels == [stop.clientID, target.clientID])
        #expect(actions.sends.map(\.purpose) == [.timeExit])
        #expect(actions.sends.first?.reduceOnly == true && actions.sends.first?.quantity == Quantity(10))
    }

    @Test func sizingRoundsDownAndRefusesSmallOrders() {
        var engine = openEngine(fraction: Rate("0.1") ?? .one)
        #expect(enter(&engine, .long, "37.99")?.quantity == qty("3.7"))
        var second = openEngine(fraction: Rate("0.1") ?? .one)
        // 5 × 0.1 = 0.5 NMR at 8.25 = 4.125 USDT, below the 5 USDT minimum.
        let small = second.handle(
            .commands([.open(side: .long, quantity: Quantity(5), stop: price("7"), target: price("9"))], at: time(1), price: price("8.25")))
        #expect(small.sends.isEmpty && small.notes(.refused).count == 1)
        let belowLot = second.handle(
            .commands([.open(side: .long, quantity: qty("0.9"), stop: price("7"), target: price("9"))], at: time(1), price: price("8.25")))
        #expect(belowLot.sends.isEmpty && belowLot.notes(.refused).count == 1)
        let huge = second.handle(
            .commands(
                [.open(side: .long, quantity: Quantity(1_000_000), stop: price("7"), target: price("9"))], at: time(1), price: price("8.25")
            ))
        #expect(huge.sends.isEmpty && huge.notes(.refused).count == 1)
        #expect(second.nextSequence == 1)
    }

    @Test func haltedSendsNoEntriesButCancels() throws {
        var (engine, _, stop, target) = try #require(protectedEngine())
        let stopped = engine.handle(.stop(flatten: false, reason: "operator", at: time(10)))
        #expect(stopped.cancels == [stop.clientID, target.clientID] && stopped.sends.isEmpty)
        #expect(engine.gate == .halted("operator"))
        _ = engine.handle(.cancelAnswered(clientID: stop.clientID, .cancelled(nil), at: time(11)))
        _ = engine.handle(.cancelAnswered(clientID: target.clientID, .cancelled(nil), at: time(11)))
        let entry = engine.handle(
            .commands(
                [.open(side: .long, quantity: Quantity(10), stop: price("7"), target: price("9"))], at: time(12), price: price("8.25")))
        #expect(entry.sends.isEmpty && entry.notes(.refused).count == 1)
        // A snapshot that matches does not reopen an operator's halt.
        _ = engine.handle(.snapshot(flatSnapshot(at: 13, position: Quantity(10)), at: time(13)))
        #expect(engine.gate == .halted("operator"))
        let flatten = engine.handle(.stop(flatten: true, reason: "operator", at: time(14)))
        #expect(flatten.sends.map(\.purpose) == [.killSwitch] && flatten.sends.first?.reduceOnly == true)
    }

    /// Found by the dashboard's browser test: an entry sent just before the operator's stop
    /// fills after it, and the first close was refused. The position the venue then shows is
    /// closed too, once per change of position (a refusal is never answered by a loop).
    @Test func aStopWithFlattenClosesAnEntryThatFillsAfterIt() throws {
        var engine = openEngine()
        let entry = try #require(enter(&engine, .short, "10"))
        _ = engine.handle(.submitted(clientID: entry.clientID, .accepted(report(entry, .accepted)), at: time(1)))
        // The stop comes while the entry is in flight: flat, so nothing to close yet.
        let stopped = engine.handle(.stop(flatten: true, reason: "operator", at: time(2)))
        #expect(stopped.sends.isEmpty)
        let late = engine.handle(.venue(.fill(fill("t1", entry, "10", at: "8.25", seconds: 3)), at: time(3)))
        let close = try #require(late.sends.first)
        #expect(close.purpose == .killSwitch && close.reduceOnly && close.side == .long && close.quantity == Quantity(10))
        #expect(late.notes(.stopped).contains { $0.text.contains("after the stop") })
        // Refused: not sent again for the same position, on any later input.
        let refused = engine.handle(
            .submitted(clientID: close.clientID, .rejected(code: -2022, message: "ReduceOnly Order is rejected."), at: time(4)))
        #expect(refused.sends.isEmpty)
        #expect(engine.handle(.tick(at: time(5))).sends.isEmpty)
        // A new run ends the operator's stop, and with it the flatten.
        _ = engine.handle(.restarted(at: time(6)))
        #expect(engine.handle(.tick(at: time(7))).sends.isEmpty)
    }

    @Test func theOperatorsHaltLastsUntilTheSessionIsStartedAgain() throws {
        var (engine, _, stop, target) = try #require(protectedEngine())
        _ = engine.handle(.stop(flatten: false, reason: "operator", at: time(10)))
        _ = engine.handle(.cancelAnswered(clientID: stop.clientID, .cancelled(nil), at: time(11)))
        _ = engine.handle(.cancelAnswered(clientID: target.clientID, .cancelled(nil), at: time(11)))
        #expect(engine.gate == .halted("operator"))
        let restarted = engine.handle(.restarted(at: time(20)))
        #expect(restarted.notes(.resumed).count == 1)
        #expect(engine.gate == .awaitingReconciliation)
        _ = engine.handle(.snapshot(flatSnapshot(at: 21, position: Quantity(10)), at: time(21)))
        #expect(engine.gate == .open || engine.gate == .reducing("2 orders with an unknown outcome"))
    }

    @Test func liquidationFillGoesToKernelAndAsksForSnapshot() throws {
        var (engine, _, stop, target) = try #require(protectedEngine())
        let liquidation = VenueFill(
            tradeID: "L1", venueOrderID: "999", clientID: "autoclose-1700000000", side: .short, quantity: Quantity(10), price: price("6"),
            fee: .zero, realizedPnL: Notional(-22), time: time(20))
        let actions = engine.handle(.venue(.fill(liquidation), at: time(20)))
        #expect(actions.kernelFills.map(\.reason) == [.liquidation])
        #expect(actions.notes(.externalFill).count == 1 && actions.wantsSnapshot)
        #expect(actions.cancels == [stop.clientID, target.clientID])
        #expect(engine.position == .zero)
    }
}
