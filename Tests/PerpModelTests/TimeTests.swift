import PerpModel
import Testing

/// `Timestamp` (ISO 8601, epoch milliseconds) and `TimeSpan` (Time.swift).
@Suite("Time")
struct TimeTests {
    @Test(
        "ISO 8601 formatting in UTC, with milliseconds only when present",
        arguments: [
            (Int64(0), "1970-01-01T00:00:00Z"),
            (1_672_903_800_000, "2023-01-05T07:30:00Z"),
            (1_672_903_800_250, "2023-01-05T07:30:00.250Z"),
            (1_672_903_800_007, "2023-01-05T07:30:00.007Z"),
            (1_709_164_800_000, "2024-02-29T00:00:00Z"),
            (951_782_400_000, "2000-02-29T00:00:00Z"),
            (1_688_515_200_001, "2023-07-05T00:00:00.001Z"),
            // Before 1970.
            (-1, "1969-12-31T23:59:59.999Z"),
            (-1_000, "1969-12-31T23:59:59Z"),
            (-86_400_000, "1969-12-31T00:00:00Z"),
            (-86_400_001, "1969-12-30T23:59:59.999Z"),
            (-14_182_940_000, "1969-07-20T20:17:40Z"),
            (-2_208_988_800_000, "1900-01-01T00:00:00Z"),
            (-11_670_912_000_000, "1600-03-01T00:00:00Z"),
        ])
    func iso8601(milliseconds: Int64, text: String) {
        let stamp = Timestamp(milliseconds: milliseconds)
        #expect(stamp.iso8601 == text)
        #expect(stamp.description == text)
        #expect(stamp.isoDate == String(text.prefix(10)))
        #expect(Timestamp(parsing: text) == stamp, "formatting round-trips through parsing")
    }

    @Test("utcDay floors toward the past")
    func utcDay() {
        #expect(Timestamp(milliseconds: 0).utcDay == 0)
        #expect(Timestamp(milliseconds: 86_399_999).utcDay == 0)
        #expect(Timestamp(milliseconds: 86_400_000).utcDay == 1)
        #expect(Timestamp(milliseconds: -1).utcDay == -1)
        #expect(Timestamp(milliseconds: -86_400_000).utcDay == -1)
        #expect(Timestamp(milliseconds: -86_400_001).utcDay == -2)
        #expect(Timestamp(seconds: 1_672_903_800).utcDay == 19_362)
    }

    @Test(
        "parses dates, times and epoch milliseconds",
        arguments: [
            ("2023-01-05", Int64(1_672_876_800_000)),
            ("2023-01-05T07:30", 1_672_903_800_000),
            ("2023-01-05T07:30Z", 1_672_903_800_000),
            ("2023-01-05T07:30:00Z", 1_672_903_800_000),
            ("2023-01-05T07:30:00+00:00", 1_672_903_800_000),
            ("2023-01-05T07:30:00", 1_672_903_800_000),
            ("2023-01-05T07:30:00.250Z", 1_672_903_800_250),
            ("2023-01-05T07:30:00.25Z", 1_672_903_800_250),
            ("2023-01-05T07:30:00.5Z", 1_672_903_800_500),
            ("2023-01-05T07:30:59.999Z", 1_672_903_859_999),
            ("2024-02-29", 1_709_164_800_000),
            ("2000-02-29", 951_782_400_000),
            ("1969-12-31T23:59:59.999Z", -1),
            ("1672903800000", 1_672_903_800_000),
            ("0", 0),
            ("-1000", -1_000),
        ])
    func parses(text: String, milliseconds: Int64) {
        #expect(Timestamp(parsing: text) == Timestamp(milliseconds: milliseconds))
    }

    @Test(
        "rejects malformed or impossible dates and times",
        arguments: [
            "2023-02-30", "2023-02-29", "1900-02-29", "2023-04-31", "2023-13-01", "2023-00-10", "2023-01-00", "2023-01-32",
            "2023-1-05", "23-01-05", "2023/01/05", "2023-01-05T", "2023-01-05T24:00", "2023-01-05T07:60",
            "2023-01-05T07:30:60Z", "2023-01-05T7:30", "2023-01-05T07:30:00.1234Z", "2023-01-05T07:30:00.Z",
            "2023-01-05T07:30:00+01:00", "2023-01-05T07:30:00-05:00", "2023-01-05 07:30:00", "", "yesterday", "2023-01-05TZ",
            "2023-01-05T07:30:00:00", "1.5e12",
        ])
    func rejects(text: String) {
        #expect(Timestamp(parsing: text) == nil, "\(text) should not parse")
    }

