import PerpEngine
import PerpExecution
import PerpModel
import PerpSimulation

/// NMRUSDT-like rules: tick 0.001, lot 0.1, min notional 5 USDT (Binance `exchangeInfo`).
let testRules = MarketRules(
    symbol: "NMRUSDT", tickSize: price("0.001"), lotSize: qty("0.1"), maxMarketQuantity: Quantity(10_000), minNotional: Notional(5))

func qty(_ text: String) -> Quantity { Quantity(text) ?? .zero }
func price(_ text: String) -> Price { Price(text) ?? .zero }
func time(_ seconds: Int64) -> Timestamp { Timestamp(milliseconds: 1_700_000_000_000 + seconds * 1000) }

let testTag = ClientOrderID.tag(session: "test-session", createdAt: time(0))

func testSettings(fraction: Rate = .one) -> ExecutionSettings {
    ExecutionSettings(sessionTag: testTag, rules: testRules, sizeFraction: fraction)
}

func flatSnapshot(at seconds: Int64, position: Quantity = .zero, open: [VenueOrder] = [], fills: [VenueFill] = []) -> VenueSnapshot {
    VenueSnapshot(
        openOrders: open, position: VenuePosition(quantity: position),
        balance: VenueBalance(wallet: Notional(1000), available: Notional(900)),
        fills: fills, time: time(seconds))
}

/// A new engine reconciled against a flat, empty venue: the gate is open.
func openEngine(fraction: Rate = .one) -> ExecutionEngine {
    var engine = ExecutionEngine(settings: testSettings(fraction: fraction))
    _ = engine.handle(.snapshot(flatSnapshot(at: 0), at: time(0)))
    return engine
}

func report(
    _ intent: OrderIntent, _ status: OrderStatus, filled: Quantity = .zero, venueID: String? = nil, triggered: String? = nil,
    at seconds: Int64 = 1
) -> VenueOrder {
    VenueOrder(
        clientID: intent.clientID, venueOrderID: venueID ?? "v\(intent.sequence)", kind: intent.kind, side: intent.side, status: status,
        quantity: intent.quantity, filledQuantity: filled, averagePrice: nil, triggerPrice: intent.triggerPrice,
        reduceOnly: intent.reduceOnly, updatedAt: time(seconds), triggeredOrderID: triggered)
}

func fill(
    _ trade: String, _ intent: OrderIntent, _ quantity: String, at p: String, clientID: Bool = true, venueID: String? = nil,
    seconds: Int64 = 2
) -> VenueFill {
    VenueFill(
        tradeID: trade, venueOrderID: venueID ?? "v\(intent.sequence)", clientID: clientID ? intent.clientID : nil, side: intent.side,
        quantity: qty(quantity), price: price(p), fee: Notional("0.01") ?? .zero, realizedPnL: .zero, time: time(seconds))
}

extension Array where Element == ExecutionAction {
    var sends: [OrderIntent] {
        compactMap {
            if case .send(let intent) = $0 { return intent }
            return nil
        }
    }
    var lookups: [String] {
        compactMap {
            if case .lookup(let id, _) = $0 { return id }
            return nil
        }
    }
    var cancels: [String] {
        compactMap {
            if case .cancel(let id, _) = $0 { return id }
            return nil
        }
    }
    var kernelFills: [FillRecord] {
        flatMap { action -> [FillRecord] in
            if case .kernelFills(let fills) = action { return fills }
            return []
        }
    }
    var notes: [ExecutionNote] {
        compactMap {
            if case .note(let note) = $0 { return note }
            return nil
        }
    }
    func notes(_ kind: ExecutionNote.Kind) -> [ExecutionNote] { notes.filter { $0.kind == kind } }
    var wantsSnapshot: Bool { contains(.snapshotNeeded) }
}

/// Sends a kernel entry through an open engine and returns its intent.
func enter(
    _ engine: inout ExecutionEngine, _ side: Side = .long, _ quantity: String = "10", stop: String = "7.5", target: String = "9",
    at p: String = "8.25", seconds: Int64 = 1
) -> OrderIntent? {
    let actions = engine.handle(
        .commands(
            [.open(side: side, quantity: qty(quantity), stop: price(stop), target: price(target))], at: time(seconds), price: price(p)))
    return actions.sends.first
}

/// An engine holding a filled long entry of 10 with its stop and target accepted.
func protectedEngine() -> (ExecutionEngine, entry: OrderIntent, stop: OrderIntent, target: OrderIntent)? {
    var engine = openEngine()
    guard let entry = enter(&engine) else { return nil }
    _ = engine.handle(.submitted(clientID: entry.clientID, .accepted(report(entry, .accepted)), at: time(1)))
    let actions = engine.handle(.venue(.fill(fill("t1", entry, "10", at: "8.25")), at: time(2)))
    let sends = actions.sends
    guard sends.count == 2 else { return nil }
    let stop = sends[0]
    let target = sends[1]
    _ = engine.handle(.submitted(clientID: stop.clientID, .accepted(report(stop, .accepted, venueID: "algo-s")), at: time(3)))
    _ = engine.handle(.submitted(clientID: target.clientID, .accepted(report(target, .accepted, venueID: "algo-t")), at: time(3)))
    return (engine, entry, stop, target)
}
