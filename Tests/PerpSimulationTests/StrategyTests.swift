import PerpModel
import PerpSimulation
import Testing

/// The built-in strategies (Strategies.swift) and the reference semantics of
/// shared/bench/limit.c.
@Suite("Strategies")
struct StrategyTests {
    /// What limit.c's `run` produces.
    struct Reference {
        /// Bar index and side of every position opened, in order.
        var opens: [(bar: Int, side: Side)] = []
        var liquidations = 0
        var fundings = 0
        var equity = 0.0
        var feesPaid = 0.0
        var fundingPaid = 0.0
    }

    /// shared/bench/limit.c `run()`, transcribed line by line (doubles, closes compared in
    /// integer ticks of 0.0001), with FAST, SLOW, LEVERAGE, FEE, MMR and INIT_EQUITY as
    /// parameters. Only `(SLOW / FAST)` is integer division, as in C: use `slow % fast == 0`.
    static func limitC(
        _ bars: CandleSeries, funding: [FundingRate], fast: Int, slow: Int, leverage: Double, fee: Double, mmr: Double, initial: Double
    ) -> Reference {
        precondition(slow % fast == 0)
        let scale = 100_000_000.0
        let ts = bars.openTimes
        let fts = funding.map(\.time.milliseconds)
        let rates = funding.map { Double($0.rate.raw) / 1e12 }
        var fbuf = [Int64](repeating: 0, count: fast)
        var sbuf = [Int64](repeating: 0, count: slow)
        var fsum: Int64 = 0
        var ssum: Int64 = 0
        var prevDiff: Int64 = 0
        var havePrev = false
        var bal = initial
        var qty = 0.0
        var entry = 0.0
        var fi = 0
        var r = Reference()
        let n = bars.count
        for i in 0..<n {
            let o = Double(bars.opens[i]) / scale
            let c = Double(bars.closes[i]) / scale
            // 1. funding at the bar's open time
            while fi < fts.count && fts[fi] < ts[i] { fi += 1 }
            if fi < fts.count && fts[fi] == ts[i] {
                if qty != 0 {
                    let pay = qty * o * rates[fi]
                    bal -= pay
                    r.fundingPaid += pay
                    r.fundings += 1
                }
                fi += 1
            }
            // 2. liquidation against the bar's adverse extreme
            if qty != 0 {
                let p = qty > 0 ? Double(bars.lows[i]) / scale : Double(bars.highs[i]) / scale
                let aq = abs(qty)
                if bal + qty * (p - entry) <= mmr * aq * p {
                    let liq = qty > 0 ? (qty * entry - bal) / (qty * (1.0 - mmr)) : (qty * entry - bal) / (qty * (1.0 + mmr))
                    let liqFee = fee * aq * liq
                    bal += qty * (liq - entry) - liqFee
                    r.feesPaid += liqFee
                    qty = 0
                    r.liquidations += 1
                }
            }
            // 3. SMAs
            let fs = i % fast
            let ss = i % slow
            if i >= fast { fsum -= fbuf[fs] }
            if i >= slow { ssum -= sbuf[ss] }
            let ct = Int64((c * 10000.0).rounded())  // llround
            fbuf[fs] = ct
            sbuf[ss] = ct
            fsum += ct
            ssum += ct
            if i + 1 < slow { continue }
            let diff = Int64(slow / fast) * fsum - ssum
            // 4. signal + fills
            var sig = 0
            if havePrev {
                if prevDiff <= 0 && diff > 0 {
                    sig = 1
                } else if prevDiff >= 0 && diff < 0 {
                    sig = -1
                }
            }
            prevDiff = diff
            havePrev = true
            if sig != 0 && (qty == 0 || (qty > 0) != (sig > 0)) {
                if qty != 0 {
                    let closeFee = fee * abs(qty) * c
                    bal += qty * (c - entry) - closeFee
                    r.feesPaid += closeFee
                    qty = 0
                }
                if bal > 0 {
                    let notional = leverage * bal
                    let openFee = fee * notional
                    bal -= openFee
                    r.feesPaid += openFee
                    qty = Double(sig) * notional / c
                    entry = c
                    r.opens.append((i, sig > 0 ? .long : .short))
                }
            }
        }
        r.equity = bal + (n > 0 ? qty * (Double(bars.closes[n - 1]) / scale - entry) : 0)
        return r
    }

    struct Market: Sendable, CustomTestStringConvertible {
        var seed: UInt64
        var bars: Int
        var jump: Int64
        var leverage: Int
        var testDescription: String { "seed \(seed), \(bars) bars, jumps ±\(jump) ticks, \(leverage)×" }
    }

    static let markets = [
        Market(seed: 11, bars: 600, jump: 0, leverage: 3),
        Market(seed: 12, bars: 600, jump: 0, leverage: 3),
        Market(seed: 13, bars: 800, jump: 150_000, leverage: 10),
        Market(seed: 14, bars: 800, jump: 150_000, leverage: 10),
    ]

