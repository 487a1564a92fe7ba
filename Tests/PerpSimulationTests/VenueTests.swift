import PerpModel
import PerpSimulation
import Testing

/// The simulated venue (Backtester.swift, Venue.swift): funding, liquidation, orders along the
/// bar's path, and the money invariants. Expected values are computed by hand in the comments.
@Suite("Simulated venue")
struct VenueTests {}

/// Bars whose open and close are `100 + index`, with a one-dollar range either side.
func ladder(_ count: Int) -> [Bar] {
    (0..<count).map { index in
        let open = 100 + index
        return Bar("\(open)", "\(open + 1)", "\(open - 1)", "\(open)")
    }
}

// MARK: - Funding

extension VenueTests {
    @Suite("Funding")
    struct Funding {
        @Test("a held short receives on a positive rate: q × mark × rate at the bar's open")
        func shortReceives() {
            let bars = series([.flat("100"), Bar("102", "103", "101", "102")])
            let (result, seen) = run(bars, [0: .target(qty("-10"))], funding: [settlement(hours: 1, "0.0001")])
            // Short 10 at 100, fee 10·100·0.0005 = 0.5. At bar 1's open: −10 · 102 · 0.0001 = −0.102.
            #expect(
                result.funding == [
                    FundingRecord(
                        time: Timestamp(milliseconds: t0 + hour), rate: rate("0.0001"), mark: px("102"), position: qty("-10"),
                        payment: usd("-0.102"))
                ])
            #expect(result.fundingPaid == usd("-0.102"))
            #expect(seen[1].balance == usd("999.602"))  // 1000 − 0.5 + 0.102
            #expect(result.trades.first?.funding == usd("-0.102"))
            // Equity: 999.602 + (−10 · 102 + 1000) = 979.602.
            #expect(result.finalEquity == usd("979.602"))
        }

        struct Schedule: Sendable, CustomTestStringConvertible {
            var name: String
            /// (settlement hour, interval hours)
            var settlements: [(Int64, Int64)]
            /// (settlement hour, mark, payment) of the records expected.
            var expected: [(Int64, String, String)]
            var testDescription: String { name }
        }

        // Long 5 from bar 0's close; bar h opens at 100 + h, so a settlement at hour h pays
        // 5 · (100 + h) · 0.0001 = 0.05 + 0.0005·h. The settlement at hour 0 finds no position.
        static let schedules: [Schedule] = [
            Schedule(
                name: "hourly", settlements: (0...9).map { ($0, 1) },
                expected: [
                    (1, "101", "0.0505"), (2, "102", "0.051"), (3, "103", "0.0515"), (4, "104", "0.052"), (5, "105", "0.0525"),
                    (6, "106", "0.053"), (7, "107", "0.0535"), (8, "108", "0.054"), (9, "109", "0.0545"),
                ]),
            Schedule(name: "4-hourly", settlements: [(0, 4), (4, 4), (8, 4)], expected: [(4, "104", "0.052"), (8, "108", "0.054")]),
            Schedule(name: "8-hourly", settlements: [(0, 8), (8, 8)], expected: [(8, "108", "0.054")]),
            Schedule(
                name: "mixed 8 h → 4 h → 1 h", settlements: [(0, 8), (4, 4), (5, 1), (6, 1), (9, 1)],
                expected: [(4, "104", "0.052"), (5, "105", "0.0525"), (6, "106", "0.053"), (9, "109", "0.0545")]),
        ]

        @Test("each settlement applies at its own time, whatever the interval", arguments: schedules)
        func eachAtItsOwnTime(_ schedule: Schedule) {
            let funding = schedule.settlements.map { settlement(hours: $0.0, "0.0001", interval: $0.1) }
            let (result, _) = run(series(ladder(10)), [0: .target(qty("5"))], funding: funding)
            let expected = schedule.expected.map {
                FundingRecord(
                    time: Timestamp(milliseconds: t0 + $0.0 * hour), rate: rate("0.0001"), mark: px($0.1), position: qty("5"),
                    payment: usd($0.2))
            }
            #expect(result.funding == expected)
            let total = expected.reduce(Notional.zero) { $0 + $1.payment }
            #expect(result.fundingPaid == total)
            // Entry fee 5 · 100 · 0.0005 = 0.25; the position is marked at the last close, 109.
            #expect(result.finalEquity == usd("1000") - usd("0.25") - total + usd("45"))
        }

        @Test("a settlement between two bars applies at the next bar's open, at that open's mark")
        func betweenBars() {
            // Bars at hours 0, 1, 4, 5 (hours 2 and 3 missing), opening at 100 + hour.
            let bars = series(
                [.flat("100"), Bar("101", "102", "100", "101"), Bar("104", "105", "103", "104"), Bar("105", "106", "104", "105")],
                hours: [0, 1, 4, 5])
            let funding = (1...5).map { settlement(hours: Int64($0), "0.0001") }
            let (result, seen) = run(bars, [0: .target(qty("5"))], funding: funding)
            #expect(result.funding.map(\.time.milliseconds) == [1, 2, 3, 4, 5].map { t0 + $0 * hour })
            #expect(result.funding.map(\.mark) == ["101", "104", "104", "104", "105"].map(px))
            #expect(result.funding.map(\.payment) == ["0.0505", "0.052", "0.052", "0.052", "0.0525"].map(usd))
            // At bar 2's close: 1000 − 0.25 − 0.0505 − 3 · 0.052 = 999.5435.
            #expect(seen[2].balance == usd("999.5435"))
            #expect(seen[1].balance == usd("999.6995"))
        }