    /// Signs inside date and time fields are accepted by `Int64.init` and slip through:
    /// `"2023-01-05T-1:30"` is read as one hour before the day starts.
    @Test(
        "rejects signed date and time fields",
        arguments: [
            "2023-+1-05", "2023-01-+5", "2023-01-05T-1:30", "2023-01-05T07:-1", "2023-01-05T07:30:-1Z",
            "2023-01-05T07:30:00.-5Z", "2023-01-05T07:30:00.+5Z",
        ])
    func rejectsSignedFields(text: String) {
        #expect(Timestamp(parsing: text) == nil, "\(text) parsed as \(Timestamp(parsing: text)?.iso8601 ?? "")")
    }

    @Test("ISO 8601 round-trips for any millisecond in ±300 years (seeded)")
    func roundTrip() {
        var rng = SplitMix64(seed: 0x5EED_0201)
        let bound: Int64 = 300 * 365 * 86_400_000
        for _ in 0..<5_000 {
            var ms = Int64.random(in: -bound...bound, using: &rng)
            if Bool.random(using: &rng) { ms = ms / 1000 * 1000 }
            let stamp = Timestamp(milliseconds: ms)
            #expect(Timestamp(parsing: stamp.iso8601) == stamp, "\(ms) → \(stamp.iso8601)")
            #expect(stamp.iso8601.count == (ms % 1000 == 0 ? 20 : 24))
        }
    }

    @Test("civil calendar conversions agree both ways")
    func civilCalendar() {
        for days in stride(from: Int64(-200_000), through: 200_000, by: 37) {
            let (year, month, day) = CivilCalendar.civil(fromDays: days)
            #expect(CivilCalendar.days(fromCivil: year, month, day) == days)
            #expect((1...CivilCalendar.daysIn(month: month, year: year)).contains(day))
        }
        #expect(CivilCalendar.daysIn(month: 2, year: 2024) == 29)
        #expect(CivilCalendar.daysIn(month: 2, year: 2100) == 28)
        #expect(CivilCalendar.daysIn(month: 2, year: 2000) == 29)
        #expect(CivilCalendar.daysIn(month: 11, year: 2023) == 30)
    }

    @Test("timestamp arithmetic with spans")
    func arithmetic() {
        let t = Timestamp(milliseconds: 1_688_486_400_000)
        #expect(t + .hours(8) == Timestamp(milliseconds: 1_688_515_200_000))
        #expect(t - .days(1) == Timestamp(milliseconds: 1_688_400_000_000))
        #expect(Timestamp(milliseconds: 1_688_515_200_001) - t == TimeSpan(milliseconds: 28_800_001))
        #expect(t < t + TimeSpan(milliseconds: 1))
        #expect(Timestamp(seconds: 1_640_995_200) == Timestamp(milliseconds: 1_640_995_200_000))
        #expect(3 * TimeSpan.hours(8) == .days(1))
        #expect(TimeSpan.days(30).days == 30)
        #expect(TimeSpan.minutes(90).hours == 1.5)
    }

    @Test(
        "TimeSpan parses a positive integer and a unit",
        arguments: [
            ("30d", Int64(2_592_000_000)),
            ("7d", 604_800_000),
            ("5m", 300_000),
            ("1h", 3_600_000),
            ("12h", 43_200_000),
            ("90s", 90_000),
            ("250ms", 250),
            ("2w", 1_209_600_000),
            ("1m", 60_000),
            ("1s", 1_000),
        ])
    func parsesSpan(text: String, milliseconds: Int64) {
        #expect(TimeSpan(parsing: text) == TimeSpan(milliseconds: milliseconds))
    }

    @Test(
        "TimeSpan rejects zero, negative, missing numbers and unknown units",
        arguments: [
            "0d", "-1d", "d", "7x", "", "ms", "1.5h", "1 h", "h1", "1hs", "1D", "0ms", "-5m", "9223372036854775807w",
        ])
    func rejectsSpan(text: String) {
        #expect(TimeSpan(parsing: text) == nil, "\(text) should not parse")
    }

    @Test(
        "TimeSpan prints its shortest exact form, which parses back",
        arguments: [
            (TimeSpan.days(30), "30d"),
            (.minutes(5), "5m"),
            (.hours(36), "36h"),
            (TimeSpan(milliseconds: 1_500), "1500ms"),
            (.days(14), "14d"),
            (.seconds(90), "90s"),
            (.hours(8), "8h"),
            (TimeSpan(milliseconds: 250), "250ms"),
        ])
    func spanDescription(span: TimeSpan, text: String) {
        #expect(span.description == text)
        #expect(TimeSpan(parsing: text) == span)
    }
}