    @Test("SMACross reproduces limit.c: same positions opened, at the same bars, on the same sides", arguments: markets)
    func smaCrossMatchesLimitC(_ market: Market) {
        let bars = randomWalk(seed: market.seed, bars: market.bars, jump: market.jump)
        let funding = hourlyFunding(seed: market.seed + 100, bars: market.bars)
        let reference = Self.limitC(
            bars, funding: funding, fast: 5, slow: 20, leverage: Double(market.leverage), fee: 0.0005, mmr: 0.01, initial: 1_000_000)
        var tester = Backtester(
            strategy: SMACross(fast: 5, slow: 20, leverage: Rate(market.leverage)), config: venue(), initialCapital: Notional(1_000_000))
        let result = tester.run(bars, funding: funding)

        #expect(result.trades.count == reference.opens.count)
        #expect(result.trades.map(\.entryBar) == reference.opens.map(\.bar))
        #expect(result.trades.map(\.side) == reference.opens.map(\.side))
        #expect(result.liquidations == reference.liquidations)
        #expect(result.funding.count == reference.fundings)
        #expect(reference.opens.count > 10)
        if market.jump > 0 { #expect(reference.liquidations > 0) }
        // The money agrees to rounding (the reference works in doubles and does not round sizes to the lot).
        #expect(abs(result.finalEquity.doubleValue - reference.equity) <= 1e-6 * max(1, abs(reference.equity)))
        #expect(abs(result.feesPaid.doubleValue - reference.feesPaid) <= 1e-6 * max(1, reference.feesPaid))
        #expect(abs(result.fundingPaid.doubleValue - reference.fundingPaid) <= 1e-6 * max(1, abs(reference.fundingPaid)))
    }

    @Test("SMACross: the first bar with both averages only arms; a cross on it is not a signal")
    func smaCrossArms() {
        // fast 2, slow 4. Closes 10, 10, 10, 12: at bar 3 both are defined and fast > slow
        // already (the detector arms); bar 4 keeps fast > slow: no signal. Bar 5 crosses down.
        let closes = ["10", "10", "10", "12", "12", "5", "5"]
        let bars = series(closes.map { Bar.flat($0) })
        var tester = Backtester(strategy: SMACross(fast: 2, slow: 4, leverage: Rate(2)), config: venue(), initialCapital: usd("1000"))
        let result = tester.run(bars)
        #expect(result.fills.map(\.bar) == [5])
        #expect(result.fills.map(\.side) == [.short])
        // Notional 2 · 1000 = 2000 at 5: 400 units, fee 1.
        #expect(result.fills.map(\.quantity) == [qty("400")])
        #expect(result.fills.map(\.fee) == [usd("1")])
    }

    @Test("SMACross flips through an opposite position at one close")
    func smaCrossFlips() {
        // fast 2, slow 4: arms at bar 3 (fast 10 = slow 10, difference 0); bar 4 up; bar 6 down.
        let closes = ["10", "10", "10", "10", "20", "20", "4", "4"]
        let bars = series(closes.map { Bar.flat($0) })
        var tester = Backtester(
            strategy: SMACross(fast: 2, slow: 4, leverage: Rate(1)), config: venue(taker: "0"), initialCapital: usd("1000"))
        let result = tester.run(bars)
        // Long 1000 / 20 = 50 at bar 4; at bar 6 sell 50 at 4 (realised −800, balance 200),
        // then short 200 / 4 = 50 more.
        #expect(result.fills.map(\.bar) == [4, 6, 6])
        #expect(result.fills.map(\.side) == [.long, .short, .short])
        #expect(result.fills.map(\.quantity) == ["50", "50", "50"].map(qty))
        #expect(result.fills.map(\.realizedPnL) == ["0", "-800", "0"].map(usd))
        #expect(result.trades.map(\.side) == [.long, .short])
        #expect(result.finalEquity == usd("200"))
    }

    @Test("HoldShort shorts a fixed quantity at the first close and holds it")
    func holdShort() {
        var tester = Backtester(strategy: HoldShort(quantity: qty("7")), config: venue(), initialCapital: usd("1000"))
        let result = tester.run(series(ladder(4)))
        #expect(result.fills.count == 1)
        #expect(result.fills.first?.side == .short)
        #expect(result.fills.first?.quantity == qty("7"))
        #expect(result.equity.position == [0, -7, -7, -7].map { $0 * 100_000_000 })
        // 1000 − 0.35 + 7 · (100 − 103)
        #expect(result.finalEquity == usd("978.65"))
    }

    @Test("FundingCarry: spot and perp cancel; the carry keeps the funding, less the perp's fee")
    func fundingCarry() {
        let bars = series([.flat("100"), .flat("150")])
        let result = FundingCarry.run(bars, funding: [settlement(hours: 1, "0.0001")], config: venue(), capital: usd("2000"))
        // Spot 1000 / 100 = 10; short 10 at 100, fee 0.5; funding −10 · 150 · 0.0001 = −0.15.
        #expect(result.fills.map(\.quantity) == [qty("10")])
        #expect(result.fundingPaid == usd("-0.15"))
        #expect(result.initialCapital == usd("2000"))
        #expect(result.finalEquity == usd("1999.65"))
        #expect(result.equity.equity == [usd("2000").raw, usd("1999.65").raw])
    }
}
