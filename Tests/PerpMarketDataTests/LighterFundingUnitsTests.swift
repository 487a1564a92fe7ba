import PerpMarketData
import PerpModel
import Testing

/// Lighter's funding units cross-check (issue 13): `fundings.rate` read as percent per hour
/// against `funding-rates` as a fraction per 8 h.
@Suite struct LighterFundingUnitsTests {
    static func row(_ percentPerHour: String) -> FundingRate {
        FundingRate(
            time: Timestamp(milliseconds: 1_790_000_000_000),
            rate: Rate(raw: Rate(percentPerHour)!.raw / 100), interval: .hours(1))
    }

    @Test func theCapturedNMRPairAgrees() {
        // 0.0012 %/h × 8 / 100 = 9.6e-05 (lighter-live.md addendum).
        let verdict = LighterFundingUnits.check(newest: Self.row("0.0012"), snapshot: 9.6e-05)
        #expect(verdict == .consistent(ratio: 1))
        #expect(LighterFundingUnits.describe(verdict, newest: Self.row("0.0012"), snapshot: 9.6e-05).contains("percent per hour"))
    }

    @Test func aPercentReadAsAFractionShowsAsAFactorOfAHundred() {
        guard case .factor(let factor, _) = LighterFundingUnits.check(newest: Self.row("0.0012"), snapshot: 9.6e-03) else {
            Issue.record("expected a factor")
            return
        }
        #expect(factor == 100)
        guard case .factor(let small, _) = LighterFundingUnits.check(newest: Self.row("0.12"), snapshot: 9.6e-05) else {
            Issue.record("expected a factor")
            return
        }
        #expect(small == 100)
    }

    @Test func aWrongIntervalShowsAsEightOrTwentyFour() {
        guard case .factor(let eight, _) = LighterFundingUnits.check(newest: Self.row("0.0012"), snapshot: 1.2e-05) else {
            Issue.record("expected a factor")
            return
        }
        #expect(eight == 8)
    }

    @Test func movingRatesAndZerosAreNotCalledAnError() {
        guard case .consistent(let ratio) = LighterFundingUnits.check(newest: Self.row("0.0012"), snapshot: 1.5e-04) else {
            Issue.record("a moved rate is consistent")
            return
        }
        #expect(abs(ratio - 1.5625) < 1e-9)
        guard case .inconclusive = LighterFundingUnits.check(newest: Self.row("0"), snapshot: 9.6e-05) else {
            Issue.record("a zero rate cannot show a factor")
            return
        }
        guard case .inconclusive = LighterFundingUnits.check(newest: nil, snapshot: 9.6e-05) else {
            Issue.record("no row")
            return
        }
        guard case .inconclusive = LighterFundingUnits.check(newest: Self.row("0.0012"), snapshot: .nan) else {
            Issue.record("NaN")
            return
        }
        guard case .inconclusive = LighterFundingUnits.check(newest: Self.row("0.0012"), snapshot: 4.5e-04) else {
            Issue.record("×4.7 is near no factor")
            return
        }
    }
}