        @Test("settlements before the first bar are skipped")
        func beforeFirstBar() {
            let funding = [
                settlement(hours: -8, "0.01"), settlement(hours: -1, "0.01"), settlement(hours: 0, "0.01"), settlement(hours: 1, "0.0001"),
            ]
            let (result, _) = run(series(ladder(3)), [0: .target(qty("5"))], funding: funding)
            #expect(result.funding.map(\.time.milliseconds) == [t0 + hour])
            #expect(result.fundingPaid == usd("0.0505"))
        }

        @Test("a mark series is used instead of the bar's open: its last open at or before the settlement")
        func markSeries() {
            let funding = (1...3).map { settlement(hours: Int64($0), "0.0001") }
            // Mark bars at hours 1 and 3 only: the settlement at hour 2 uses hour 1's mark.
            let mark = series([.flat("201"), .flat("203")], hours: [1, 3])
            let (result, _) = run(series(ladder(4)), [0: .target(qty("5"))], funding: funding, mark: mark)
            #expect(result.funding.map(\.mark) == ["201", "201", "203"].map(px))
            // 5 · 201 · 0.0001 = 0.1005; 5 · 203 · 0.0001 = 0.1015.
            #expect(result.funding.map(\.payment) == ["0.1005", "0.1005", "0.1015"].map(usd))
            #expect(result.fundingPaid == usd("0.3025"))

            // A mark series that starts after a settlement: that settlement falls back to the bar's open.
            let late = series([.flat("202"), .flat("203")], hours: [2, 3])
            let (fallback, _) = run(series(ladder(4)), [0: .target(qty("5"))], funding: funding, mark: late)
            #expect(fallback.funding.map(\.mark) == ["101", "202", "203"].map(px))
        }

        /// `q · m · r` rounded once to 10⁻⁸, ties to even, computed here in 128 bits.
        static func expectedPayment(_ q: Quantity, _ m: Price, _ r: Rate) -> Notional {
            let product = Int128(q.raw) * Int128(m.raw) * Int128(r.raw)
            let divisor = Int128(100_000_000) * Int128(1_000_000_000_000)
            var quotient = product / divisor
            let remainder = product - quotient * divisor
            let twice = remainder.magnitude * 2
            if twice > divisor.magnitude || (twice == divisor.magnitude && quotient % 2 != 0) { quotient += product < 0 ? -1 : 1 }
            return Notional(raw: Int64(quotient))
        }

        @Test("fundingPaid sums the records exactly; a long pays what an equal short receives")
        func longPaysShort() {
            let bars = randomWalk(seed: 0xF00D, bars: 48)
            let funding = hourlyFunding(seed: 0xFEED, bars: 48)
            let size = qty("3.33333333")
            let (long, _) = run(bars, [0: .target(size)], config: venue(taker: "0"), funding: funding)
            let (short, _) = run(bars, [0: .target(-size)], config: venue(taker: "0"), funding: funding)
            #expect(long.funding.count == 47)
            #expect(short.funding.count == 47)
            for (index, (paid, received)) in zip(long.funding, short.funding).enumerated() {
                #expect(paid.mark == Price(raw: bars.opens[index + 1]))
                #expect(paid.payment == Self.expectedPayment(size, paid.mark, paid.rate))
                #expect(received.payment == -paid.payment)
            }
            #expect(long.fundingPaid == long.funding.reduce(Notional.zero) { $0 + $1.payment })
            #expect(short.fundingPaid == short.funding.reduce(Notional.zero) { $0 + $1.payment })
            #expect(long.fundingPaid == -short.fundingPaid)
            #expect(!long.fundingPaid.isZero)
            // Without fees both equities move by exactly the opposite amounts.
            #expect(long.finalEquity + short.finalEquity == usd("2000"))
        }
    }
}

// MARK: - Liquidation

extension VenueTests {
    @Suite("Liquidation")
    struct Liquidations {
        // 3× long in cross margin at 100 with 1000: q = 3000 / 100 = 30, entry fee 1.5,
        // T = 998.5. Liquidation price (q·E − T) / (q(1 − m)) = 2001.5 / 29.7
        // = 67.390572390…, rounded up (toward the market) to 67.3905724.
        static let longLiquidation = "67.3905724"
        // Short: (q·E + T) / (q(1 + m)) = 3998.5 / 30.3 = 131.963696369…, rounded down.
        static let shortLiquidation = "131.96369636"

