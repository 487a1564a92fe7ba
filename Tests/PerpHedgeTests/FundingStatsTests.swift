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

    /// 8-hourly settlements of `rate` at hours `from`, `from + 8`, … up to `through`, after day 200.
    func eightHourly(from: Int64, through: Int64, rate: String = "0.0001") -> [FundingRate] {
        stride(from: from, through: through, by: 8).map {
            FundingRate(time: Timestamp(milliseconds: 200 * 86_400_000 + $0 * 3_600_000), rate: Rate(rate)!, interval: .hours(8))
        }
    }

    @Test func partialFirstAndLastDaysNoLongerDiluteTheMean() throws {
        // 1 bp every 8 hours is 3 bps a day. The file starts at 16:00 on day 0 and ends at 00:00
        // on day 10: 29 settlements over 9 complete days and two days with one settlement each.
        let stats = try FundingStats(rates: eightHourly(from: 16, through: 240))
        #expect(stats.days.count == 11 && stats.completeDays == 9 && stats.partialDays == 2)
        #expect(stats.coveredHours == 29 * 8)
        #expect(abs(stats.meanBpsPerDay - 3) < 1e-9)
        // The old calendar-day mean: 29 bps over 11 days = 2.64, 12 % low.
        let calendarMean = stats.days.reduce(0) { $0 + $1.rate.basisPoints } / Double(stats.days.count)
        #expect(abs(calendarMean - 29.0 / 11) < 1e-9)
        #expect(stats.stdBpsPerDay == 0)  // every complete day paid exactly 3 bps
        #expect(abs(stats.apr - 0.0003 * 365) < 1e-12)
    }

    @Test func theStdIsOverCompleteDaysOnly() throws {
        // A huge partial first day (one settlement of 50 bps) must not inflate the spread, and
        // weighs by its 8 hours in the mean.
        var rates = eightHourly(from: 16, through: 16, rate: "0.005")
        rates += eightHourly(from: 24, through: 47, rate: "0.0001")  // day 1: 3 bps
        rates += eightHourly(from: 48, through: 71, rate: "0.0002")  // day 2: 6 bps
        rates += eightHourly(from: 72, through: 95, rate: "0.0001")  // day 3: 3 bps
        let stats = try FundingStats(rates: rates)
        #expect(stats.completeDays == 3 && stats.partialDays == 1)
        let sd = ([3.0, 6, 3].map { ($0 - 4) * ($0 - 4) }.reduce(0, +) / 2).squareRoot()
        #expect(abs(stats.stdBpsPerDay! - sd) < 1e-9)
        #expect(abs(stats.meanBpsPerDay - (50 + 3 + 6 + 3) / (10.0 * 8) * 24) < 1e-9)
        // One complete day: no deviation.
        #expect(try FundingStats(rates: eightHourly(from: 16, through: 48)).stdBpsPerDay == nil)
    }

    @Test func aDayAtASwitchOfIntervalIsScaledTo24Hours() throws {
        // Day 100 in 8 h, day 101 starts with the 8 h settlement closing day 100 and then 4 h:
        // 8 + 5 × 4 = 28 covered hours; as a daily figure it is scaled by 24/28.
        var rates: [FundingRate] = []
        let day: Int64 = 86_400_000
        for h in [8, 16] {
            rates.append(
                FundingRate(time: Timestamp(milliseconds: day * 100 + Int64(h) * 3_600_000), rate: Rate("0.0001")!, interval: .hours(8)))
        }
        rates.append(FundingRate(time: Timestamp(milliseconds: day * 101), rate: Rate("0.0001")!, interval: .hours(8)))
        for h in [4, 8, 12, 16, 20] {
            rates.append(
                FundingRate(time: Timestamp(milliseconds: day * 101 + Int64(h) * 3_600_000), rate: Rate("0.00005")!, interval: .hours(4)))
        }
        let stats = try FundingStats(rates: rates)
        #expect(stats.days.map(\.coveredHours) == [16, 28])
        #expect(stats.days[1].isComplete && abs(stats.days[1].perDay - 0.00035 * 24 / 28) < 1e-15)
        // Σ rates 5.5 bps over 44 hours.
        #expect(abs(stats.meanBpsPerDay - 5.5 / 44 * 24) < 1e-9)
    }

    @Test func rejectsEmptyAndNonPositiveDays() {
        #expect(throws: HedgeError.self) { _ = try FundingStats(rates: []) }
        #expect(throws: HedgeError.self) { _ = try FundingStats(rates: self.hourly([0.001]), lastDays: 0) }
    }
}
