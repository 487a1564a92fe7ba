import PerpModel
import PerpSimulation
import Testing

/// Broken data (a price a million times too high) and absurd settings stop a run with a reason
/// instead of overflowing the fixed-point ledger (`AmountLimit`).
@Suite struct AmountLimitTests {
    /// Ten flat bars at 10, then a spike to ten million, then back.
    private func spiked() -> CandleSeries {
        var bars = (0..<10).map { _ in Bar.flat("10") }
        bars.append(Bar("10", "10000000", "10", "10000000"))
        bars += (0..<5).map { _ in Bar.flat("10") }
        return series(bars)
    }

    @Test func aSpikeBeyondTheLimitStopsTheRunAtThatBar() throws {
        // Long 1,000 NMR at 10: 10,000 USDC; at ten million it would be ten billion.
        let (result, seen) = run(spiked(), [2: .target(qty("1000"))], capital: "100000")
        let halt = try #require(result.halt)
        #expect(halt.bar == 10)
        #expect(halt.time == Timestamp(milliseconds: t0 + 10 * hour))
        #expect(halt.reason.contains("1000000000 USDC"), "\(halt.reason)")
        #expect(halt.description.hasPrefix("stopped at bar 10 (2024-01-01T10:00:00Z): "))
        // Everything before it happened, nothing after.
        #expect(seen.map(\.bar) == Array(0..<10))
        #expect(result.fills.count == 1)
        // Marked at the last close processed, less the entry's fee.
        #expect(result.finalEquity == usd("100000") - usd("5"))
    }

    @Test func flatThroughTheSpikeNothingStops() {
        // No position, nothing at risk: the spike is just a bar.
        let (result, seen) = run(spiked(), [:], capital: "100000")
        #expect(result.halt == nil)
        #expect(seen.count == 16)
    }

    @Test func anOrderBeyondTheLimitIsRefusedAndStops() throws {
        let bars = series((0..<5).map { _ in Bar.flat("10") })
        // 200 million NMR at 10 is two billion USDC.
        let (result, _) = run(bars, [1: .target(qty("200000000"))], capital: "100000")
        let halt = try #require(result.halt)
        #expect(halt.bar == 1)
        #expect(halt.reason.contains("an order for 200000000 NMR"), "\(halt.reason)")
        #expect(result.fills.isEmpty)
        #expect(result.finalEquity == usd("100000"))
    }

    @Test func leverageBeyondTheLimitStops() throws {
        let bars = series((0..<5).map { _ in Bar.flat("10") })
        let (result, _) = run(bars, [1: .enter(.long, leverage: rate("100000"))], capital: "100000")
        let halt = try #require(result.halt)
        #expect(halt.reason.contains("100000× a balance of 100000 USDC"), "\(halt.reason)")
        #expect(result.fills.isEmpty)
    }

    @Test func steppingRefusesTheSpikeAndSaysSoFirst() throws {
        var tester = Backtester(strategy: Scripted([2: .target(qty("1000"))]), config: venue(), initialCapital: usd("100000"))
        let bars = spiked()
        for index in 0..<10 { tester.step(bars[index]) }
        #expect(!tester.carries(bars[10]))
        #expect(tester.carries(bars[11]))
        #expect(!tester.carries(bars[11], funding: [(settlement(hours: 11, "0.0001"), px("10000000"))]))
        tester.step(bars[10])
        #expect(tester.halt?.bar == 10)
        tester.step(bars[11])
        #expect(tester.snapshot.bars == 10)
    }

    @Test func theLimitIsExactAtItsEdge() {
        // 100 million NMR at 10 is exactly the limit; one lot more is over.
        #expect(!AmountLimit.exceeded(quantity: qty("100000000").raw, price: px("10").raw))
        #expect(AmountLimit.exceeded(quantity: qty("100000000.00000001").raw, price: px("10").raw))
        #expect(AmountLimit.exceeded(quantity: -qty("100000000.00000001").raw, price: px("10").raw))
        #expect(AmountLimit.highestPrice(for: qty("100000000").raw) == px("10").raw)
        #expect(AmountLimit.highestPrice(for: 0) == .max)
        #expect(AmountLimit.highestPrice(for: Int64.min) > 0)
    }

    @Test func theHighestPriceIsTheExactQuotientForAnySize() {
        // Against a plain 128-bit division: every size from one raw unit to Int64's extremes.
        let limit = Int128(AmountLimit.notional.raw) * Int128(Quantity.scale)
        var generator = SplitMix64(seed: 5)
        var sizes: [Int64] = [1, 2, 3, 7, 1_000_000, 1_111_111, 1_111_112, 99_999_999, Int64.max, Int64.min, -1, -Int64.max]
        for _ in 0..<20_000 {
            // Log-uniform magnitudes, either sign.
            let bits = Int(generator.next() % 63)
            let magnitude = Int64(bitPattern: generator.next() >> UInt64(63 - bits)) | 1
            sizes.append(generator.next() % 2 == 0 ? magnitude : -magnitude)
        }
        for size in sizes {
            let exact = Int64(exactly: limit / Int128(size.magnitude)) ?? .max
            #expect(AmountLimit.highestPrice(for: size) == exact, "size \(size)")
        }
    }
}
