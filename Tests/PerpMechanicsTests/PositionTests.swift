import PerpMechanics
import PerpModel
import Testing

/// Net position with an exact cost basis (Position.swift).
@Suite("Position")
struct PositionTests {
    @Test("a worked sequence: open, add, reduce, flip, close")
    func workedSequence() {
        var position = Position()
        #expect(position.isFlat && position.side == nil && position.entryPrice == nil)
        #expect(position.apply(delta: Quantity(10), price: Price(10)) == .zero)
        #expect(position.apply(delta: Quantity(10), price: Price(12)) == .zero)
        #expect(position.quantity == Quantity(20))
        #expect(position.costBasis == Notional(220))
        #expect(position.entryPrice == Price(11))
        #expect(position.side == .long)
        #expect(position.unrealizedPnL(mark: Price(13)) == Notional(40))

        // Sell 5 at 13: realises 5 × (13 − 11) on the closed part only.
        #expect(position.apply(delta: Quantity(-5), price: Price(13)) == Notional(10))
        #expect(position.quantity == Quantity(15))
        #expect(position.costBasis == Notional(165))
        #expect(position.entryPrice == Price(11))

        // Sell 20 at 9: closes 15 (realising 15 × (9 − 11) = −30) and opens a short of 5 at 9.
        #expect(position.apply(delta: Quantity(-20), price: Price(9)) == Notional(-30))
        #expect(position.quantity == Quantity(-5))
        #expect(position.costBasis == Notional(-45))
        #expect(position.entryPrice == Price(9))
        #expect(position.side == .short)
        #expect(position.unrealizedPnL(mark: Price(9)) == .zero)
        #expect(position.unrealizedPnL(mark: Price(8)) == Notional(5))

        // Buy 5 at 8: the short closes with 5 × (9 − 8) = 5.
        #expect(position.apply(delta: Quantity(5), price: Price(8)) == Notional(5))
        #expect(position.isFlat)
        #expect(position.costBasis == .zero)
        #expect(position.entryPrice == nil)
        #expect(position.apply(delta: .zero, price: Price(100)) == .zero)
        #expect(position == Position())
    }

    @Test("a flip from long to short realises PnL only on the closed part (seeded)")
    func flipRealisesClosedPartOnly() {
        var rng = SplitMix64(seed: 0x5EED_1301)
        for _ in 0..<500 {
            let longSize = Quantity(raw: Int64.random(in: 1...100_000, using: &rng) * 1_000_000)
            let extra = Quantity(raw: Int64.random(in: 1...100_000, using: &rng) * 1_000_000)
            let open = Price(raw: Int64.random(in: 1...5_000_000, using: &rng) * 10_000)
            let close = Price(raw: Int64.random(in: 1...5_000_000, using: &rng) * 10_000)
            var position = Position()
            position.apply(delta: longSize, price: open)
            let realised = position.apply(delta: -(longSize + extra), price: close)
            #expect(realised == (close - open) * longSize, "only the \(longSize) closed realise")
            #expect(position.quantity == -extra)
            #expect(position.entryPrice == close)
            #expect(position.costBasis == close * -extra)
            #expect(position.unrealizedPnL(mark: close) == .zero, "the new short starts with no PnL")
            // And the mirror image: short to long.
            var short = Position()
            short.apply(delta: -longSize, price: open)
            #expect(short.apply(delta: longSize + extra, price: close) == (open - close) * longSize)
            #expect(short.quantity == extra)
            #expect(short.entryPrice == close)
        }
    }

    @Test("realised PnL plus final unrealised equals total cash flow, exactly (seeded)")
    func cashFlowConservation() {
        var rng = SplitMix64(seed: 0x5EED_1302)
        var flips = 0
        for _ in 0..<300 {
            var position = Position()
            var realised = Notional.zero
            var cash = Notional.zero  // − what was paid for buys + what was received for sells
            for _ in 0..<Int.random(in: 1...30, using: &rng) {
                // Tick 0.0001 and lot 0.01: every fill value is exact at 8 decimals.
                let delta = Quantity(raw: Int64.random(in: -50_000...50_000, using: &rng) * 1_000_000)
                let price = Price(raw: Int64.random(in: 1_000...3_000_000, using: &rng) * 10_000)
                let before = position.quantity
                realised += position.apply(delta: delta, price: price)
                cash -= price * delta
                if !before.isZero, !position.quantity.isZero, before.isPositive != position.quantity.isPositive { flips += 1 }
                // The basis always has the position's sign and stays consistent with the size.
                #expect(
                    position.quantity.isZero ? position.costBasis.isZero : position.costBasis.isPositive == position.quantity.isPositive)
            }
            let mark = Price(raw: Int64.random(in: 1_000...3_000_000, using: &rng) * 10_000)
            // Liquidating at `mark` would bring in q·mark; everything must add up to the cent, and below.
            #expect(realised + position.unrealizedPnL(mark: mark) == cash + mark * position.quantity)
        }
        #expect(flips > 100, "the random fills exercise flips (\(flips))")
    }

    @Test("partial closes with an inexact average keep the books exact")
    func inexactAverage() {
        var position = Position()
        position.apply(delta: Quantity(1), price: Price(10))
        position.apply(delta: Quantity(2), price: Price(11))
        // Average 32/3 = 10.66666667; basis 32 exactly.
        #expect(position.entryPrice == Price("10.66666667"))
        var realised = Notional.zero
        realised += position.apply(delta: Quantity(-1), price: Price(12))  // releases 10.66666667
        realised += position.apply(delta: Quantity(-1), price: Price(12))
        realised += position.apply(delta: Quantity(-1), price: Price(12))
        #expect(position.isFlat)
        #expect(realised == Notional(4), "36 received − 32 paid, with no raw unit lost to rounding")
    }
}