        @Test("a 3× long liquidates when the low reaches the exact liquidation price, with the taker fee")
        func longAtExactPrice() throws {
            let bars = series([.flat("100"), .flat("100"), Bar("80", "81", Self.longLiquidation, "70")])
            let (result, seen) = run(bars, [0: .enter(.long, leverage: Rate(3))])
            #expect(seen[1].liquidationPrice == px(Self.longLiquidation))
            #expect(seen[1].balance == usd("998.5"))
            #expect(result.liquidations == 1)
            let fill = try #require(result.fills.last)
            // Notional 30 · 67.3905724 = 2021.717172; fee 1.010858586 → 1.01085859;
            // realised 2021.717172 − 3000 = −978.282828; balance 998.5 − 978.282828 − 1.01085859.
            #expect(
                fill
                    == FillRecord(
                        time: Timestamp(milliseconds: t0 + 2 * hour), bar: 2, side: .short, quantity: qty("30"),
                        price: px(Self.longLiquidation),
                        fee: usd("1.01085859"), realizedPnL: usd("-978.282828"), reason: .liquidation))
            #expect(seen[2].position.isZero)
            #expect(seen[2].balance == usd("19.20631341"))
            #expect(result.finalEquity == usd("19.20631341"))
            #expect(result.insuranceFundDraws.isZero)
            #expect(result.equity.equity.allSatisfy { $0 >= 0 })
            #expect(result.trades.first?.exitReason == .liquidation)
        }

        @Test("a low one step above the liquidation price does not liquidate")
        func longJustAbove() {
            let bars = series([.flat("100"), Bar("80", "81", "67.39057241", "70")])
            let (result, seen) = run(bars, [0: .enter(.long, leverage: Rate(3))])
            #expect(result.liquidations == 0)
            #expect(seen[1].position == qty("30"))
            // 998.5 + 30 · (70 − 100) = 98.5
            #expect(result.finalEquity == usd("98.5"))
        }

        @Test("a gap far through the liquidation price fills at the open; past bankruptcy the insurance fund bears the rest")
        func gapFillsAtTheOpen() {
            // Nobody trades at 67.39 when the bar opens at 40 (issue 10, point 1): closed at 40,
            // realised 30 · (40 − 100) = −1800, fee 1200 · 0.0005 = 0.6, left 998.5 − 1800.6 < 0.
            let bars = series([.flat("100"), Bar("40", "41", "39", "40")])
            let (result, _) = run(bars, [0: .enter(.long, leverage: Rate(3))])
            #expect(result.fills.last?.price == px("40"))
            #expect(result.fills.last?.reason == .liquidation)
            #expect(result.fills.last?.insuranceCover == usd("802.1"))
            #expect(result.finalEquity.isZero)
            #expect(result.insuranceFundDraws == usd("802.1"))
            #expect(result.trades.first?.netPnL == usd("-1000"))  // all the capital, no more
        }

        @Test("a shortfall beyond the collateral is an insurance-fund draw; the account stops at zero")
        func shortfallToInsurance() {
            // Taker fee 1.5 % > maintenance 1 %: entry fee 45, T = 955, liquidation
            // (3000 − 955) / 29.7 = 68.855218855… → 68.85521886; notional 2065.6565658,
            // realised −934.3434342, fee 30.984848487 → 30.98484849;
            // 955 − 934.3434342 − 30.98484849 = −10.32828269.
            // The bar opens above the liquidation price and trades through it (no gap).
            let bars = series([.flat("100"), Bar("80", "81", "39", "40"), .flat("40")])
            let (result, seen) = run(bars, [0: .enter(.long, leverage: Rate(3))], config: venue(taker: "0.015"))
            #expect(result.fills.last?.price == px("68.85521886"))
            #expect(result.fills.last?.fee == usd("30.98484849"))
            #expect(result.fills.last?.realizedPnL == usd("-934.3434342"))
            #expect(result.insuranceFundDraws == usd("10.32828269"))
            #expect(seen[1].balance.isZero)
            #expect(result.finalEquity.isZero)
            #expect(result.equity.equity == [usd("1000").raw, 0, 0])  // bar 0 is marked before the entry
        }

        @Test("a short liquidates when the bar's high reaches its liquidation price")
        func shortOnHigh() throws {
            let bars = series([.flat("100"), Bar("120", Self.shortLiquidation, "119", "125")])
            let (result, seen) = run(bars, [0: .enter(.short, leverage: Rate(3))])
            #expect(result.liquidations == 1)
            // Notional 30 · 131.96369636 = 3958.9108908; fee 1.9794554454 → 1.97945545;
            // realised 3000 − 3958.9108908 = −958.9108908.
            let fill = try #require(result.fills.last)
            #expect(fill.side == .long)
            #expect(fill.price == px(Self.shortLiquidation))
            #expect(fill.fee == usd("1.97945545"))
            #expect(fill.realizedPnL == usd("-958.9108908"))
            #expect(seen[1].balance == usd("37.60965375"))

            let safe = series([.flat("100"), Bar("120", "131.96369635", "119", "125")])
            #expect(run(safe, [0: .enter(.short, leverage: Rate(3))]).result.liquidations == 0)
        }

