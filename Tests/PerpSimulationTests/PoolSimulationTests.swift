import PerpHedge
import PerpMarketData
import PerpModel
import PerpSimulation
import TestSupport
import Testing

private let poolStart: Int64 = 1_704_067_200_000  // 2024-01-01T00:00:00Z
private let poolHour: Int64 = 3_600_000

/// Hourly bars over `days`: a triangle wave between $8 and $14, and, when `spikeAt` is set, one
/// bar whose high is four times its open (enough to liquidate a short backed by k = 2.7332).
private func poolSeries(days: Int, spikeAt: Int? = nil, flat: Bool = false) -> CandleSeries {
    var series = CandleSeries()
    let count = days * 24
    series.reserveCapacity(count)
    var previous: Int64 = 10 * 100_000_000
    for i in 0..<count {
        let phase = Int64(i % 240)
        let wave = phase < 120 ? phase : 240 - phase
        let close = flat ? 10 * 100_000_000 : 8 * 100_000_000 + wave * 5_000_000
        let open = previous
        var high = max(open, close) + (flat ? 0 : 1_000_000)
        if i == spikeAt { high = open * 4 }
        let low = min(open, close) - (flat ? 0 : 1_000_000)
        series.appendRaw(openTime: poolStart + Int64(i) * poolHour, open: open, high: high, low: low, close: close, volume: 100_000_000)
        previous = close
    }
    return series
}

/// Hourly funding of +1 bp (longs pay shorts) or −0.5 bp, alternating by day.
private func poolFunding(days: Int) -> [FundingRate] {
    (1...(days * 24)).map { i in
        let rate = (i / 24) % 2 == 0 ? Rate("0.0001")! : Rate("-0.00005")!
        return FundingRate(time: Timestamp(milliseconds: poolStart + Int64(i) * poolHour), rate: rate, interval: .hours(1))
    }
}

