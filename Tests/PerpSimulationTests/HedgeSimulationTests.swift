import Foundation
import PerpHedge
import PerpMarketData
import PerpModel
import PerpSimulation
import TestSupport
import Testing

/// Builders for the hedge simulation tests (kept in a namespace so they never clash with the
/// other suites' helpers in this module).
enum HedgeFixture {
    /// 2024-01-01T00:00:00Z.
    static let start: Int64 = 1_704_067_200_000
    static let day: Int64 = 86_400_000

    static func price(_ text: String) -> Price { Price(text)! }
    static func usd(_ text: String) -> Notional { Notional(text)! }
    static func rate(_ text: String) -> Rate { Rate(text)! }

    /// Daily bars from (open, high, low, close) literals, the first at `start`.
    static func daily(_ bars: [(String, String, String, String)]) -> CandleSeries {
        var series = CandleSeries()
        for (index, bar) in bars.enumerated() {
            series.append(
                Candle(
                    openTime: Timestamp(milliseconds: start + Int64(index) * day), open: price(bar.0), high: price(bar.1),
                    low: price(bar.2),
                    close: price(bar.3), volume: Quantity(1000)))
        }
        return series
    }

    /// A flat daily bar.
    static func flat(_ text: String) -> (String, String, String, String) { (text, text, text, text) }

    /// Daily bars following raw closes (scale 10^8), each bar's high `up` raw units above the
    /// larger of its open and close.
    static func path(_ closes: [Int64], up: Int64 = 0) -> CandleSeries {
        var series = CandleSeries()
        var previous = closes[0]
        for (index, close) in closes.enumerated() {
            let open = index == 0 ? close : previous
            series.appendRaw(
                openTime: start + Int64(index) * day, open: open, high: max(open, close) + up, low: min(open, close), close: close,
                volume: 100_000_000_000)
            previous = close
        }
        return series
    }

    /// A deterministic wavy path with occasional pumps (no randomness): `days` closes around $10.
    static func wavy(days: Int) -> CandleSeries {
        var closes: [Int64] = []
        for index in 0..<days {
            let wave = Int64((index * 37) % 23) - 11  // −11 … 11
            let pump: Int64 = index % 41 == 20 ? 9 : (index % 41 == 21 ? 5 : 0)
            closes.append((10 + pump) * 100_000_000 + wave * 20_000_000)
        }
        return path(closes, up: 30_000_000)
    }

    static func config(
        stake: String = "10", k: Rate, period: TimeSpan = .days(30), maintenance: String = "0.2", fee: String = "0",
        rule: LiquidationRule = .lighter
    ) -> HedgeSimulation.Config {
        var config = HedgeSimulation.Config(
            stake: Quantity(stake)!, collateralMultiple: k, rebalance: period, maintenanceFraction: rate(maintenance), takerFee: rate(fee))
        config.liquidationRule = rule
        return config
    }
}

@Suite("Hedge simulation")
struct HedgeSimulationTests {
    typealias F = HedgeFixture

    /// $10 at the first close, then the price triples to a high of `peak` within the period.
    static func triple(peak: String) -> CandleSeries {
        F.daily([F.flat("10"), ("10", "15", "10", "14"), ("14", "22", "14", "20"), ("20", peak, "20", "25"), ("25", "26", "24", "25")])
    }

