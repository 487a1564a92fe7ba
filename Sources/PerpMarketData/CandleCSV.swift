import PerpModel

/// Reads candles from CSV text with a header row (the layout of shared/data/SOURCES.md).
///
/// Columns are found by name (case-insensitive): the time in `open_time_ms`, `timestamp_ms` or
/// `time` (epoch milliseconds; in `time` also epoch seconds below 10^11 or ISO 8601), then
/// `open`, `high`, `low`, `close`, and `volume` (optional, zero when absent). Other columns are
/// ignored. Prices parse exactly to 8 decimals. Rows must be strictly increasing in time; prices
/// positive, finite and at most ``CarryLimit/price``; `high ≥ low`. Errors name the source and line.
public enum CandleCSV {
    public static let timeColumns = ["open_time_ms", "timestamp_ms", "time"]

    public static func parse(_ bytes: [UInt8], source: String) throws(MarketDataError) -> CandleSeries {
        try bytes.withUnsafeBufferPointer { (buffer) throws(MarketDataError) -> CandleSeries in
            try parse(buffer, source: source)
        }
    }

    public static func parse(_ buffer: UnsafeBufferPointer<UInt8>, source: String) throws(MarketDataError) -> CandleSeries {
        try InputLimits.check(buffer, source: source)
        var reader = CSVReader(buffer: buffer)
        guard let header = reader.header() else { throw .empty(source: source) }
        var parser = try CandleCSVParser(header: header, source: source, expectedRows: buffer.count / 48)
        parser.line = reader.line
        try parser.consume(UnsafeBufferPointer(rebasing: buffer[min(reader.position, buffer.count)...]))
        return try parser.finish()
    }

    static func timeValue(_ buffer: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, column: String, source: String, row: Int)
        throws(MarketDataError) -> Int64
    {
        if let integer = parseInteger(buffer, start, end), Timestamp.representable.contains(integer) {
            // A `time` column may hold epoch seconds: anything in [0, 10^11) is read as seconds
            // (10^11 ms is 1973; 10^11 s is the year 5138).
            if column == "time", integer >= 0, integer < 100_000_000_000 { return integer * 1000 }
            return integer
        }
        if column == "time", let stamp = Timestamp(parsing: text(buffer, start, end)), Timestamp.representable.contains(stamp.milliseconds)
        {
            return stamp.milliseconds
        }
        throw .badValue(
            source: source, row: row, column: column, value: text(buffer, start, end),
            expected: column == "time" ? "epoch milliseconds, epoch seconds or an ISO 8601 UTC time" : "epoch milliseconds")
    }

