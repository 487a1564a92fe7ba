import PerpModel

/// Daily funding statistics of a hedge (spec §1, "Funding cost of the hedge"; seed 003
/// "Funding fees of NMR").
///
/// A day's figure is the sum of the rates settled in that UTC day. Over the days: mean and
/// sample standard deviation (n − 1) in basis points per day, `APR = mean × 365` and
/// `APY = (1 + mean)^365 − 1`. Signs are as the venue quotes them: positive means longs pay
/// shorts, so a positive figure is income for the short hedge and a negative one a cost.
public struct FundingStats: Hashable, Sendable {
    public struct Day: Hashable, Sendable {
        /// Days since 1970-01-01 (UTC).
        public var day: Int64
        /// Sum of the day's rates, exact.
        public var rate: Rate
        public var settlements: Int
        /// Hours covered by the day's settlements (24 for a complete day).
        public var coveredHours: Double
    }

    public var days: [Day]
    public var meanBpsPerDay: Double
    /// `nil` with fewer than two days.
    public var stdBpsPerDay: Double?
    public var apr: Double
    public var apy: Double
    public var settlements: Int
    public var first: Timestamp
    public var last: Timestamp
    /// Days whose settlements cover less than 24 hours (usually the first and last of a file).
    public var partialDays: Int

    /// Statistics over `rates`, restricted to the last `lastDays` UTC days present when given.
    public init(rates: [FundingRate], lastDays: Int? = nil) throws {
        guard !rates.isEmpty else { throw HedgeError.invalid("no funding rates to summarise") }
        if let lastDays, lastDays <= 0 { throw HedgeError.invalid("--days must be a positive number of days (got \(lastDays))") }
        var byDay: [(day: Int64, sum: Int64, count: Int, ms: Int64)] = []
        for rate in rates.sorted(by: { $0.time < $1.time }) {
            let day = rate.time.utcDay
            if let last = byDay.last, last.day == day {
                byDay[byDay.count - 1].sum += rate.rate.raw
                byDay[byDay.count - 1].count += 1
                byDay[byDay.count - 1].ms += rate.interval.milliseconds
            } else {
                byDay.append((day, rate.rate.raw, 1, rate.interval.milliseconds))
            }
        }
        if let lastDays, let lastDay = byDay.last?.day {
            byDay = byDay.filter { $0.day > lastDay - Int64(lastDays) }
        }
        days = byDay.map { Day(day: $0.day, rate: Rate(raw: $0.sum), settlements: $0.count, coveredHours: Double($0.ms) / 3_600_000) }
        let dailyFractions = days.map { $0.rate.doubleValue }
        let mean = dailyFractions.reduce(0, +) / Double(dailyFractions.count)
        meanBpsPerDay = mean * 10_000
        if dailyFractions.count >= 2 {
            let variance = dailyFractions.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(dailyFractions.count - 1)
            stdBpsPerDay = variance.squareRoot() * 10_000
        } else {
            stdBpsPerDay = nil
        }
        (apr, apy) = FundingStats.annualise(dailyMean: mean)
        settlements = days.reduce(0) { $0 + $1.settlements }
        let included = Set(days.map(\.day))
        let kept = rates.filter { included.contains($0.time.utcDay) }
        first = kept.map(\.time).min() ?? rates[0].time
        last = kept.map(\.time).max() ?? rates[0].time
        partialDays = days.filter { $0.coveredHours < 24 - 1e-9 }.count
    }

    /// `APR = mean × 365`, `APY = (1 + mean)^365 − 1` for a daily mean given as a fraction.
    public static func annualise(dailyMean: Double) -> (apr: Double, apy: Double) {
        (dailyMean * 365, pow365(1 + dailyMean) - 1)
    }

    private static func pow365(_ base: Double) -> Double {
        var result = 1.0
        var factor = base
        var exponent = 365
        while exponent > 0 {
            if exponent & 1 == 1 { result *= factor }
            factor *= factor
            exponent >>= 1
        }
        return result
    }
}