        @Test("isolated margin loses only the position's margin; the free balance survives")
        func isolatedLosesOnlyMargin() throws {
            let bars = series([.flat("100"), .flat("100"), Bar("150", "250", "140", "240")])
            // Short 5 at 100, isolated at leverage 1: margin 500, free 1000 − 500 − 0.25 = 499.75.
            // Liquidation (q·E + T) / (q(1 + m)) = 1000 / 5.05 = 198.0198019… → 198.01980198.
            let (isolated, seen) = run(bars, [0: .target(qty("-5"))], config: venue(mode: .isolated))
            #expect(seen[1].balance == usd("499.75"))
            #expect(seen[1].positionMargin == usd("500"))
            #expect(seen[1].equity == usd("999.75"))
            #expect(seen[1].liquidationPrice == px("198.01980198"))
            #expect(isolated.liquidations == 1)
            let fill = try #require(isolated.fills.last)
            // Notional 990.0990099; realised −490.0990099; fee 0.49504950495 → 0.4950495.
            #expect(fill.price == px("198.01980198"))
            #expect(fill.realizedPnL == usd("-490.0990099"))
            #expect(fill.fee == usd("0.4950495"))
            // 499.75 + (500 − 490.0990099) − 0.4950495 = 509.1559406
            #expect(seen[2].balance == usd("509.1559406"))
            #expect(seen[2].positionMargin.isZero)
            #expect(isolated.finalEquity == usd("509.1559406"))
            #expect(isolated.insuranceFundDraws.isZero)

            // The same position in cross margin is backed by the whole 999.75:
            // (500 + 999.75) / 5.05 = 296.980198… → 296.98019801, not reached by 250.
            let (cross, crossSeen) = run(bars, [0: .target(qty("-5"))])
            #expect(crossSeen[1].liquidationPrice == px("296.98019801"))
            #expect(cross.liquidations == 0)
            #expect(cross.finalEquity == usd("299.75"))  // 999.75 + 5 · (100 − 240)
        }

        @Test("an account left with nothing cannot open a new position")
        func noCollateralNoPosition() {
            // The shortfall scenario leaves the balance at zero; `.enter` then refuses to trade
            // (`guard balance > 0`), and so do `.target` and market orders.
            let bars = series([.flat("100"), Bar("80", "81", "39", "40"), .flat("40"), .flat("40"), .flat("40")])
            let config = venue(taker: "0.015")
            let (entered, _) = run(bars, [0: .enter(.long, leverage: Rate(3)), 2: .enter(.long, leverage: Rate(3))], config: config)
            #expect(entered.fills.count == 2)
            let (targeted, _) = run(bars, [0: .enter(.long, leverage: Rate(3)), 2: .target(qty("100"))], config: config)
            #expect(targeted.fills.count == 2)
            #expect(targeted.insuranceFundDraws == usd("10.32828269"))
        }

        @Test("isolated .enter never leaves the free balance negative")
        func isolatedEnterFreeBalance() {
            let bars = series([.flat("100"), .flat("100")])
            let (_, seen) = run(bars, [0: .enter(.long, leverage: Rate(3))], config: venue(mode: .isolated))
            // The 1.5 fee is taken first, then the margin from what is left.
            #expect(seen[1].balance >= .zero)
            #expect(seen[1].balance + seen[1].positionMargin == usd("998.5"))
        }
    }
}

// MARK: - Orders

extension VenueTests {
    @Suite("Orders")
    struct Orders {
        static func market(_ side: Side, _ size: String, reduceOnly: Bool = false) -> StrategyAction {
            .submit([OrderRequest(side: side, quantity: qty(size), kind: .market, reduceOnly: reduceOnly)])
        }

        @Test("a market order fills at the close with the taker fee; slippage: buys pay more, sells get less")
        func marketWithSlippage() {
            let bars = series([.flat("100"), .flat("100")])
            let config = venue(slippage: .fixed(rate("0.001")))
            let (result, _) = run(bars, [0: Self.market(.long, "10"), 1: Self.market(.short, "10")], config: config)
            #expect(
                result.fills == [
                    // 100 + 0.1; fee 1001 · 0.0005 = 0.5005.
                    // Stamped with the bar's close (issue 10, point 6).
                    FillRecord(
                        time: Timestamp(milliseconds: t0 + hour), bar: 0, side: .long, quantity: qty("10"), price: px("100.1"),
                        fee: usd("0.5005"),
                        realizedPnL: .zero, reason: .signal),
                    // 100 − 0.1; fee 999 · 0.0005 = 0.4995; realised 999 − 1001 = −2.
                    FillRecord(
                        time: Timestamp(milliseconds: t0 + 2 * hour), bar: 1, side: .short, quantity: qty("10"), price: px("99.9"),
                        fee: usd("0.4995"),
                        realizedPnL: usd("-2"), reason: .signal),
                ])
            #expect(result.feesPaid == usd("1"))
            #expect(result.finalEquity == usd("997"))
        }

        @Test("slippage rounds against the taker")
        func slippageRounding() {
            // 123.45678901 · 0.001 = 0.12345678901 → 0.12345679 (up) either way.
            let bars = series([.flat("123.45678901"), .flat("123.45678901")])
            let config = venue(slippage: .fixed(rate("0.001")))
            let (result, _) = run(bars, [0: Self.market(.long, "1"), 1: Self.market(.short, "1")], config: config)
            #expect(result.fills.map(\.price) == [px("123.5802458"), px("123.33333222")])
        }

