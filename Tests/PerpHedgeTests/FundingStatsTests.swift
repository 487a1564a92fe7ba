import PerpHedge
import PerpModel
import Testing

@Suite struct FundingStatsTests {
    @Test(arguments: [(-12.7, -0.46355, -0.371), (-2.0, -0.073, -0.0704), (2.4, 0.0876, 0.0916)])
    func forumAnnualisationReproduces(meanBps: Double, apr: Double, apy: Double) {
        // Spec §1: −12.7 bps/day → APR −46.4 %, APY −37.1 %; −2.0 → APY −7.0 %; ETH +2.4 → about +9 %.
        let result = FundingStats.annualise(dailyMean: meanBps / 10_000)
        #expect(abs(result.apr - apr) < 0.0005)
        #expect(abs(result.apy - apy) < 0.0005)
    }

    /// Hourly rates for `days` days whose daily sums are `daily[i]` (each hour gets 1/24).
    func hourly(_ daily: [Double], startDay: Int64 = 20_000) -> [FundingRate] {
        var rates: [FundingRate] = []
        for (index, value) in daily.enumerated() {
            for hour in 0..<24 {
                let time = Timestamp(milliseconds: (startDay + Int64(index)) * 86_400_000 + Int64(hour) * 3_600_000)
                rates.append(FundingRate(time: time, rate: Rate(approximating: value / 24)!, interval: .hours(1)))
            }
        }
        return rates
    }

    @Test func dailySumsMeanAndSampleStd() throws {
        let daily = [-0.0010, -0.0020, 0.0005, -0.0015]
        let stats = try FundingStats(rates: hourly(daily))
        #expect(stats.days.count == 4)
        #expect(stats.settlements == 96)
        #expect(stats.partialDays == 0)
        let mean = daily.reduce(0, +) / 4
        let std = (daily.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 3).squareRoot()
        #expect(abs(stats.meanBpsPerDay - mean * 10_000) < 1e-6)
        #expect(abs(stats.stdBpsPerDay! - std * 10_000) < 1e-6)
        #expect(abs(stats.apr - mean * 365) < 1e-9)
    }

    @Test func lastDaysKeepsTheTail() throws {
        let stats = try FundingStats(rates: hourly([0.001, 0.002, 0.003, 0.004]), lastDays: 2)
        #expect(stats.days.count == 2)
        #expect(abs(stats.meanBpsPerDay - 35) < 1e-6)
    }

    @Test func mixedIntervalsAndPartialDays() throws {
        // An 8-hourly day, then a 4-hourly day, then one lone settlement.
        var rates: [FundingRate] = []
        let day: Int64 = 86_400_000
        for h in [0, 8, 16] {
            rates.append(
                FundingRate(time: Timestamp(milliseconds: day * 100 + Int64(h) * 3_600_000), rate: Rate("0.0001")!, interval: .hours(8)))
        }
        for h in [0, 4, 8, 12, 16, 20] {
            rates.append(
                FundingRate(time: Timestamp(milliseconds: day * 101 + Int64(h) * 3_600_000), rate: Rate("-0.00005")!, interval: .hours(4)))
        }
        rates.append(FundingRate(time: Timestamp(milliseconds: day * 102), rate: Rate("0.0002")!, interval: .hours(4)))
        let stats = try FundingStats(rates: rates)
        #expect(stats.days.map(\.rate) == [Rate("0.0003")!, Rate("-0.0003")!, Rate("0.0002")!])
        #expect(stats.partialDays == 1)
    }

    @Test func rejectsEmptyAndNonPositiveDays() {
        #expect(throws: HedgeError.self) { _ = try FundingStats(rates: []) }
        #expect(throws: HedgeError.self) { _ = try FundingStats(rates: self.hourly([0.001]), lastDays: 0) }
    }
}