@Suite struct PoolSimulationTests {
    @Test func splitMix64MatchesTheReferenceSequence() {
        // Reference values of SplitMix64 from seed 0 (Vigna's splitmix64.c).
        var generator = SplitMix64(seed: 0)
        #expect(generator.next() == 0xE220_A839_7B1D_CDAF)
        #expect(generator.next() == 0x6E78_9E6A_A1B9_65F4)
        var bounded = SplitMix64(seed: 42)
        for _ in 0..<1000 { #expect(bounded.next(below: 7) < 7) }
    }

    @Test func sameSeedSameResultAndNoViolations() throws {
        let candles = poolSeries(days: 90, spikeAt: 40 * 24 + 5)
        let funding = poolFunding(days: 90)
        var config = PoolSimulationConfig(seed: 7)
        config.events = 120
        let first = try PoolSimulation(config: config).run(candles, funding: funding)
        let second = try PoolSimulation(config: config).run(candles, funding: funding)
        #expect(first == second)
        #expect(first.violations.isEmpty, "\(first.violations.prefix(5))")
        #expect(first.liquidations == 1)
        #expect(first.events.filter { $0.kind == .liquidation }.count == 1)
        #expect(first.rebalanceLog.contains { $0.reason == .liquidation })
        // Every request became a deposit, a withdrawal or a refusal.
        #expect(first.depositEvents + first.withdrawalEvents + first.refusedEvents == 120)
        #expect(first.withdrawalEvents > 10 && first.depositEvents > 10)
        // The operator's seed deposit and its top-ups keep it at its minimum share.
        #expect(first.events.first?.kind == .operatorDeposit && first.events.first?.depositor == PoolSimulation.operatorID)
        #expect(first.events.filter { $0.kind == .operatorDeposit }.count > 1)
        #expect(!first.ledger.operatorBelowMinimum)
        // Claims add up to the final NAV but for dust.
        let claims = first.holders.reduce(Int64(0)) { $0 + $1.finalClaim.raw }
        #expect(claims <= first.finalNAV.raw && first.finalNAV.raw - claims < Int64(first.holders.count))
        #expect(first.maxInvariantError.raw < 10)
        #expect(first.invariantChecks >= candles.count)
        // Positive funding is paid by longs: the short received it on net.
        #expect(first.fundingSettlements > 0 && first.fundingReceived.isPositive)
        // Periodic rebalances: at the first bar and every 30 days, plus one per request.
        #expect(first.rebalanceLog.filter { $0.reason == .period }.count == 3)
        // The short stays at NAV / k after every rebalance (rounded down to a lot).
        for rebalance in first.rebalanceLog {
            let notional = rebalance.price.times(rebalance.short)
            let cap = (Fraction(rebalance.nav) / Fraction(config.collateralMultiple)).rounded(to: Notional.self, .up)
            #expect(notional <= cap)
        }
        // Another seed draws other requests.
        var other = config
        other.seed = 8
        let third = try PoolSimulation(config: other).run(candles, funding: funding)
        #expect(third.events != first.events)
        #expect(third.violations.isEmpty)
    }

    @Test func flatMarketNobodyGainsOrLosesMoreThanDust() throws {
        var config = PoolSimulationConfig(seed: 99)
        config.events = 80
        config.depositors = 5
        let result = try PoolSimulation(config: config).run(poolSeries(days: 30, flat: true))
        #expect(result.violations.isEmpty)
        #expect(result.liquidations == 0 && result.operatorFeesEarned == .zero)
        for holder in result.holders {
            #expect(!holder.pnl.isPositive && holder.pnl.raw > -10, "\(holder.depositor) \(holder.pnl)")
            #expect(holder.feesPaid == .zero)
        }
        let deposited = result.holders.reduce(Notional.zero) { $0 + $1.deposited }
        let withdrawn = result.holders.reduce(Notional.zero) { $0 + $1.withdrawn }
        #expect(result.finalNAV == deposited - withdrawn)
    }

    @Test func feesAreEarnedWhenTheShortProfits() throws {
        // A falling market: the short gains, withdrawals pay the operator fee.
        var series = CandleSeries()
        for i in 0..<(60 * 24) {
            let price = Int64(20 * 100_000_000 - i * 500_000)
            series.appendRaw(openTime: poolStart + Int64(i) * poolHour, open: price, high: price, low: price, close: price, volume: 0)
        }
        var config = PoolSimulationConfig(seed: 3)
        config.events = 60
        let result = try PoolSimulation(config: config).run(series)
        #expect(result.violations.isEmpty)
        #expect(result.operatorFeesEarned.isPositive)
        let paid = result.holders.reduce(Notional.zero) { $0 + $1.feesPaid }
        #expect(paid == result.operatorFeesEarned)
        let operatorResult = result.holders.first { $0.isOperator }!
        #expect(operatorResult.feesPaid == .zero && operatorResult.pnl.isPositive)
    }

    @Test func badConfigurationsAreRefused() throws {
        let candles = poolSeries(days: 5)
        var config = PoolSimulationConfig(seed: 1)
        config.collateralMultiple = Rate("0.2")!
        #expect(throws: PoolSimulationError.self) { try PoolSimulation(config: config).run(candles) }
        config = PoolSimulationConfig(seed: 1)
        config.depositors = 0
        #expect(throws: PoolSimulationError.invalid("the number of depositors must be at least 1 (got 0)")) {
            try PoolSimulation(config: config).run(candles)
        }
        config = PoolSimulationConfig(seed: 1)
        config.minDeposit = Notional(500)
        config.maxDeposit = Notional(100)
        #expect(throws: PoolSimulationError.self) { try PoolSimulation(config: config).run(candles) }
        config = PoolSimulationConfig(seed: 1)
        config.feeRate = Rate.one
        #expect(throws: PoolSimulationError.self) { try PoolSimulation(config: config).run(candles) }
        #expect(throws: PoolSimulationError.tooFewBars(1)) {
            try PoolSimulation(config: PoolSimulationConfig(seed: 1)).run(
                candles.slice(from: nil, to: Timestamp(milliseconds: poolStart + 1)))
        }
    }

    static let realData = SharedData.file("data/binance_spot_NMRUSDT_5m_2022-08_2023-09.csv")
    static let realFunding = SharedData.file("data/binance_usdm_NMRUSDT_funding_8h_2023-07_2023-08.csv")

    @Test func realNMRHistoryKeepsEveryInvariant() throws {
        guard let file = Self.realData else {
            print("skipped: \(SharedData.missingMessage("data/binance_spot_NMRUSDT_5m_2022-08_2023-09.csv"))")
            return
        }
        let candles = try MarketDataFiles.loadCandles(file.path)
        let funding = try Self.realFunding.map { try MarketDataFiles.loadFunding($0.path, defaultInterval: .hours(8)) } ?? []
        for seed: UInt64 in [1, 2026] {
            var config = PoolSimulationConfig(seed: seed)
            config.events = 200
            let result = try PoolSimulation(config: config).run(candles, funding: funding)
            #expect(result.violations.isEmpty, "\(result.violations.prefix(5))")
            #expect(result.bars == candles.count && result.invariantChecks >= candles.count)
            let claims = result.holders.reduce(Int64(0)) { $0 + $1.finalClaim.raw }
            #expect(claims <= result.finalNAV.raw && result.finalNAV.raw - claims < Int64(result.holders.count))
            print(
                "pool on NMRUSDT 5m, seed \(seed): \(result.bars) bars, final NAV \(result.finalNAV), \(result.rebalances) rebalances, \(result.liquidations) liquidations, fees \(result.operatorFeesEarned), max invariant error \(result.maxInvariantError)"
            )
        }
    }
}