        @Test("a resting buy limit fills at its price with the maker fee when the low reaches it")
        func restingLimit() {
            let limit = StrategyAction.submit([OrderRequest(side: .long, quantity: qty("10"), kind: .limit(px("95")))])
            let bars = series([.flat("100"), Bar("99", "100", "95.00000001", "97"), Bar("99", "100", "94", "97")])
            let (result, seen) = run(bars, [0: limit])
            #expect(seen[0].restingOrders == 0)
            #expect(seen[1].restingOrders == 1)
            #expect(seen[1].position.isZero)
            // 10 · 95 · 0.0002 = 0.19
            #expect(
                result.fills == [
                    FillRecord(
                        time: Timestamp(milliseconds: t0 + 2 * hour), bar: 2, side: .long, quantity: qty("10"), price: px("95"),
                        fee: usd("0.19"),
                        realizedPnL: .zero, reason: .limit)
                ])
            #expect(seen[2].restingOrders == 0)
            // 1000 − 0.19 + 10 · (97 − 95)
            #expect(result.finalEquity == usd("1019.81"))
        }

        @Test("a limit already through the open fills at the open")
        func limitGap() {
            let limit = StrategyAction.submit([OrderRequest(side: .long, quantity: qty("10"), kind: .limit(px("95")))])
            let (result, _) = run(series([.flat("100"), Bar("90", "92", "88", "91")]), [0: limit])
            #expect(result.fills.map(\.price) == [px("90")])
            #expect(result.fills.map(\.fee) == [usd("0.18")])  // 900 · 0.0002
        }

        @Test("a limit marketable at submission fills at the close as a taker")
        func marketableLimit() {
            let limit = StrategyAction.submit([OrderRequest(side: .long, quantity: qty("10"), kind: .limit(px("105")))])
            let (result, seen) = run(series([.flat("100"), .flat("100")]), [0: limit])
            #expect(
                result.fills == [
                    FillRecord(
                        time: Timestamp(milliseconds: t0 + hour), bar: 0, side: .long, quantity: qty("10"), price: px("100"),
                        fee: usd("0.5"),
                        realizedPnL: .zero,
                        reason: .limit)
                ])
            #expect(seen[1].restingOrders == 0)
        }

        static let stopLoss = StrategyAction.submit([
            OrderRequest(side: .short, quantity: qty("10"), kind: .stop(px("95")), reduceOnly: true)
        ])

        @Test("a sell stop triggers when the low crosses it and fills at the stop price less slippage")
        func sellStop() throws {
            let config = venue(slippage: .fixed(rate("0.001")))
            let bars = series([.flat("100"), .flat("100"), Bar("99", "99.5", "90", "92")])
            let (result, seen) = run(bars, [0: .target(qty("10")), 1: Self.stopLoss], config: config)
            // Bought at 100.1 (basis 1001). Stop 95 − 0.095 = 94.905; notional 949.05,
            // fee 0.474525, realised 949.05 − 1001 = −51.95.
            let fill = try #require(result.fills.last)
            #expect(
                fill
                    == FillRecord(
                        time: Timestamp(milliseconds: t0 + 2 * hour), bar: 2, side: .short, quantity: qty("10"), price: px("94.905"),
                        fee: usd("0.474525"),
                        realizedPnL: usd("-51.95"), reason: .stop))
            #expect(seen[2].position.isZero)
            #expect(seen[2].restingOrders == 0)

            let untouched = series([.flat("100"), .flat("100"), Bar("99", "99.5", "95.00000001", "97")])
            let (kept, keptSeen) = run(untouched, [0: .target(qty("10")), 1: Self.stopLoss], config: config)
            #expect(kept.fills.count == 1)
            #expect(keptSeen[2].restingOrders == 1)
            let touched = series([.flat("100"), .flat("100"), Bar("99", "99.5", "95", "97")])
            #expect(run(touched, [0: .target(qty("10")), 1: Self.stopLoss], config: config).result.fills.last?.price == px("94.905"))
        }

        @Test("a gap through a stop at the open fills at the open (plus slippage)")
        func stopGap() {
            let config = venue(slippage: .fixed(rate("0.001")))
            let bars = series([.flat("100"), .flat("100"), Bar("93", "94", "91", "92")])
            let (result, _) = run(bars, [0: .target(qty("10")), 1: Self.stopLoss], config: config)
            // 93 − 0.093
            #expect(result.fills.last?.price == px("92.907"))
            #expect(result.fills.last?.reason == .stop)
        }

        @Test("reduce-only orders never increase or flip a position")
        func reduceOnly() {
            let bars = series((0..<6).map { _ in .flat("100") })
            let actions: [Int: StrategyAction] = [
                0: .target(qty("10")),
                1: Self.market(.short, "25", reduceOnly: true),  // trimmed to 10
                2: Self.market(.short, "5", reduceOnly: true),  // flat: dropped
                3: .target(qty("10")),
                4: Self.market(.long, "5", reduceOnly: true),  // same side: dropped
            ]
            let (result, seen) = run(bars, actions)
            #expect(result.fills.map(\.quantity) == ["10", "10", "10"].map(qty))
            #expect(result.fills.map(\.side) == [.long, .short, .long])
            #expect(result.fills.allSatisfy { !$0.quantity.isZero })
            #expect(seen.map(\.position) == ["0", "10", "0", "0", "10", "10"].map(qty))
        }

        @Test("a take-profit and a stop-loss (both reduce-only): the first to fill leaves the other nothing")
        func bracketDoesNotFlip() {
            // Short 10 at 100 with a buy stop at 105 and a buy limit at 95.
            let orders = StrategyAction.submit([
                OrderRequest(side: .long, quantity: qty("10"), kind: .stop(px("105")), reduceOnly: true),
                OrderRequest(side: .long, quantity: qty("10"), kind: .limit(px("95")), reduceOnly: true),
            ])
            let wide = series([.flat("100"), .flat("100"), Bar("100", "110", "90", "95"), .flat("95")])
            let (result, seen) = run(wide, [0: .target(qty("-10")), 1: orders])
            #expect(result.fills.count == 2)
            #expect(seen[2].position.isZero)
            #expect(seen[2].restingOrders == 0)
        }

        @Test("the path: a down-closing bar visits the high first (stop above before limit below)")
        func downBarHighFirst() throws {
            let orders = StrategyAction.submit([
                OrderRequest(side: .long, quantity: qty("10"), kind: .stop(px("105")), reduceOnly: true),
                OrderRequest(side: .long, quantity: qty("10"), kind: .limit(px("95")), reduceOnly: true),
            ])
            let bars = series([.flat("100"), .flat("100"), Bar("100", "110", "90", "95")])
            let (result, _) = run(bars, [0: .target(qty("-10")), 1: orders])
            let fill = try #require(result.fills.last)
            // Stop at 105: fee 1050 · 0.0005 = 0.525, realised 1000 − 1050 = −50.
            #expect(fill.reason == .stop)
            #expect(fill.price == px("105"))
            #expect(fill.fee == usd("0.525"))
            #expect(fill.realizedPnL == usd("-50"))
        }

        @Test("the path: an up-closing bar visits the low first (limit below before stop above)")
        func upBarLowFirst() throws {
            let orders = StrategyAction.submit([
                OrderRequest(side: .long, quantity: qty("10"), kind: .stop(px("105")), reduceOnly: true),
                OrderRequest(side: .long, quantity: qty("10"), kind: .limit(px("95")), reduceOnly: true),
            ])
            let bars = series([.flat("100"), .flat("100"), Bar("100", "110", "90", "105")])
            let (result, _) = run(bars, [0: .target(qty("-10")), 1: orders])
            let fill = try #require(result.fills.last)
            // Limit at 95: maker fee 950 · 0.0002 = 0.19, realised 1000 − 950 = 50.
            #expect(fill.reason == .limit)
            #expect(fill.price == px("95"))
            #expect(fill.fee == usd("0.19"))
            #expect(fill.realizedPnL == usd("50"))
        }

        @Test("without reduce-only both fill, in path order", arguments: [("95", [".stop", ".limit"]), ("105", [".limit", ".stop"])])
        func pathOrder(close: String, reasons: [String]) {
            let orders = StrategyAction.submit([
                OrderRequest(side: .long, quantity: qty("1"), kind: .stop(px("105"))),
                OrderRequest(side: .long, quantity: qty("1"), kind: .limit(px("95"))),
            ])
            let bars = series([.flat("100"), Bar("100", "110", "90", close)])
            let (result, _) = run(bars, [0: orders])
            #expect(result.fills.map { ".\($0.reason.rawValue)" } == reasons)
            #expect(result.fills.map(\.price) == (reasons.first == ".stop" ? ["105", "95"] : ["95", "105"]).map(px))
        }

        static let deepStop = StrategyAction.submit([
            OrderRequest(side: .short, quantity: qty("30"), kind: .stop(px("60")), reduceOnly: true)
        ])

        @Test("a stop beyond the liquidation price does not save the position: liquidation comes first")
        func liquidationBeforeDeepStop() {
            let bars = series([.flat("100"), .flat("100"), Bar("80", "81", "50", "55")])
            let (result, seen) = run(bars, [0: .enter(.long, leverage: Rate(3)), 1: Self.deepStop])
            #expect(result.fills.map(\.reason) == [.signal, .liquidation])
            #expect(result.fills.last?.price == px(VenueTests.Liquidations.longLiquidation))
            #expect(result.liquidations == 1)
            #expect(seen[2].restingOrders == 0)  // reduce-only orders go with the position
            #expect(result.finalEquity == usd("19.20631341"))
        }

        @Test("a gap through a short's liquidation price and its stop: liquidation first")
        func shortGapLiquidationFirst() {
            let stop = StrategyAction.submit([OrderRequest(side: .long, quantity: qty("30"), kind: .stop(px("140")), reduceOnly: true)])
            let bars = series([.flat("100"), .flat("100"), Bar("150", "151", "149", "150")])
            let (result, _) = run(bars, [0: .enter(.short, leverage: Rate(3)), 1: stop])
            #expect(result.fills.map(\.reason) == [.signal, .liquidation])
            // Through the gap: closed at the open, 150; 998.5 − 30 · 50 − 2.25 < 0.
            #expect(result.fills.last?.price == px("150"))
            #expect(result.finalEquity.isZero)
            #expect(result.insuranceFundDraws == usd("503.75"))
        }

        @Test("a gap through a long's liquidation price and a deeper stop: liquidation first")
        func longGapLiquidationFirst() {
            // The path from the previous close (100) down to the open (50) passes the liquidation
            // price 67.3905724 before the stop at 60, as it does for a short gapping up and as it
            // does inside a bar; both would fill at the open, 50: the liquidation takes it.
            let bars = series([.flat("100"), .flat("100"), Bar("50", "51", "45", "48")])
            let (result, _) = run(bars, [0: .enter(.long, leverage: Rate(3)), 1: Self.deepStop])
            #expect(result.fills.map(\.reason) == [.signal, .liquidation])
            #expect(result.fills.last?.price == px("50"))
            // 998.5 − 30 · 50 − 0.75 = −502.25: the insurance fund's.
            #expect(result.insuranceFundDraws == usd("502.25"))
            #expect(result.finalEquity.isZero)
        }

        @Test("a flip from long to short realises PnL only on the closed part")
        func flip() throws {
            let bars = series([.flat("100"), .flat("110"), .flat("110")])
            let (result, seen) = run(bars, [0: .target(qty("10")), 1: .target(qty("-5"))])
            // Sell 15 at 110: realised 10 · (110 − 100) = 100; fee 1650 · 0.0005 = 0.825.
            let fill = try #require(result.fills.last)
            #expect(fill.quantity == qty("15"))
            #expect(fill.realizedPnL == usd("100"))
            #expect(fill.fee == usd("0.825"))
            #expect(seen[2].position == qty("-5"))
            #expect(seen[2].costBasis == usd("-550"))
            // 1000 − 0.5 + 100 − 0.825
            #expect(seen[2].balance == usd("1098.675"))
            #expect(result.trades.count == 2)
            // The fee is shared by size: 10/15 of 0.825 = 0.55 closes the long, 0.275 opens the short.
            #expect(result.trades[0].side == .long)
            #expect(result.trades[0].grossPnL == usd("100"))
            #expect(result.trades[0].fees == usd("1.05"))
            #expect(result.trades[0].exitPrice == px("110"))
            #expect(result.trades[1].side == .short)
            #expect(result.trades[1].entryPrice == px("110"))
            #expect(result.trades[1].quantity == qty("5"))
            #expect(result.trades[1].fees == usd("0.275"))
            #expect(result.trades[1].exitTime == nil)
        }
    }
}

