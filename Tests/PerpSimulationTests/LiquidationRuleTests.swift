import PerpMechanics
import PerpModel
import PerpSimulation
import Testing

/// Issue 10: liquidation through gaps and on the mark, what a liquidation leaves, isolated margin
/// for sized positions, fills stamped at their time, and settlements stamped a little late.
@Suite("Liquidation as venues do it")
struct LiquidationRuleTests {
    /// The repro: 10 → a gap to 14 → 14.05, hourly.
    static let gap = series([Bar("10", "10.01", "9.99", "10"), Bar("14", "14.1", "13.99", "14.05"), Bar("14.05", "14.1", "14", "14.05")])

    static func holdShort(_ mode: MarginMode, rule: LiquidationRule = .binanceUSDM, capital: String = "10000") -> BacktestResult {
        var config = venue(mode: mode, maintenance: "0.05", rule: rule)
        config.leverage = Rate(3)
        var tester = Backtester(strategy: HoldShort(leverage: Rate(3)), config: config, initialCapital: usd(capital))
        return tester.run(Self.gap)
    }

    @Test(
        "repro 1: a gap through a 3× isolated short's liquidation price ends at zero, the insurance fund bears ~2036",
        arguments: [
            MarginMode.isolated, .cross,
        ])
    func gapRepro(_ mode: MarginMode) throws {
        // Short 3000 at 10 (notional 30,000, fee 15); the bar opens at 14, past the liquidation
        // price (12.69 isolated, 13.33 cross): closed at 14, realised −12,000, fee 21.
        let result = Self.holdShort(mode)
        #expect(result.liquidations == 1)
        let fill = try #require(result.fills.last)
        #expect(fill.reason == .liquidation)
        #expect(fill.price == px("14"))
        #expect(fill.realizedPnL == usd("-12000"))
        #expect(fill.fee == usd("21"))
        #expect(result.finalEquity.isZero)
        // 9,985 of collateral against a 12,021 loss.
        #expect(result.insuranceFundDraws == usd("2036"))
        #expect(result.marginForfeited.isZero)
        #expect(result.trades.first?.netPnL == usd("-10000"))  // the capital, entry fee included
        // The same under every rule: past bankruptcy nothing is left to keep.
        #expect(Self.holdShort(mode, rule: .keepRemainder).insuranceFundDraws == usd("2036"))
    }

    @Test("repro 2: Binance USD-M keeps the margin left after a liquidation; keep-remainder gives it back")
    func whatALiquidationLeaves() throws {
        // A short of 30 at 100 with 1000 (3×, cross, maintenance 1 %): liquidation 131.96369636,
        // reached inside the bar. Left after the fill: 37.60965375.
        let bars = series([.flat("100"), Bar("120", "131.96369636", "119", "125")])
        let binance = run(bars, [0: .enter(.short, leverage: Rate(3))], config: venue(rule: .binanceUSDM)).result
        #expect(binance.liquidations == 1)
        #expect(binance.finalEquity.isZero)
        #expect(binance.marginForfeited == usd("37.60965375"))
        #expect(binance.fills.last?.forfeited == usd("37.60965375"))
        #expect(binance.insuranceFundDraws.isZero)
        #expect(binance.liquidationRule == .binanceUSDM)
        #expect(binance.trades.first?.netPnL == usd("-1000"))
        let kept = run(bars, [0: .enter(.short, leverage: Rate(3))], config: venue(rule: .keepRemainder)).result
        #expect(kept.finalEquity == usd("37.60965375"))
        #expect(kept.marginForfeited.isZero)
    }

