import PerpModel
import PerpSimulation
import Testing

/// A strategy names why an order fills or why it closes (``OrderRequest/reason``,
/// ``StrategyAction/exit(_:)``); the fill and the trade carry it, and without one the order's
/// kind says, as before.
@Suite("Exit reasons")
struct ExitReasonTests {
    @Test("a close with a reason: the fill and the trade carry it; a plain flatten stays a signal")
    func exitCarriesItsReason() throws {
        let bars = series([.flat("100"), .flat("101"), .flat("102"), .flat("103")])
        let (result, _) = run(bars, [0: .target(qty("1")), 1: .exit(.timeExit), 2: .target(qty("-1")), 3: .flatten])
        #expect(result.fills.map(\.reason) == [.signal, .timeExit, .signal, .signal])
        #expect(result.trades.map(\.exitReason) == [.timeExit, .signal])
        #expect(result.fills[1].price == px("101"))
    }

    @Test("a resting limit or stop with a reason fills with it; without one, as its kind", arguments: [FillReason.target, nil])
    func restingOrderReason(reason: FillReason?) throws {
        let exits = StrategyAction.submit([
            OrderRequest(side: .short, quantity: qty("1"), kind: .limit(px("105")), reduceOnly: true, reason: reason),
            OrderRequest(side: .short, quantity: qty("1"), kind: .stop(px("95")), reduceOnly: true),
        ])
        let bars = series([.flat("100"), .flat("100"), Bar("100", "106", "99", "104")])
        let (result, _) = run(bars, [0: .target(qty("1")), 1: exits])
        let fill = try #require(result.fills.last)
        #expect(fill.reason == (reason ?? .limit))
        #expect(fill.price == px("105"))
        #expect(result.trades.first?.exitReason == (reason ?? .limit))
    }

    @Test("a market order and a marketable limit with a reason fill with it at the close")
    func immediateOrdersCarryTheirReason() {
        let bars = series([.flat("100"), .flat("100"), .flat("100")])
        let (result, _) = run(
            bars,
            [
                0: .target(qty("2")),
                1: .submit([
                    OrderRequest(side: .short, quantity: qty("1"), kind: .market, reason: .circuitBreaker),
                    OrderRequest(side: .short, quantity: qty("1"), kind: .limit(px("99")), reason: .killSwitch),
                ]),
            ])
        #expect(result.fills.map(\.reason) == [.signal, .circuitBreaker, .killSwitch])
        #expect(result.trades.first?.exitReason == .killSwitch)
    }
}