// MARK: - Money invariants

/// A strategy that randomly targets sizes, flattens, enters with random leverage, places resting
/// orders and cancels them. Does nothing on the last bar, so that the last recorded equity is the
/// final equity.
struct RandomTrader: Strategy {
    var rng: SplitMix64
    let bars: Int

    init(seed: UInt64, bars: Int) {
        rng = SplitMix64(seed: seed)
        self.bars = bars
    }

    mutating func onBar(_ bar: BarView, account: AccountView) -> StrategyAction? {
        guard bar.index < bars - 1 else { return nil }
        switch rng.int(0...11) {
        case 0, 1: return .target(Quantity(raw: rng.int(-200...200) * 50_000_000))
        case 2: return .flatten
        case 3: return .enter(rng.int(0...1) == 0 ? .long : .short, leverage: Rate(raw: rng.int(1...250) * 100_000_000_000))
        case 4, 5:
            let count = Int(rng.int(1...3))
            let orders = (0..<count).map { _ in
                let side: Side = rng.int(0...1) == 0 ? .long : .short
                // Within ±8 % of the close, on the 10⁻⁸ grid.
                let offset = bar.close.raw / 10_000 * rng.int(-800...800) / 100
                let price = Price(raw: max(1, bar.close.raw + offset))
                let kind: OrderRequest.Kind = [.market, .limit(price), .stop(price)][Int(rng.int(0...2))]
                return OrderRequest(
                    side: side, quantity: Quantity(raw: rng.int(1...10_000) * 1_000_000), kind: kind, reduceOnly: rng.int(0...2) == 0)
            }
            return .submit(orders)
        case 6: return .cancelAll
        default: return nil
        }
    }
}

