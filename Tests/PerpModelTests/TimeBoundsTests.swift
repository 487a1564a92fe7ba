import PerpModel
import Testing

/// Issue 11: lengths and times from input never overflow, and say why they are refused.
@Suite struct TimeBoundsTests {
    @Test(
        "lengths beyond 100 years, or beyond Int64 milliseconds, are refused as too long, never trapping",
        arguments: [
            "106751991167d", "106751991168d", "9999999999999999999ms", "99999999999999999999999d", "9223372036854775807w",
            "36526d", "5219w", "876601h", "3155760000001ms",
        ])
    func tooLong(text: String) {
        #expect(TimeSpan(parsing: text) == nil, "\(text) should not parse")
        #expect(TimeSpan.parse(text) == .failure(.tooLong(limit: CarryLimit.span)), "\(text)")
    }

    @Test("the longest length accepted is CarryLimit.span, 100 years", arguments: ["36525d", "876600h", "3155760000000ms"])
    func atTheLimit(text: String) {
        #expect(TimeSpan(parsing: text) == CarryLimit.span)
        #expect(CarryLimit.span.inYears == "100 years (36525d)")
    }

    @Test("zero and negative lengths are not positive; malformed text is not a length")
    func reasons() {
        for text in ["0d", "-1d", "00h", "-106751991167d", "-0ms"] {
            #expect(TimeSpan.parse(text) == .failure(.notPositive), "\(text)")
        }
        for text in ["d", "1.5h", "1 h", " 1h", "0x10s", "1e3s", "", "+d", "--1d", "1hs"] {
            #expect(TimeSpan.parse(text) == .failure(.notALength), "\(text)")
        }
        #expect(TimeSpan.parse("+5m") == .success(.minutes(5)))
        #expect(TimeSpan.parse("2d", atMost: .days(1)) == .failure(.tooLong(limit: .days(1))))
        #expect(TimeSpan.days(1).inYears == "1d")
    }

    @Test(
        "times outside years 0001 to 9999 are refused, whether epoch milliseconds or dates",
        arguments: [
            "9999999999999999999", "-9999999999999999999", "9223372036854775807", "-9223372036854775808", "253402300800000",
            "-62135596800001", "0000-12-31", "0000-01-01T00:00:00Z",
        ])
    func unrepresentable(text: String) {
        #expect(Timestamp(parsing: text) == nil, "\(text) should not parse")
    }

    @Test("the ends of the representable range parse")
    func ends() {
        #expect(Timestamp(parsing: "253402300799999") == Timestamp(milliseconds: Timestamp.representable.upperBound))
        #expect(Timestamp(parsing: "9999-12-31T23:59:59.999Z") == Timestamp(milliseconds: Timestamp.representable.upperBound))
        #expect(Timestamp(parsing: "0001-01-01") == Timestamp(milliseconds: Timestamp.representable.lowerBound))
    }

    @Test("checked and saturating time arithmetic")
    func arithmetic() {
        let last = Timestamp(milliseconds: Timestamp.representable.upperBound)
        let first = Timestamp(milliseconds: Timestamp.representable.lowerBound)
        #expect(last.adding(TimeSpan(milliseconds: 1)) == nil)
        #expect(last.adding(TimeSpan(milliseconds: .max)) == nil)
        #expect(first.subtracting(TimeSpan(milliseconds: 1)) == nil)
        #expect(first.subtracting(TimeSpan(milliseconds: .max)) == nil)
        #expect(Timestamp(milliseconds: 0).adding(.days(1)) == Timestamp(milliseconds: 86_400_000))
        #expect(Timestamp(milliseconds: 0).subtracting(.days(1)) == Timestamp(milliseconds: -86_400_000))
        #expect(last.saturatingAdding(TimeSpan(milliseconds: .max)) == Timestamp(milliseconds: .max))
        #expect(first.saturatingAdding(TimeSpan(milliseconds: .min)) == Timestamp(milliseconds: .min))
        // A representable time plus a span within the limit never needs the checks.
        #expect(last + CarryLimit.span > last)
        #expect(first - CarryLimit.span < first)
    }
}