    @Test func tripleLiquidatesBelowTheNeededMultipleAndSurvivesAbove() throws {
        let m = F.rate("0.2")
        // With α = 1 the multiple for g = 3 is exactly the one whose liquidation price is 3 × $10:
        // k = (3 − 1) + 3 × 0.2 = 2.6, P_liq = (T + qP) / (q(1 + M)) = (260 + 100) / 12 = 30.
        let boundary = CollateralPlan.multiple(g: F.rate("3"), alpha: Rate.one, maintenanceFraction: m)
        #expect(boundary == F.rate("2.6"))
        let below = CollateralPlan.multiple(g: F.rate("2.9999"), alpha: Rate.one, maintenanceFraction: m)
        let above = CollateralPlan.multiple(g: F.rate("3.0001"), alpha: Rate.one, maintenanceFraction: m)
        let forum = CollateralPlan.multiple(g: F.rate("3"), alpha: F.rate("1.1"), maintenanceFraction: m)

        let series = Self.triple(peak: "30")
        let atBoundary = HedgeSimulation.run(series, funding: [], config: F.config(k: boundary))
        #expect(atBoundary.events.first?.liquidationPrice == F.price("30"))
        // Equity equals maintenance at the high: liquidated (equity ≤ maintenance).
        #expect(atBoundary.liquidations == 1)
        let liquidation = try #require(atBoundary.liquidationEvents.first)
        #expect(liquidation.bar == 3)
        #expect(liquidation.price == F.price("30"))
        // What is left is the maintenance margin M·q·P_liq = 0.2 × 10 × 30 = 60, no shortfall;
        // under Lighter's (conservative) rule the venue keeps it.
        #expect(liquidation.collateralAfter == .zero)
        #expect(liquidation.forfeited == F.usd("60"))
        #expect(atBoundary.forfeited == F.usd("60"))
        #expect(liquidation.realizedPnL == F.usd("-200"))
        #expect(liquidation.shortfall == .zero)
        let kept = HedgeSimulation.run(series, funding: [], config: F.config(k: boundary, rule: .keepRemainder))
        #expect(kept.liquidationEvents.first?.collateralAfter == F.usd("60"))
        #expect(kept.forfeited == .zero)
        #expect(atBoundary.shortOpenAtEnd == false)
        #expect(atBoundary.maxLiquidationProximity >= 1)

        // One raw step below the liquidation price survives.
        let justBelow = HedgeSimulation.run(Self.triple(peak: "29.99999999"), funding: [], config: F.config(k: boundary))
        #expect(justBelow.liquidations == 0)
        #expect(justBelow.maxLiquidationProximity < 1)
        #expect(justBelow.maxLiquidationProximity > 0.999_999)

        #expect(HedgeSimulation.run(series, funding: [], config: F.config(k: below)).liquidations == 1)
        let survived = HedgeSimulation.run(series, funding: [], config: F.config(k: above))
        #expect(survived.liquidations == 0)
        #expect(survived.shortOpenAtEnd)
        // The collateral equity fell by (g − 1)/k of its level: 2 / 2.6000...2.
        #expect(abs(survived.maxCollateralDrawdown - 2.0 / above.doubleValue) < 1e-9)
        #expect(HedgeSimulation.run(series, funding: [], config: F.config(k: forum)).liquidations == 0)
    }

    @Test func liquidationFeeAndShortfall() throws {
        // With a 0.1 % taker fee the liquidation leaves 60 − 0.1 % × 300 = 59.7.
        let series = Self.triple(peak: "30")
        let withFee = HedgeSimulation.run(series, funding: [], config: F.config(k: F.rate("2.6"), fee: "0.001", rule: .keepRemainder))
        let event = try #require(withFee.liquidationEvents.first)
        #expect(event.fee == F.usd("0.3"))
        #expect(event.collateralAfter == F.usd("59.7"))
        // Opening fee 0.1 % of $100 is deposited on top of T₀ = 260.
        #expect(withFee.initialCollateral == F.usd("260"))
        #expect(withFee.collateralDeposited == F.usd("260.1"))
        #expect(withFee.feesPaid == F.usd("0.4"))

        // A gap far past the liquidation price fills at the open (spec §4), not at P_liq: the
        // short of 10 opened at 10 with T = 100 closes at 40, a loss of 300: the account stops at
        // zero and the insurance fund bears the other 200, under either rule.
        let gap = F.daily([F.flat("10"), ("40", "45", "40", "44")])
        for rule in [LiquidationRule.lighter, .keepRemainder] {
            let gapped = HedgeSimulation.run(gap, funding: [], config: F.config(k: F.rate("1"), rule: rule))
            #expect(gapped.liquidations == 1)
            #expect(gapped.liquidationEvents.first?.price == F.price("40"))
            #expect(gapped.shortfall == F.usd("200"))
            #expect(gapped.finalCollateral.isZero)
        }
    }