    @inline(__always)
    static func parseInteger(_ buffer: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int64? {
        guard start < end, end - start <= 18 else { return nil }
        var value: Int64 = 0
        var index = start
        let negative = buffer[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < end else { return nil }
        while index < end {
            let byte = buffer[index]
            guard byte >= 48, byte <= 57 else { return nil }
            value = value * 10 + Int64(byte - 48)
            index += 1
        }
        return negative ? -value : value
    }
}

/// The single-pass parser for ordinary rows: each field is scanned once and its digits
/// accumulated as they are read. It accepts only unsigned plain decimals (at most 18
/// significant digits and 8 decimals) and integer times; it returns `nil` for anything else,
/// and the general path then reads the row (and reports what is wrong with it).
enum FastRow {
    static let skip: UInt8 = 0
    static let time: UInt8 = 1
    static let open: UInt8 = 2
    static let high: UInt8 = 3
    static let low: UInt8 = 4
    static let close: UInt8 = 5
    static let volume: UInt8 = 6

    /// Parses the row at `from`; on success stores (time, open, high, low, close, volume) and
    /// returns the position after the row's newline.
    @inline(__always)
    static func parse(
        _ buffer: UnsafeBufferPointer<UInt8>, from: Int, roles: UnsafeBufferPointer<UInt8>,
        into values: inout (Int64, Int64, Int64, Int64, Int64, Int64)
    ) -> Int? {
        guard let base = buffer.baseAddress else { return nil }
        let count = buffer.count
        var index = from
        guard index < count else { return nil }
        let last = roles.count - 1
        for column in 0...last {
            let role = roles[column]
            if role == skip {
                while index < count {
                    let byte = base[index]
                    if byte == 44 || byte == 10 { break }
                    if byte == 34 { return nil }
                    index += 1
                }
            } else {
                var mantissa: UInt64 = 0
                var digits = 0
                var fraction = -1
                while index < count {
                    let byte = base[index]
                    let digit = byte &- 48
                    if digit < 10 {
                        mantissa = mantissa &* 10 &+ UInt64(digit)
                        digits += 1
                        if fraction >= 0 { fraction += 1 }
                    } else if byte == 46, fraction < 0, role != time {
                        fraction = 0
                    } else {
                        break
                    }
                    index += 1
                }
                guard digits > 0, digits <= 18, fraction != 0, fraction <= 8 else { return nil }
                let scaled: Int64
                if role == time {
                    // Integer milliseconds (or seconds), as read.
                } else if digits - max(fraction, 0) > 10 {
                    return nil  // ≥ 10^10 would not fit at 8 decimals: the general path says so
                }
                if role == time {
                    scaled = Int64(mantissa)
                } else {
                    scaled = Int64(mantissa) &* FixedMath.pow10[8 - max(fraction, 0)]
                }
                switch role {
                case time: values.0 = scaled
                case open: values.1 = scaled
                case high: values.2 = scaled
                case low: values.3 = scaled
                case close: values.4 = scaled
                default: values.5 = scaled
                }
            }
            // The field must end here: a comma between fields, a newline (or end) after the last.
            if column < last {
                guard index < count, base[index] == 44 else { return nil }
                index += 1
            } else {
                if index == count { return count }
                if base[index] == 10 { return index + 1 }
                if base[index] == 13, index + 1 < count, base[index + 1] == 10 { return index + 2 }
                return nil
            }
        }
        return nil
    }

    /// The start of the line that ends just before `next`.
    static func lineStart(_ buffer: UnsafeBufferPointer<UInt8>, before next: Int) -> Int {
        var index = next - 1
        if index >= 0, index < buffer.count, buffer[index] == 10 { index -= 1 }
        while index >= 0, buffer[index] != 10 { index -= 1 }
        return index + 1
    }
}

/// The state of a CSV candle read, so that a large file can be parsed in chunks of whole lines
/// (memory stays near the size of the bars, not of the file).
struct CandleCSVParser {
    let source: String
    let timeIndex: Int
    let timeName: String
    let open: Int
    let high: Int
    let low: Int
    let close: Int
    let volume: Int?
    let columnCount: Int
    var roles: [UInt8]
    let secondsAllowed: Bool
    var times: [Int64] = []
    var opens: [Int64] = []
    var highs: [Int64] = []
    var lows: [Int64] = []
    var closes: [Int64] = []
    var volumes: [Int64] = []
    var previous = Int64.min
    /// 1-based number of the last line read.
    var line = 0

    init(header: [String], source: String, expectedRows: Int) throws(MarketDataError) {
        self.source = source
        let timeColumns = CandleCSV.timeColumns
        let names = header.map { $0.lowercased() }
        guard let timeIndex = timeColumns.lazy.compactMap({ names.firstIndex(of: $0) }).first else {
            throw .missingColumns(
                source: source,
                missing: ["open_time_ms (or timestamp_ms, time)"] + ["open", "high", "low", "close"].filter { !names.contains($0) },
                found: header)
        }
        timeName = names[timeIndex]
        let required = ["open", "high", "low", "close"]
        let missing = required.filter { !names.contains($0) }
        guard missing.isEmpty else { throw .missingColumns(source: source, missing: missing, found: header) }
        self.timeIndex = timeIndex
        open = names.firstIndex(of: "open")!
        high = names.firstIndex(of: "high")!
        low = names.firstIndex(of: "low")!
        close = names.firstIndex(of: "close")!
        volume = names.firstIndex(of: "volume")
        columnCount = header.count
        let estimate = expectedRows
        times.reserveCapacity(estimate)
        opens.reserveCapacity(estimate)
        highs.reserveCapacity(estimate)
        lows.reserveCapacity(estimate)
        closes.reserveCapacity(estimate)
        volumes.reserveCapacity(estimate)

        // Roles of the columns for the single-pass fast path.
        roles = [UInt8](repeating: FastRow.skip, count: columnCount)
        roles[timeIndex] = FastRow.time
        roles[open] = FastRow.open
        roles[high] = FastRow.high
        roles[low] = FastRow.low
        roles[close] = FastRow.close
        if let volume { roles[volume] = FastRow.volume }
        secondsAllowed = timeName == "time"
    }

    /// Parses complete lines (the buffer must end at a line end, or at the end of the file).
    mutating func consume(_ buffer: UnsafeBufferPointer<UInt8>) throws(MarketDataError) {
        var reader = CSVReader(buffer: buffer)
        reader.line = line
        defer { line = reader.line }
        let starts = UnsafeMutableBufferPointer<Int>.allocate(capacity: columnCount + 1)
        let ends = UnsafeMutableBufferPointer<Int>.allocate(capacity: columnCount + 1)
        defer {
            starts.deallocate()
            ends.deallocate()
        }
        let (timeIndex, open, high, low, close, volume, columnCount, timeName, source) = (
            self.timeIndex, self.open, self.high, self.low, self.close, self.volume, self.columnCount, self.timeName, self.source
        )
        var values = (Int64(0), Int64(0), Int64(0), Int64(0), Int64(0), Int64(0))
        while true {
            // Fast path: plain digits in every used field; anything else takes the general path
            // below for this row, which also produces the precise error.
            if let next = roles.withUnsafeBufferPointer({ FastRow.parse(buffer, from: reader.position, roles: $0, into: &values) }) {
                reader.line += 1
                reader.position = next
                var (t, o, h, l, c, v) = values
                if secondsAllowed, t < 100_000_000_000 { t *= 1000 }
                if o > 0, l > 0, c > 0, h >= l, o >= l, o <= h, c >= l, c <= h, h <= CarryLimit.price.raw, t > previous,
                    t <= Timestamp.representable.upperBound
                {
                    previous = t
                    times.append(t)
                    opens.append(o)
                    highs.append(h)
                    lows.append(l)
                    closes.append(c)
                    volumes.append(v)
                    continue
                }
                // A value the fast path read but that breaks a rule: re-read the row below.
                reader.line -= 1
                reader.position = FastRow.lineStart(buffer, before: next)
            }
            guard let fieldCount = reader.nextRow(starts: starts, ends: ends, limit: columnCount + 1) else { break }
            let line = reader.line
            if fieldCount == 1, starts[0] == ends[0] { continue }  // blank line
            guard fieldCount == columnCount else {
                throw .wrongFieldCount(source: source, row: line, expected: columnCount, found: fieldCount)
            }
            let time = try CandleCSV.timeValue(buffer, starts[timeIndex], ends[timeIndex], column: timeName, source: source, row: line)
            func price(_ column: Int, _ name: String) throws(MarketDataError) -> Int64 {
                guard let value = DecimalParser.parse(buffer, from: starts[column], to: ends[column], decimals: Price.decimals) else {
                    throw .badValue(
                        source: source, row: line, column: name, value: text(buffer, starts[column], ends[column]),
                        expected: "a decimal number")
                }
                guard value > 0 else {
                    throw .nonPositivePrice(source: source, row: line, column: name, value: text(buffer, starts[column], ends[column]))
                }
                guard value <= CarryLimit.price.raw else {
                    throw .beyondLimit(
                        source: source, row: line, column: name, value: text(buffer, starts[column], ends[column]),
                        limit: "the highest price the tool carries (\(CarryLimit.price) USDC per NMR)")
                }
                return value
            }
            let o = try price(open, "open")
            let h = try price(high, "high")
            let l = try price(low, "low")
            let c = try price(close, "close")
            guard h >= l else {
                throw .highBelowLow(
                    source: source, row: line, high: text(buffer, starts[high], ends[high]), low: text(buffer, starts[low], ends[low]))
            }
            guard o >= l, o <= h, c >= l, c <= h else {
                throw .outsideRange(
                    source: source, row: line,
                    detail:
                        "open \(text(buffer, starts[open], ends[open])) and close \(text(buffer, starts[close], ends[close])) must lie between low \(text(buffer, starts[low], ends[low])) and high \(text(buffer, starts[high], ends[high]))"
                )
            }
            var v: Int64 = 0
            if let volume {
                guard let parsed = DecimalParser.parse(buffer, from: starts[volume], to: ends[volume], decimals: Quantity.decimals),
                    parsed >= 0
                else {
                    throw .badValue(
                        source: source, row: line, column: "volume", value: text(buffer, starts[volume], ends[volume]),
                        expected: "a non-negative decimal number")
                }
                v = parsed
            }
            if time <= previous {
                if time == previous {
                    throw .duplicate(source: source, row: line, time: Timestamp(milliseconds: time).iso8601)
                }
                throw .outOfOrder(
                    source: source, row: line, time: Timestamp(milliseconds: time).iso8601,
                    previous: Timestamp(milliseconds: previous).iso8601)
            }
            previous = time
            times.append(time)
            opens.append(o)
            highs.append(h)
            lows.append(l)
            closes.append(c)
            volumes.append(v)
        }
    }

    func finish() throws(MarketDataError) -> CandleSeries {
        guard !times.isEmpty else { throw .empty(source: source) }
        return CandleSeries(validatedOpenTimes: times, opens: opens, highs: highs, lows: lows, closes: closes, volumes: volumes)
    }

}

func text(_ buffer: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> String {
    String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<end]), as: UTF8.self)
}

