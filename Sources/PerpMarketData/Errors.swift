import PerpModel

/// Why market data could not be read. Every case names the source (a file path or an endpoint)
/// and, where there is one, the 1-based line or element, so the user knows what to fix.
public enum MarketDataError: Error, Equatable, CustomStringConvertible {
    case empty(source: String)
    case missingColumns(source: String, missing: [String], found: [String])
    case badValue(source: String, row: Int, column: String, value: String, expected: String)
    case nonPositivePrice(source: String, row: Int, column: String, value: String)
    /// A value beyond what the tool carries (``CarryLimit``): `limit` names the bound.
    case beyondLimit(source: String, row: Int, column: String, value: String, limit: String)
    case highBelowLow(source: String, row: Int, high: String, low: String)
    case outsideRange(source: String, row: Int, detail: String)
    case outOfOrder(source: String, row: Int, time: String, previous: String)
    case duplicate(source: String, row: Int, time: String)
    case wrongFieldCount(source: String, row: Int, expected: Int, found: Int)
    case unrecognisedFormat(source: String, detail: String)
    case invalidJSON(source: String, detail: String)
    /// A line longer than `limit` bytes (``InputLimits/maxLineBytes``): not a data file.
    case lineTooLong(source: String, row: Int, limit: Int)
    /// A NUL byte: a binary file, not text.
    case binary(source: String, row: Int)

    public var description: String {
        switch self {
        case .empty(let source):
            return "\(source): no data rows"
        case .missingColumns(let source, let missing, let found):
            let names = found.prefix(12).map { InputLimits.excerpt($0) } + (found.count > 12 ? ["… (\(found.count) columns)"] : [])
            var header = names.joined(separator: ", ")
            if header.count > 200 { header = String(header.prefix(200)) + "… (\(found.count) columns)" }
            return "\(source): missing column(s) \(missing.joined(separator: ", ")); the header has \(header)"
        case .badValue(let source, let row, let column, let value, let expected):
            return "\(source):\(row): \(column) is \"\(InputLimits.excerpt(value))\", expected \(expected)"
        case .nonPositivePrice(let source, let row, let column, let value):
            return "\(source):\(row): \(column) is \(InputLimits.excerpt(value)); prices must be greater than zero"
        case .beyondLimit(let source, let row, let column, let value, let limit):
            return "\(source):\(row): \(column) \(InputLimits.excerpt(value)) is beyond \(limit); check the file's units and this row"
        case .highBelowLow(let source, let row, let high, let low):
            return "\(source):\(row): high \(InputLimits.excerpt(high)) is below low \(InputLimits.excerpt(low))"
        case .outsideRange(let source, let row, let detail):
            return "\(source):\(row): \(detail)"
        case .outOfOrder(let source, let row, let time, let previous):
            return "\(source):\(row): time \(time) is before the previous row's \(previous); sort the file by time"
        case .duplicate(let source, let row, let time):
            return "\(source):\(row): a second row for \(time); remove the duplicate"
        case .wrongFieldCount(let source, let row, let expected, let found):
            return "\(source):\(row): \(found) fields, the header has \(expected)"
        case .unrecognisedFormat(let source, let detail):
            return "\(source): \(detail)"
        case .invalidJSON(let source, let detail):
            return "\(source): \(detail)"
        case .lineTooLong(let source, let row, let limit):
            return "\(source):\(row): a line longer than \(limit / 1024) KiB; this is not a CSV data file"
        case .binary(let source, let row):
            return "\(source):\(row): a NUL byte; this is a binary file, not CSV or JSON text"
        }
    }
}

/// A hole in a bar series: bars expected between `after` and `before` are absent.
public struct DataGap: Hashable, Sendable {
    /// Open time of the last bar before the gap.
    public var after: Timestamp
    /// Open time of the first bar after the gap.
    public var before: Timestamp
    /// How many bars of the series' interval are missing.
    public var missingBars: Int64

    public init(after: Timestamp, before: Timestamp, missingBars: Int64) {
        self.after = after
        self.before = before
        self.missingBars = missingBars
    }
}

extension CandleSeries {
    /// Every place where consecutive bars are further apart than the series' bar interval
    /// (reported, never bridged: spec §1).
    public func gaps() -> [DataGap] {
        guard let interval = barInterval?.milliseconds else { return [] }
        var result: [DataGap] = []
        for index in 1..<count {
            let difference = openTimes[index] - openTimes[index - 1]
            if difference > interval {
                result.append(
                    DataGap(
                        after: Timestamp(milliseconds: openTimes[index - 1]), before: Timestamp(milliseconds: openTimes[index]),
                        missingBars: difference / interval - 1))
            }
        }
        return result
    }
}