    @Test func liquidatedHedgeReopensAtTheNextRebalance() throws {
        // Weekly rebalancing; liquidated on day 3; re-opened at the close of day 7.
        var bars = [F.flat("10"), F.flat("10"), F.flat("10"), ("10", "30", "10", "25")]
        bars += [F.flat("25"), F.flat("25"), F.flat("25"), F.flat("24"), F.flat("24")]
        let result = HedgeSimulation.run(
            F.daily(bars), funding: [], config: F.config(k: F.rate("2"), period: .days(7), rule: .keepRemainder))
        #expect(result.events.map(\.kind) == [.open, .liquidation, .rehedge])
        #expect(result.liquidations == 1)
        #expect(result.rebalances == 1)
        let liquidation = result.events[1]
        // T₀ = 200, P_liq = 300 / 12 = 25; left 0.2 × 10 × 25 = 50.
        #expect(liquidation.price == F.price("25"))
        #expect(liquidation.collateralAfter == F.usd("50"))
        let rehedge = result.events[2]
        #expect(rehedge.bar == 7)
        #expect(rehedge.shortBefore == .zero)
        #expect(rehedge.collateralBefore == F.usd("50"))
        // Target 2 × 10 × 24 = 480; 430 deposited on top of the 50 left.
        #expect(rehedge.collateralAfter == F.usd("480"))
        #expect(rehedge.transfer == F.usd("430"))
        #expect(result.collateralDeposited == F.usd("630"))
        // Closed exactly at P_liq without a fee, the liquidation itself costs no value (q·25 + 50
        // − 200 = 100), but from then until the re-hedge the stake is unhedged: the fall from 25
        // to 24 costs 10 that the short would have made.
        #expect(result.values.hedged[3] == F.usd("100").raw)
        #expect(result.values.hedged[7] == F.usd("90").raw)
        #expect(result.hedgedEnd == F.usd("240") + F.usd("480") - F.usd("630"))
        #expect(result.shortOpenAtEnd)
    }

    @Test func rebalanceDepositsWhenThePriceRoseAndWithdrawsWhenItFell() throws {
        // Period 2 days: rebalances at the closes of day 2 ($12) and day 4 ($9).
        let series = F.daily([F.flat("10"), F.flat("11"), F.flat("12"), F.flat("10"), F.flat("9")])
        let k = F.rate("2.7332")
        let result = HedgeSimulation.run(series, funding: [], config: F.config(k: k, period: .days(2)))
        #expect(result.events.map(\.kind) == [.open, .rebalance, .rebalance])
        #expect(result.rebalances == 2)
        // T₀ = k·q·P₀ = 2.7332 × 10 × 10.
        #expect(result.initialCollateral == F.usd("273.32"))
        let up = result.events[1]
        // The short lost q·(12 − 10) = 20; target k·q·12 = 327.984; deposit = 327.984 − (273.32 − 20)
        // = k·q·ΔP + q·ΔP = 3.7332 × 20 = 74.664.
        #expect(up.realizedPnL == F.usd("-20"))
        #expect(up.collateralAfter == F.usd("327.984"))
        #expect(up.transfer == F.usd("74.664"))
        let down = result.events[2]
        // The short gained q·(12 − 9) = 30; target k·q·9 = 245.988; withdrawal 3.7332 × 30 = 111.996.
        #expect(down.realizedPnL == F.usd("30"))
        #expect(down.collateralAfter == F.usd("245.988"))
        #expect(down.transfer == F.usd("-111.996"))
        #expect(result.collateralDeposited == F.usd("273.32") + F.usd("74.664"))
        #expect(result.collateralWithdrawn == F.usd("111.996"))
        #expect(result.finalCollateral == F.usd("245.988"))
        // Price-neutral: the hedged value never moved.
        #expect(result.hedgedEnd == F.usd("100"))
        #expect(result.unhedgedEnd == F.usd("90"))
        // The liquidation price after each rebalance is (k + 1)/(1 + M) × P.
        #expect(up.liquidationPrice == F.price("37.332"))
        #expect(down.liquidationPrice == F.price("27.999"))
    }

