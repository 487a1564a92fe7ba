/// Time as data: events carry a ``Timestamp``; nothing in the core reads a clock.

/// A point in time: milliseconds since 1970-01-01T00:00:00Z (UTC, no leap seconds), the unit
/// every venue we speak uses for bar open times and funding times.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var milliseconds: Int64
    @inlinable public init(milliseconds: Int64) { self.milliseconds = milliseconds }
    public init(seconds: Int64) { self.milliseconds = seconds * 1000 }

    /// Times that data files may carry: years 0001 to 9999, what ISO 8601 can print.
    public static let representable: ClosedRange<Int64> = -62_135_596_800_000...253_402_300_799_999

    @inlinable public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.milliseconds < rhs.milliseconds }
    /// `lhs + rhs`. Traps when the sum leaves `Int64`, which a ``representable`` time and a span
    /// within ``CarryLimit/span`` never do (the sum stays within about 2.6 × 10¹⁴ ms); use
    /// ``adding(_:)`` or ``saturatingAdding(_:)`` where either side comes unchecked from input.
    @inlinable public static func + (lhs: Timestamp, rhs: TimeSpan) -> Timestamp {
        Timestamp(milliseconds: lhs.milliseconds + rhs.milliseconds)
    }
    @inlinable public static func - (lhs: Timestamp, rhs: TimeSpan) -> Timestamp {
        Timestamp(milliseconds: lhs.milliseconds - rhs.milliseconds)
    }
    @inlinable public static func - (lhs: Timestamp, rhs: Timestamp) -> TimeSpan {
        TimeSpan(milliseconds: lhs.milliseconds - rhs.milliseconds)
    }

    /// `self + span`, or `nil` when the sum leaves ``representable``.
    @inlinable public func adding(_ span: TimeSpan) -> Timestamp? {
        let (sum, overflow) = milliseconds.addingReportingOverflow(span.milliseconds)
        guard !overflow, Self.representable.contains(sum) else { return nil }
        return Timestamp(milliseconds: sum)
    }

    /// `self − span`, or `nil` when the difference leaves ``representable``.
    @inlinable public func subtracting(_ span: TimeSpan) -> Timestamp? {
        let (difference, overflow) = milliseconds.subtractingReportingOverflow(span.milliseconds)
        guard !overflow, Self.representable.contains(difference) else { return nil }
        return Timestamp(milliseconds: difference)
    }

    /// `self + span`, held at the ends of `Int64` instead of trapping: for deadlines ("halted
    /// until"), where a time past every representable one means "never" and compares as such.
    @inlinable public func saturatingAdding(_ span: TimeSpan) -> Timestamp {
        let (sum, overflow) = milliseconds.addingReportingOverflow(span.milliseconds)
        guard overflow else { return Timestamp(milliseconds: sum) }
        return Timestamp(milliseconds: span.milliseconds > 0 ? .max : .min)
    }

    /// The UTC day this instant falls in, as days since 1970-01-01.
    public var utcDay: Int64 { milliseconds >= 0 ? milliseconds / 86_400_000 : (milliseconds - 86_399_999) / 86_400_000 }

    /// ISO 8601 in UTC: `2023-01-05T07:30:00Z`, with `.SSS` when the milliseconds are not zero.
    public var iso8601: String {
        let day = utcDay
        let msOfDay = milliseconds - day * 86_400_000
        let (year, month, dayOfMonth) = CivilCalendar.civil(fromDays: day)
        let hours = msOfDay / 3_600_000
        let minutes = msOfDay / 60_000 % 60
        let seconds = msOfDay / 1000 % 60
        let millis = msOfDay % 1000
        var text = pad(year, 4) + "-" + pad(month, 2) + "-" + pad(dayOfMonth, 2)
        text += "T" + pad(hours, 2) + ":" + pad(minutes, 2) + ":" + pad(seconds, 2)
        if millis != 0 { text += "." + pad(millis, 3) }
        return text + "Z"
    }

    /// The calendar date in UTC, `2023-01-05`.
    public var isoDate: String { String(iso8601.prefix(10)) }

    public var description: String { iso8601 }

    /// Parses `2023-01-05`, `2023-01-05T07:30`, `2023-01-05T07:30:00Z`, `…T07:30:00.250Z`
    /// (UTC; a `Z` or `+00:00` suffix is accepted, other offsets are not), or a plain integer of
    /// epoch milliseconds. Returns `nil` for anything else, and for a time outside
    /// ``representable`` (years 0001 to 9999), so a parsed time plus any span within
    /// ``CarryLimit/span`` never overflows.
    public init?(parsing text: String) {
        let unsigned = text.hasPrefix("-") ? Substring(text.dropFirst()) : Substring(text)
        if !unsigned.isEmpty, unsigned.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
            guard let ms = Int64(text), Self.representable.contains(ms) else { return nil }
            self.init(milliseconds: ms)
            return
        }
        // Every numeric field below must be plain digits (no signs).
        func number(_ field: Substring) -> Int64? {
            guard !field.isEmpty, field.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
            return Int64(field)
        }
        var body = Substring(text)
        if body.hasSuffix("Z") { body = body.dropLast() } else if body.hasSuffix("+00:00") { body = body.dropLast(6) }
        let parts = body.split(separator: "T", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2 else { return nil }
        let date = parts[0].split(separator: "-", omittingEmptySubsequences: false)
        guard date.count == 3, date[0].count == 4, date[1].count == 2, date[2].count == 2,
            let year = number(date[0]), let month = number(date[1]), let dom = number(date[2]),
            (1...12).contains(month), (1...CivilCalendar.daysIn(month: month, year: year)).contains(dom)
        else { return nil }
        var ms = CivilCalendar.days(fromCivil: year, month, dom) * 86_400_000
        if parts.count == 2 {
            let time = parts[1].split(separator: ":", omittingEmptySubsequences: false)
            guard time.count == 2 || time.count == 3, time[0].count == 2, time[1].count == 2,
                let hh = number(time[0]), let mm = number(time[1]), hh < 24, mm < 60
            else { return nil }
            ms += hh * 3_600_000 + mm * 60_000
            if time.count == 3 {
                let secParts = time[2].split(separator: ".", omittingEmptySubsequences: false)
                guard secParts[0].count == 2, let ss = number(secParts[0]), ss < 60, secParts.count <= 2 else { return nil }
                ms += ss * 1000
                if secParts.count == 2 {
                    let frac = secParts[1]
                    guard (1...3).contains(frac.count), let f = number(frac) else { return nil }
                    ms += f * FixedMath.pow10[3 - frac.count]
                }
            }
        }
        // Year 0000 is the only four-digit year before the range.
        guard Self.representable.contains(ms) else { return nil }
        self.init(milliseconds: ms)
    }
}