extension VenueTests {
    @Suite("Money invariants")
    struct Invariants {
        struct Case: Sendable, CustomTestStringConvertible {
            var seed: UInt64
            var mode: MarginMode
            var slippage: SlippageModel
            var maintenance = "0.05"
            /// A taker fee above the maintenance fraction makes liquidations end in shortfalls.
            var taker = "0.0005"
            var rule = LiquidationRule.keepRemainder
            var testDescription: String { "seed \(seed) \(mode.rawValue) \(slippage) m \(maintenance) fee \(taker) \(rule.name)" }
        }

        static let cases: [Case] = (1...6).flatMap { seed -> [Case] in
            let seed = UInt64(seed)
            let forfeiting: [Case] = [
                Case(seed: seed, mode: .cross, slippage: .none, rule: .binanceUSDM),
                Case(seed: seed, mode: .isolated, slippage: .fixed(rate("0.0005")), rule: .binanceUSDM),
            ]
            return forfeiting + [
                Case(seed: UInt64(seed), mode: .cross, slippage: .none),
                Case(seed: UInt64(seed), mode: .isolated, slippage: .fixed(rate("0.0005"))),
                Case(seed: UInt64(seed), mode: .cross, slippage: .volumeShare(impact: rate("0.1"), cap: rate("0.01"))),
                Case(seed: UInt64(seed), mode: .cross, slippage: .none, maintenance: "0.005", taker: "0.01"),
                Case(seed: UInt64(seed), mode: .isolated, slippage: .none, maintenance: "0.005", taker: "0.01"),
            ]
        }