    @Test func positiveFundingIsPaidToTheShort() throws {
        let series = F.daily([F.flat("10"), F.flat("10"), F.flat("10")])
        let start = F.start
        let funding = [
            // At or before the first open: no position yet, skipped.
            FundingRate(time: Timestamp(milliseconds: start), rate: F.rate("0.5"), interval: .hours(8)),
            FundingRate(time: Timestamp(milliseconds: start + F.day / 2), rate: F.rate("0.0001"), interval: .hours(8)),
            FundingRate(time: Timestamp(milliseconds: start + 2 * F.day), rate: F.rate("-0.0003"), interval: .hours(8)),
        ]
        let result = HedgeSimulation.run(series, funding: funding, config: F.config(k: F.rate("2")))
        #expect(result.fundingSettlements == 2)
        // Short 10 at $10: +0.0001 → receives 0.01; −0.0003 → pays 0.03. Net paid 0.02.
        #expect(result.fundingPaid == F.usd("0.02"))
        #expect(result.values.collateralEquity[1] == F.usd("200.01").raw)
        #expect(result.values.hedged[1] == F.usd("100.01").raw)
        #expect(result.hedgedEnd == F.usd("99.98"))

        let received = HedgeSimulation.run(series, funding: Array(funding.prefix(2)), config: F.config(k: F.rate("2")))
        #expect(received.fundingPaid == F.usd("-0.01"))
        #expect(received.hedgedEnd > received.hedgedStart)
    }

    @Test func hedgedValueIsPriceNeutralWhileUnhedgedMovesWithPrice() throws {
        let series = F.wavy(days: 200)
        let result = HedgeSimulation.run(series, funding: [], config: F.config(k: F.rate("4"), period: .days(7)))
        #expect(result.liquidations == 0)
        #expect(result.values.count == series.count)
        // Exactly q·P₀ at every close: deposits are not gains, and the short cancels the stake.
        let start = result.hedgedStart.raw
        #expect(result.values.hedged.allSatisfy { $0 == start })
        #expect(result.hedgedMaxDrawdown == 0)
        for index in 0..<series.count {
            #expect(result.values.unhedged[index] == Price(raw: series.closes[index]).times(Quantity(10)).raw)
        }
        #expect(result.unhedgedMaxDrawdown > 0.3)
        #expect(result.unhedgedStart == result.hedgedStart)
        #expect(result.rebalances == (series.count - 1) / 7)
        // The account holds what was deposited net of withdrawals plus the short's PnL,
        // q·(P₀ − P), which is what the stake lost.
        #expect(result.finalCollateralEquity == result.netDeposits + result.unhedgedStart - result.unhedgedEnd)
    }

    @Test func survivalTableShapeAndMonotonicity() throws {
        let series = F.wavy(days: 400)
        let table = HedgeSimulation.survivalTable(series: series, funding: [], stake: Quantity(10))
        #expect(table.count == HedgeSimulation.defaultMultiples.count)
        for (row, k) in zip(table, HedgeSimulation.defaultMultiples) {
            #expect(row.count == HedgeSimulation.defaultPeriods.count)
            #expect(row.map(\.period) == HedgeSimulation.defaultPeriods)
            #expect(row.allSatisfy { $0.collateralMultiple == k })
        }
        // More collateral never means more liquidations, for the same period.
        for column in 0..<HedgeSimulation.defaultPeriods.count {
            let counts = table.map { $0[column].liquidations }
            #expect(zip(counts, counts.dropFirst()).allSatisfy { $0 >= $1 }, "column \(column): \(counts)")
            // Among the hedges that survived, the collateral fell less the more there was of it
            // ((g − 1)/k); a liquidated one's fall depends on what the liquidation left.
            let drawdowns = table.map { $0[column] }.filter(\.survived).map(\.maxCollateralDrawdown)
            #expect(zip(drawdowns, drawdowns.dropFirst()).allSatisfy { $0 >= $1 })
        }
        // The pumps (+90 % within two days) liquidate k = 1 and not k = 4.
        #expect(table[0].allSatisfy { $0.liquidations > 0 })
        #expect(table[table.count - 1].allSatisfy { $0.survived })
        // A cell is the simulation it summarises.
        let cell = table[2][3]
        let direct = HedgeSimulation.run(series, funding: [], config: F.config(k: cell.collateralMultiple, period: cell.period))
        #expect(SurvivalCell(direct) == cell)
    }

