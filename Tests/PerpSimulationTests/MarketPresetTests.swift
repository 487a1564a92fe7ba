import PerpMechanics
import PerpModel
import PerpSimulation
import Testing

/// The market presets and account settings every command shares (MarketPreset.swift; issue 15,
/// "One configuration"; decision 0018), and what they change in the simulator: the brackets'
/// liquidation price and the minimum notional.
@Suite struct MarketPresetTests {
    @Test func binanceBracketsAreContinuousAtEveryBoundary() {
        // reliability-anchors.md A8: floor·MMR(n−1) − cum(n−1) = floor·MMR(n) − cum(n).
        let brackets = MarketPreset.binanceNMRUSDTBrackets
        #expect(brackets.count == 7)
        for (lower, upper) in zip(brackets, brackets.dropFirst()) {
            #expect(lower.notionalCap == upper.notionalFloor)
            let below = upper.notionalFloor.times(lower.maintenanceRate) - lower.maintenanceAmount
            let above = upper.notionalFloor.times(upper.maintenanceRate) - upper.maintenanceAmount
            #expect(below == above, "discontinuous at \(upper.notionalFloor)")
        }
    }

    @Test func presetsByName() {
        #expect(MarketPreset.named("binance-usdm") == .binanceNMRUSDT)
        #expect(MarketPreset.named("LIGHTER") == .lighterNMR)
        #expect(MarketPreset.named("bybit") == nil)
        #expect(MarketPreset.lighterNMR.takerFee == .zero)
        #expect(MarketPreset.lighterNMR.lotSize == qty("0.01"))
    }

    @Test func defaultSettingsAreBinanceNMRUSDTWithTenThousand() {
        let settings = TradingSettings()
        let config = settings.venueConfig
        #expect(settings.capital == usd("10000"))
        #expect(config.lotSize == qty("0.1"))
        #expect(config.minNotional == usd("5"))
        #expect(config.takerFee == rate("0.0005"))
        #expect(config.makerFee == rate("0.0002"))
        #expect(config.marginSchedule == .brackets(MarketPreset.binanceNMRUSDTBrackets))
        #expect(config.liquidationRule == .binanceUSDM)
        #expect(config.slippage == SlippageModel.none)
        #expect(settings.maintenanceRate(notional: usd("4000")) == rate("0.02"))
        #expect(settings.maintenanceRate(notional: usd("30000")) == rate("0.05"))
        var flat = settings
        flat.maintenance = .fraction(rate("0.05"))
        #expect(flat.venueConfig.marginSchedule == nil)
        #expect(flat.venueConfig.maintenanceFraction == rate("0.05"))
        flat.slippage = .basisPoints(rate("5"))
        #expect(flat.venueConfig.slippage == .fixed(rate("0.0005")))
    }

    @Test func lighterSettingsUseItsFlatTwentyPercent() {
        let config = TradingSettings(market: .lighterNMR).venueConfig
        #expect(config.maintenanceFraction == rate("0.2"))
        #expect(config.liquidationRule == .lighter)
        #expect(config.minNotional == .zero)
    }

    @Test func theNetPositionFormAgreesWithTheEntryFormUnderBrackets() throws {
        // Short 100 @ 15 with 300: the liquidation notional (~1,765) is in the first bracket
        // (2 %, cum 0), the anchor's 17.647059 (reliability-anchors.md A7).
        var position = Position()
        _ = position.apply(delta: qty("-100"), price: px("15"))
        let schedule = MarginSchedule.brackets(MarketPreset.binanceNMRUSDTBrackets)
        let net = try #require(Liquidation.price(position: position, collateral: usd("300"), schedule: schedule))
        #expect(net.formatted(places: 6) == "17.647059")
        // A larger short whose liquidation notional lands in a higher bracket: both forms agree.
        for (size, collateral) in [("2000", "10000"), ("10000", "60000"), ("-3000", "8000")] {
            var held = Position()
            _ = held.apply(delta: qty(size), price: px("8"))
            let side: Side = held.quantity.isPositive ? .long : .short
            let entry = try Liquidation.price(
                side: side, entry: px("8"), quantity: held.quantity.magnitude, collateral: usd(collateral), schedule: schedule)
            #expect(Liquidation.price(position: held, collateral: usd(collateral), schedule: schedule) == entry.price)
        }
    }

    @Test func theBacktesterLiquidatesOnTheBracketSchedule() throws {
        // 3,000 NMR short at 8 (24,000 of notional) on 2,000 of cross balance. Its liquidation
        // notional (~25,400) is in the third bracket (5 %, cum 650):
        // (basis − T − cum) / (q − m·|q|) = (−24,000 − 2,000 − 650) / (−3,000 − 150) = 8.4603174…
        // Under a flat 1 % it would be 26,000 / 3,030 = 8.5808…: a high of 8.55 liquidates only
        // the bracket venue.
        var brackets = TradingSettings().venueConfig
        brackets.takerFee = .zero
        brackets.minNotional = .zero
        var flat = brackets
        flat.marginSchedule = nil
        flat.maintenanceFraction = rate("0.01")
        let bars = series([.flat("8"), .flat("8"), Bar("8", "8.55", "8", "8.5"), .flat("8.5")])
        let withBrackets = run(bars, [0: .target(qty("-3000"))], config: brackets, capital: "2000")
        let withFlat = run(bars, [0: .target(qty("-3000"))], config: flat, capital: "2000")
        #expect(withBrackets.result.liquidations == 1)
        #expect(withFlat.result.liquidations == 0)
        let shown = try #require(withBrackets.seen[1].liquidationPrice)
        #expect(shown.formatted(places: 6) == "8.460317")
        #expect(withFlat.seen[1].liquidationPrice?.formatted(places: 6) == "8.580858")
    }

    @Test func ordersBelowTheMinimumNotionalAreRejectedButReductionsNeverAre() {
        var config = venue()
        config.minNotional = usd("5")
        let bars = series([.flat("8"), .flat("8"), .flat("8"), .flat("8")])
        // 0.5 NMR at 8 = 4 USDT: refused. 1 NMR = 8: filled. Then 0.5 off it: a reduction, filled.
        let (result, seen) = run(
            bars, [0: .target(qty("0.5")), 1: .target(qty("1")), 2: .target(qty("0.5"))], config: config)
        #expect(seen[1].position == .zero)
        #expect(seen[2].position == qty("1"))
        #expect(seen[3].position == qty("0.5"))
        #expect(result.fills.count == 2)
    }
}