        @Test("ledger identities hold exactly on random runs", arguments: cases)
        func ledger(_ run: Case) throws {
            let count = 300
            let bars = randomWalk(seed: run.seed &* 7919, bars: count, jump: 150_000)
            let funding = hourlyFunding(seed: run.seed &* 104_729, bars: count)
            var config = venue(mode: run.mode, maintenance: run.maintenance, taker: run.taker, slippage: run.slippage, rule: run.rule)
            config.lotSize = qty("0.01")
            var tester = Backtester(strategy: RandomTrader(seed: run.seed, bars: count), config: config, initialCapital: usd("1000"))
            let result = tester.run(bars, funding: funding)

            #expect(result.bars == count)
            // The runs reach every kind of fill, and the fee-heavy ones end liquidations in shortfalls.
            for reason in [FillReason.signal, .limit, .stop, .liquidation] { #expect(result.fills.contains { $0.reason == reason }) }
            if run.taker == "0.01" { #expect(result.insuranceFundDraws.isPositive) }
            #expect(result.equity.count == count)
            #expect(result.equity.times == bars.openTimes)
            #expect(!result.fills.isEmpty)

            // Replay every fill independently: sizes, realised PnL, flips.
            var ledger = Ledger()
            for fill in result.fills {
                #expect(fill.quantity.isPositive, "zero or negative fill quantity")
                #expect(fill.quantity.raw % config.lotSize.raw == 0 || fill.reason == .liquidation || fill.reason == .end)
                let before = ledger
                let pnl = ledger.apply(fill)
                #expect(fill.realizedPnL.raw == pnl)
                if before.quantity != 0 && ledger.quantity != 0 && (before.quantity > 0) != (ledger.quantity > 0) {
                    // A flip realises PnL on the closed part only: the whole old position, at the
                    // fill price, against its whole basis; the rest opens at the fill price.
                    #expect(pnl == Ledger.notional(fill.price.raw, before.quantity) - before.basis)
                    #expect(ledger.basis == Ledger.notional(fill.price.raw, ledger.quantity))
                }
            }
            let lastClose = bars.closes[count - 1]
            let realized = result.fills.reduce(Notional.zero) { $0 + $1.realizedPnL }
            let fees = result.fills.reduce(Notional.zero) { $0 + $1.fee }
            let fundingSum = result.funding.reduce(Notional.zero) { $0 + $1.payment }
            #expect(fees == result.feesPaid)
            #expect(fundingSum == result.fundingPaid)
            // balance + margin = capital + Σ realised − fees − funding − margin forfeited at
            // liquidations + insurance draws, so final equity = that + unrealised PnL at the last close.
            let expected =
                result.initialCapital + realized - result.feesPaid - result.fundingPaid - result.marginForfeited
                + result.insuranceFundDraws + Notional(raw: ledger.unrealized(at: lastClose))
            #expect(result.fills.reduce(Notional.zero) { $0 + $1.forfeited } == result.marginForfeited)
            if run.rule == .keepRemainder { #expect(result.marginForfeited.isZero) }
            #expect(result.finalEquity == expected)
            #expect(result.equity.equity.last == result.finalEquity.raw)
            #expect(result.equity.position.last == ledger.quantity)
            // Never below zero when flat; the insurance fund only ever receives.
            for (equity, position) in zip(result.equity.equity, result.equity.position) where position == 0 {
                #expect(equity >= 0)
            }
            #expect(!result.insuranceFundDraws.isNegative)
            #expect(result.liquidations == result.fills.filter { $0.reason == .liquidation }.count)
            #expect(result.barsInMarket == result.equity.position.filter { $0 != 0 }.count)
            // The trades partition the fees, the realised PnL and the funding.
            #expect(result.trades.reduce(Notional.zero) { $0 + $1.fees } == result.feesPaid)
            #expect(result.trades.reduce(Notional.zero) { $0 + $1.grossPnL } == realized)
            #expect(result.trades.reduce(Notional.zero) { $0 + $1.funding } == result.fundingPaid)
            for (earlier, later) in zip(result.trades, result.trades.dropFirst()) {
                #expect(earlier.exitBar != nil)
                #expect(earlier.entryBar <= later.entryBar)
            }
        }

        @Test("the same seed gives the same result")
        func deterministic() {
            let bars = randomWalk(seed: 99, bars: 200, jump: 150_000)
            func once() -> BacktestResult {
                var tester = Backtester(strategy: RandomTrader(seed: 5, bars: 200), config: venue(), initialCapital: usd("1000"))
                return tester.run(bars, funding: hourlyFunding(seed: 3, bars: 200))
            }
            let (a, b) = (once(), once())
            #expect(a.fills == b.fills)
            #expect(a.funding == b.funding)
            #expect(a.equity == b.equity)
            #expect(a.trades == b.trades)
        }

        @Test("equity is not recorded when switched off")
        func noEquity() {
            var config = venue()
            config.recordEquity = false
            let (result, _) = run(series(ladder(5)), [0: .target(qty("1"))], config: config)
            #expect(result.equity.count == 0)
            #expect(result.finalEquity == usd("1003.95"))  // 1000 − 0.05 + (104 − 100)
        }
    }
}