@inline(__always)
private func pad(_ value: Int64, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}

/// Proleptic Gregorian calendar conversions (Howard Hinnant's `days_from_civil`).
public enum CivilCalendar {
    public static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, m, d)
    }

    public static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

/// A length of time in milliseconds: a window `H`, a step `S`, a funding interval.
public struct TimeSpan: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var milliseconds: Int64
    @inlinable public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static func seconds(_ n: Int64) -> TimeSpan { TimeSpan(milliseconds: n * 1000) }
    public static func minutes(_ n: Int64) -> TimeSpan { TimeSpan(milliseconds: n * 60_000) }
    public static func hours(_ n: Int64) -> TimeSpan { TimeSpan(milliseconds: n * 3_600_000) }
    public static func days(_ n: Int64) -> TimeSpan { TimeSpan(milliseconds: n * 86_400_000) }

    @inlinable public static func < (lhs: TimeSpan, rhs: TimeSpan) -> Bool { lhs.milliseconds < rhs.milliseconds }
    @inlinable public static func * (lhs: Int64, rhs: TimeSpan) -> TimeSpan { TimeSpan(milliseconds: lhs * rhs.milliseconds) }

    /// Parses `30d`, `7d`, `12h`, `5m`, `90s`, `250ms`, `2w` (a positive integer and a unit) up
    /// to ``CarryLimit/span`` (100 years). Returns `nil` for anything else; ``parse(_:atMost:)``
    /// says why.
    public init?(parsing text: String) {
        guard case .success(let span) = Self.parse(text) else { return nil }
        self = span
    }

    /// Why a text is not a length ``parse(_:atMost:)`` accepts.
    public enum ParseError: Error, Equatable, Sendable {
        /// Not a whole number and a unit (`30d`, `12h`, `5m`, `90s`, `250ms`, `2w`).
        case notALength
        /// A number and a unit, but zero or negative.
        case notPositive
        /// Longer than `limit` (the number may not even fit in 64 bits of milliseconds).
        case tooLong(limit: TimeSpan)
    }

    /// Parses a positive length of at most `limit` (``CarryLimit/span`` unless told), with the
    /// reason when the text is refused. The multiplication by the unit is checked: a count whose
    /// milliseconds leave `Int64` (`106751991168d`, `9999999999999999999ms`) is ``ParseError/tooLong(limit:)``, never a trap.
    public static func parse(_ text: String, atMost limit: TimeSpan = CarryLimit.span) -> Result<TimeSpan, ParseError> {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000), ("w", 604_800_000)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            let digits = text.dropLast(suffix.count)
            let unsigned = digits.hasPrefix("-") || digits.hasPrefix("+") ? digits.dropFirst() : digits
            // Plain digits only (an optional sign): `Int64` also takes `+5`, not `5 ` or `0x5`.
            guard !unsigned.isEmpty, unsigned.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return .failure(.notALength) }
            if digits.hasPrefix("-") || unsigned.utf8.allSatisfy({ $0 == 48 }) { return .failure(.notPositive) }
            // Too many digits for `Int64` is a length far beyond any limit.
            guard let count = Int64(unsigned) else { return .failure(.tooLong(limit: limit)) }
            let (ms, overflow) = count.multipliedReportingOverflow(by: factor)
            guard !overflow, ms <= limit.milliseconds else { return .failure(.tooLong(limit: limit)) }
            return .success(TimeSpan(milliseconds: ms))
        }
        return .failure(.notALength)
    }

    /// The limit in words for messages: `100 years (36525d)`, or the span itself when it is not
    /// a whole number of years.
    public var inYears: String {
        let year = Int64(36_525) * 86_400_000 / 100
        guard milliseconds > 0, milliseconds % year == 0 else { return description }
        let years = milliseconds / year
        return "\(years) year\(years == 1 ? "" : "s") (\(description))"
    }

    /// The shortest exact form: `30d`, `5m`, `36h`, `1500ms`.
    public var description: String {
        for (suffix, factor) in [("w", Int64(604_800_000)), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)]
        where milliseconds != 0 && milliseconds % factor == 0 && suffix != "w" {
            return "\(milliseconds / factor)\(suffix)"
        }
        return "\(milliseconds)ms"
    }

    public var days: Double { Double(milliseconds) / 86_400_000 }
    public var hours: Double { Double(milliseconds) / 3_600_000 }
}