    @Test("the rule's presets: Binance USD-M and Lighter forfeit, names round-trip, venues pick theirs")
    func presets() {
        #expect(LiquidationRule.binanceUSDM.remainder == .forfeited)
        #expect(LiquidationRule.lighter.remainder == .forfeited)
        #expect(LiquidationRule.conservative.remainder == .forfeited)
        #expect(LiquidationRule.keepRemainder.remainder == .returned(fee: .zero))
        for rule in LiquidationRule.presets { #expect(LiquidationRule.named(rule.name.uppercased()) == rule) }
        #expect(LiquidationRule.named("bybit") == nil)
        #expect(MarketSpec.lighterNMR.liquidationRule == .lighter)
        #expect(LiquidationRule.preset(for: .binanceUSDM) == .binanceUSDM)
        #expect(LiquidationRule.preset(for: .hyperliquid) == .conservative)
        #expect(VenueConfig().liquidationRule == .binanceUSDM)
    }

    @Test("settlement: returned with a fee keeps what is left less the fee, capped at what is left")
    func settlementArithmetic() {
        var position = Position()
        position.apply(delta: qty("-10"), price: px("10"))
        let rule = LiquidationRule(name: "test", remainder: .returned(fee: rate("0.01")), summary: "")
        // Collateral 50, closed at 14: −40 realised, fee 0, left 10; 1 % of 140 = 1.4 kept.
        let settled = Liquidation.settle(position: position, collateral: usd("50"), price: px("14"), takerFee: .zero, rule: rule)
        #expect(settled.realizedPnL == usd("-40"))
        #expect(settled.forfeited == usd("1.4"))
        #expect(settled.returned == usd("8.6"))
        #expect(settled.shortfall.isZero)
        // Left 0.5 < 1.4: the fee takes all of it, nothing below zero.
        let thin = Liquidation.settle(position: position, collateral: usd("40.5"), price: px("14"), takerFee: .zero, rule: rule)
        #expect(thin.forfeited == usd("0.5"))
        #expect(thin.returned.isZero)
        let under = Liquidation.settle(position: position, collateral: usd("30"), price: px("14"), takerFee: .zero, rule: rule)
        #expect(under.shortfall == usd("10"))
        #expect(under.returned.isZero)
        #expect(under.forfeited.isZero)
    }

    @Test("fill price: the open through a gap, the liquidation price when reached inside the bar, nil otherwise")
    func fillPrice() {
        #expect(Liquidation.fillPrice(side: .short, liquidation: 130, open: 140, adverse: 150) == 140)
        #expect(Liquidation.fillPrice(side: .short, liquidation: 130, open: 120, adverse: 131) == 130)
        #expect(Liquidation.fillPrice(side: .short, liquidation: 130, open: 120, adverse: 129) == nil)
        #expect(Liquidation.fillPrice(side: .long, liquidation: 70, open: 60, adverse: 55) == 60)
        #expect(Liquidation.fillPrice(side: .long, liquidation: 70, open: 80, adverse: 70) == 70)
        #expect(Liquidation.fillPrice(side: .long, liquidation: 70, open: 80, adverse: 71) == nil)
    }

    @Test("repro 3: an isolated sized short posts notional / leverage, not the whole balance")
    func isolatedQuantity() throws {
        // 3000 NMR short at 10, capital 20,000, maintenance 0.05, leverage 3: margin 10,000,
        // liquidation (30,000 + 10,000) / (3000 · 1.05) = 12.69841269 (rounded down), not 15.868
        // (the 1× margin of 19,985).
        let bars = series([.flat("10"), .flat("10")])
        var config = venue(mode: .isolated, maintenance: "0.05")
        config.leverage = Rate(3)
        let (_, seen) = run(bars, [0: .target(qty("-3000"))], config: config, capital: "20000")
        #expect(seen[1].positionMargin == usd("10000"))
        #expect(seen[1].liquidationPrice == px("12.69841269"))
        // Or the collateral the user names.
        let (_, named) = run(bars, [0: .targetWithMargin(qty("-3000"), margin: usd("6000"))], config: config, capital: "20000")
        #expect(named[1].positionMargin == usd("6000"))
        // (30,000 + 6,000) / 3150 = 11.42857142…
        #expect(named[1].liquidationPrice == px("11.42857142"))
    }

    @Test("repro 4: with a mark series, liquidation reads the mark's extremes, not the traded ones")
    func markDrivesLiquidation() throws {
        // Short 30 at 100 (liquidation 131.96369636). The traded high reaches 135; the mark only 125.
        let traded = series([.flat("100"), Bar("120", "135", "119", "125")])
        let calm = series([.flat("100"), Bar("120", "125", "119", "124")])
        let onTraded = run(traded, [0: .enter(.short, leverage: Rate(3))]).result
        #expect(onTraded.liquidations == 1)
        #expect(onTraded.liquidationOnMark == nil)
        let onMark = run(traded, [0: .enter(.short, leverage: Rate(3))], mark: calm).result
        #expect(onMark.liquidations == 0)
        #expect(onMark.liquidationOnMark == MarkCoverage(bars: 2, of: 2))
        // And the other way: a mark spike liquidates a short whose traded price stayed below.
        let spike = series([.flat("100"), Bar("120", "140", "119", "124")])
        let byMark = run(calm, [0: .enter(.short, leverage: Rate(3))], mark: spike).result
        #expect(byMark.liquidations == 1)
        #expect(byMark.fills.last?.price == px("131.96369636"))
        // A mark that gaps past the liquidation price closes the short at the mark's open.
        let gapped = series([.flat("100"), Bar("133", "140", "132", "134")])
        let byGap = run(calm, [0: .enter(.short, leverage: Rate(3))], mark: gapped).result
        #expect(byGap.fills.last?.price == px("133"))
        // With resting orders too (the path is walked on the traded prices first).
        let stop = StrategyAction.replaceOrders([
            OrderRequest(side: .short, quantity: qty("30"), kind: .market),
            OrderRequest(side: .long, quantity: qty("30"), kind: .stop(px("200")), reduceOnly: true),
        ])
        let withStop = run(calm, [0: stop], mark: spike).result
        #expect(withStop.fills.map(\.reason) == [.signal, .liquidation])
    }

    @Test("a mark series coarser than the bars is not used for liquidation (its high may come later)")
    func coarseMarkIsNotUsed() {
        let hourly = series([.flat("100"), Bar("120", "135", "119", "125"), .flat("125")])
        let twoBars = series([Bar("100", "101", "99", "100"), Bar("100", "101", "99", "100")], hours: [0, 8])
        let result = run(hourly, [0: .enter(.short, leverage: Rate(3))], mark: twoBars).result
        #expect(result.liquidationOnMark == MarkCoverage(bars: 0, of: 3))
        #expect(result.liquidations == 1)
    }

    @Test("repro 6: fills at the close carry the close time; fills inside a bar its open time")
    func fillTimes() throws {
        let bars = series([.flat("100"), .flat("100"), Bar("100", "101", "89", "95")])
        let entry = StrategyAction.replaceOrders([
            OrderRequest(side: .long, quantity: qty("1"), kind: .market),
            OrderRequest(side: .short, quantity: qty("1"), kind: .stop(px("90")), reduceOnly: true),
        ])
        let result = run(bars, [1: entry]).result
        #expect(result.fills.map(\.time.milliseconds) == [t0 + 2 * hour, t0 + 2 * hour])
        #expect(result.trades.first?.entryTime == Timestamp(milliseconds: t0 + 2 * hour))
    }

    @Test("repro 7b: a settlement stamped a few milliseconds late settles at the bar it belongs to")
    func fundingJitter() {
        let bars = series([.flat("100"), .flat("100"), .flat("100")])
        let late = FundingRate(time: Timestamp(milliseconds: t0 + 2 * hour + 17), rate: rate("0.001"), interval: .hours(1))
        let result = run(bars, [0: .submit([OrderRequest(side: .long, quantity: qty("1"), kind: .market)])], funding: [late]).result
        #expect(result.funding.count == 1)
        #expect(result.funding.first?.payment == usd("0.1"))
        // Paid at bar 2's open, not after the run: bar 2's equity already carries it.
        #expect(result.equity.equity[2] == result.finalEquity.raw)
        #expect(late.isDue(atBarOpening: Timestamp(milliseconds: t0 + 2 * hour)))
        #expect(!late.isDue(atBarOpening: Timestamp(milliseconds: t0 + hour)))
    }

    @Test("the pool closes a gapped short at the open and follows the rule")
    func poolGap() throws {
        var config = PoolSimulationConfig(seed: 7)
        config.events = 0
        config.collateralMultiple = rate("0.5")
        let gap = series([.flat("10"), Bar("30", "31", "29", "30"), .flat("30")])
        let forfeit = try PoolSimulation(config: config).run(gap)
        #expect(forfeit.liquidations == 1)
        #expect(forfeit.liquidationRule == .lighter)
        config.liquidationRule = .keepRemainder
        let kept = try PoolSimulation(config: config).run(gap)
        #expect(kept.liquidations == 1)
        #expect(kept.events.first { $0.kind == .liquidation }?.price == px("30"))
        // 1000 of NAV shorts 200 NMR at 10 (k = 0.5); closed at 30 it loses 4000: 3000 beyond.
        #expect(kept.insuranceShortfall == usd("3000"))
        #expect(forfeit.insuranceShortfall == usd("3000"))
    }
}