/// A minimal CSV tokenizer over bytes: comma separated, `\n` or `\r\n` line ends, fields may be
/// wrapped in double quotes (no embedded quotes or commas). Allocation-free per row.
struct CSVReader {
    let buffer: UnsafeBufferPointer<UInt8>
    var position = 0
    /// 1-based line number of the row last returned.
    var line = 0

    init(buffer: UnsafeBufferPointer<UInt8>) {
        self.buffer = buffer
        // Skip a UTF-8 byte-order mark.
        if buffer.count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF { position = 3 }
    }

    mutating func header() -> [String]? {
        var starts = [Int](repeating: 0, count: 256)
        var ends = [Int](repeating: 0, count: 256)
        while let count = nextRow(starts: &starts, ends: &ends, limit: 256) {
            if count == 1, starts[0] == ends[0] { continue }
            return (0..<min(count, 256)).map { text(buffer, starts[$0], ends[$0]).trimmingSpaces() }
        }
        return nil
    }

    /// Splits the next line into fields; returns the field count (which may exceed `limit`,
    /// in which case only the first `limit` are recorded), or `nil` at the end of input.
    @inline(__always)
    mutating func nextRow(starts: inout [Int], ends: inout [Int], limit: Int) -> Int? {
        starts.withUnsafeMutableBufferPointer { startBuffer in
            ends.withUnsafeMutableBufferPointer { endBuffer in
                nextRow(starts: startBuffer, ends: endBuffer, limit: limit)
            }
        }
    }

    /// ``nextRow(starts:ends:limit:)`` over caller-owned buffers (the loaders' hot loop).
    @inline(__always)
    mutating func nextRow(starts: UnsafeMutableBufferPointer<Int>, ends: UnsafeMutableBufferPointer<Int>, limit: Int) -> Int? {
        let count = buffer.count
        guard position < count else { return nil }
        line += 1
        var field = 0
        var start = position
        var index = position
        while true {
            if index == count || buffer[index] == 10 || buffer[index] == 44 {
                var end = index
                if end > start, buffer[end - 1] == 13, index == count || buffer[index] == 10 { end -= 1 }
                var s = start
                if end - s >= 2, buffer[s] == 34, buffer[end - 1] == 34 {
                    s += 1
                    end -= 1
                }
                if field < limit {
                    starts[field] = s
                    ends[field] = end
                }
                field += 1
                if index == count || buffer[index] == 10 {
                    position = index + 1
                    return field
                }
                start = index + 1
            }
            index += 1
        }
    }
}

extension String {
    func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while scalars.first == " " || scalars.first == "\t" { scalars = scalars.dropFirst() }
        while scalars.last == " " || scalars.last == "\t" { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