    @Test func deterministic() {
        let series = F.wavy(days: 300)
        let funding = (1..<300).map { index in
            FundingRate(
                time: Timestamp(milliseconds: F.start + Int64(index) * F.day),
                rate: Rate(raw: Int64((index * 7919) % 401 - 200) * 1_000_000),
                interval: .hours(24))
        }
        let config = F.config(k: F.rate("1.5"), period: .days(14), fee: "0.0005")
        let first = HedgeSimulation.run(series, funding: funding, config: config)
        let second = HedgeSimulation(config: config).run(series, funding: funding.reversed())
        #expect(first == second)
        #expect(first.fundingSettlements > 0)
        #expect(first.liquidations > 0)
    }

    @Test func validation() {
        #expect(throws: HedgeError.self) { try F.config(stake: "-1", k: F.rate("2")).validate() }
        #expect(throws: HedgeError.self) { try F.config(k: .zero).validate() }
        #expect(throws: HedgeError.self) { try F.config(k: F.rate("2"), period: TimeSpan(milliseconds: 0)).validate() }
        #expect(throws: HedgeError.self) { try F.config(k: F.rate("2"), maintenance: "1").validate() }
        #expect(throws: HedgeError.self) { try F.config(k: F.rate("2"), fee: "-0.1").validate() }
        #expect(throws: Never.self) { try F.config(k: F.rate("2.7332")).validate() }
        let empty = HedgeSimulation.run(CandleSeries(), funding: [], config: F.config(k: F.rate("2")))
        #expect(empty.bars == 0)
        #expect(empty.events.isEmpty)
    }

    @Test func realNMRHistory() throws {
        let name = "data/binance_spot_NMRUSDT_5m_2022-08_2023-09.csv"
        guard let url = SharedData.file(name) else {
            print("skipping realNMRHistory: \(SharedData.missingMessage(name))")
            return
        }
        let series = try MarketDataFiles.loadCandles(url.path)
        var funding: [FundingRate] = []
        let fundingName = "data/binance_usdm_NMRUSDT_funding_8h_2023-07_2023-08.csv"
        if let fundingURL = SharedData.file(fundingName) {
            funding = try MarketDataFiles.loadFunding(fundingURL.path, defaultInterval: .hours(8))
        }
        let forum = HedgeSimulation.run(series, funding: funding, config: F.config(stake: "100", k: F.rate("2.7332")))
        #expect(forum.liquidations == 0)
        #expect(forum.rebalances > 10)
        #expect(forum.fundingSettlements > 0 || funding.isEmpty)
        #expect(forum.maxLiquidationProximity < 1)
        // Price-neutral up to funding: the hedged value ends within 1 % of where it started,
        // while the unhedged stake moved much more.
        let drift = abs(forum.hedgedEnd.doubleValue - forum.hedgedStart.doubleValue) / forum.hedgedStart.doubleValue
        #expect(drift < 0.01)
        #expect(forum.unhedgedMaxDrawdown > forum.hedgedMaxDrawdown)
        let thin = HedgeSimulation.run(series, funding: funding, config: F.config(stake: "100", k: F.rate("0.5")))
        #expect(thin.liquidations >= 1)

        let clock = ContinuousClock()
        var table: [[SurvivalCell]] = []
        let elapsed = clock.measure {
            table = HedgeSimulation.survivalTable(series: series, funding: funding, stake: Quantity(100))
        }
        print("survival table: \(series.count) bars × \(table.count * (table.first?.count ?? 0)) cells in \(elapsed)")
        for column in 0..<HedgeSimulation.defaultPeriods.count {
            let counts = table.map { $0[column].liquidations }
            #expect(zip(counts, counts.dropFirst()).allSatisfy { $0 >= $1 }, "column \(column): \(counts)")
        }
    }
}
