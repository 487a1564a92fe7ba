import Foundation

/// Generated market data and config files, valid and mutated. Everything is small (tens to a
/// few thousand rows) so a case runs in well under a second on a debug build.
struct DataFiles {
    /// Inputs read once at start: the bot's default YAML and optional slices of real CSVs.
    struct Seeds: Sendable {
        var botYAML: String
        var realCandleSlices: [String]
    }

    static let intervals: [(name: String, ms: Int64)] = [
        ("1m", 60_000), ("5m", 300_000), ("15m", 900_000), ("1h", 3_600_000), ("1d", 86_400_000),
    ]

    /// Values that have broken parsers and arithmetic before: extreme, malformed and boundary.
    static let extremeCells: [String] = [
        "9999999999", "99999999999", "10000000", "1e-8", "0.00000001", "0.000000001", "0", "-0", "-1", "-9999999999",
        "1e308", "-1e308", "1.7976931348623157e308", "4.9e-324", "NaN", "nan", "inf", "-inf", "Infinity", "",
        " ", "abc", "1,5", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
        "92233720368.54775807", "92233720368.54775808", "184467440737.09551615", "99999999999999999999999999999",
        String(repeating: "9", count: 300), "0." + String(repeating: "0", count: 300) + "1", "1e19", "1e-19", "1E+10",
        "+5", ".5", "5.", "0x10", "1_000", "٣", "1e", "e5", "--1", "1..2",
    ]

    static let extremeTimes: [String] = [
        "0", "-1", "1", "9223372036854775807", "-9223372036854775808", "253402300799999", "253402300800000",
        "99999999999999999", "1.5", "1e12", "", "x", "1700000000", "-62135596800001",
    ]

    var seeds: Seeds

    // MARK: - Candles

    struct Bar {
        var time: Int64
        var open: Double
        var high: Double
        var low: Double
        var close: Double
        var volume: Double
    }

    static func bars(_ random: inout Generator, count: Int, start: Int64, interval: Int64) -> [Bar] {
        var price = [0.5, 8, 15, 30, 120][random.below(5)] * (0.8 + 0.4 * random.unit())
        let volatility = [0.001, 0.01, 0.05, 0.3][random.below(4)]
        var bars: [Bar] = []
        bars.reserveCapacity(count)
        for index in 0..<count {
            let open = price
            // An occasional squeeze, the case that matters for a short.
            let jump = random.chance(0.01) ? (random.chance(0.5) ? 2.5 : 0.4) : 1
            let close = max(0.0001, open * jump * (1 + volatility * (random.unit() * 2 - 1)))
            let high = max(open, close) * (1 + volatility * random.unit())
            let low = max(0.00005, min(open, close) * (1 - volatility * random.unit() * 0.9))
            bars.append(
                Bar(time: start + Int64(index) * interval, open: open, high: high, low: low, close: close, volume: 1000 * random.unit()))
            price = close
        }
        return bars
    }

    static func decimal(_ value: Double) -> String { String(format: "%.6f", value) }

    static func candleCSV(_ bars: [Bar], header: String = "open_time_ms,open_time_utc,open,high,low,close,volume") -> String {
        var text = header + "\n"
        let withUTC = header.contains("open_time_utc")
        for bar in bars {
            text += "\(bar.time),"
            if withUTC { text += isoTime(bar.time) + "," }
            text += "\(decimal(bar.open)),\(decimal(bar.high)),\(decimal(bar.low)),\(decimal(bar.close)),\(decimal(bar.volume))\n"
        }
        return text
    }

    static func binanceKlines(_ bars: [Bar], interval: Int64) -> String {
        let rows = bars.map { bar in
            "[\(bar.time),\"\(decimal(bar.open))\",\"\(decimal(bar.high))\",\"\(decimal(bar.low))\",\"\(decimal(bar.close))\","
                + "\"\(decimal(bar.volume))\",\(bar.time + interval - 1),\"0\",10,\"0\",\"0\",\"0\"]"
        }
        return "[" + rows.joined(separator: ",\n") + "]\n"
    }

    static func lighterCandles(_ bars: [Bar]) -> String {
        let rows = bars.map { bar in
            "{\"t\":\(bar.time),\"o\":\(decimal(bar.open)),\"h\":\(decimal(bar.high)),\"l\":\(decimal(bar.low)),"
                + "\"c\":\(decimal(bar.close)),\"v\":\(decimal(bar.volume))}"
        }
        return "{\"r\":\"1m\",\"c\":[" + rows.joined(separator: ",\n") + "]}\n"
    }

    // MARK: - Funding

    static func fundingTimes(start: Int64, end: Int64, every: Int64) -> [Int64] {
        guard every > 0, end > start else { return [start] }
        return Array(stride(from: start - start % every, through: end, by: Int64.Stride(every)).prefix(5000))
    }

    static func fundingCSV(_ random: inout Generator, times: [Int64]) -> String {
        let withInterval = random.chance(0.3)
        var text = withInterval ? "funding_time_ms,funding_rate,interval_hours\n" : "funding_time_ms,funding_rate\n"
        for time in times {
            text += "\(time),\(String(format: "%.8f", (random.unit() - 0.4) * 0.002))"
            text += withInterval ? ",8\n" : "\n"
        }
        return text
    }

    static func binanceFunding(_ random: inout Generator, times: [Int64]) -> String {
        let rows = times.map { time in
            "{\"symbol\":\"NMRUSDT\",\"fundingTime\":\(time),\"fundingRate\":\"\(String(format: "%.8f", (random.unit() - 0.4) * 0.002))\","
                + "\"markPrice\":\"12.5\"}"
        }
        return "[" + rows.joined(separator: ",\n") + "]\n"
    }

    static func lighterFunding(_ random: inout Generator, times: [Int64]) -> String {
        let rows = times.map { time in
            "{\"timestamp\":\(time / 1000),\"value\":\"0.1\",\"rate\":\"\(String(format: "%.4f", random.unit() * 0.05))\","
                + "\"direction\":\"\(random.chance(0.5) ? "long" : "short")\"}"
        }
        return "{\"resolution\":\"1h\",\"fundings\":[" + rows.joined(separator: ",\n") + "]}\n"
    }

    /// A `time,value` series for the bot's signal folder.
    static func valueSeries(_ random: inout Generator, times: [Int64]) -> String {
        var text = "time,value\n"
        var value = 1000 * random.unit()
        for time in times {
            value += (random.unit() - 0.5) * 50
            text += "\(time),\(String(format: "%.3f", value))\n"
        }
        return text
    }

    // MARK: - Mutations

    /// Mutates CSV text: extreme cells and times, duplicate, unsorted or missing rows, headers and
    /// columns removed, truncation, junk bytes, line-ending changes.
    static func mutateCSV(_ text: String, _ random: inout Generator) -> [UInt8] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        var bytesTail: [UInt8]? = nil
        for _ in 0..<random.int(1...3) {
            let dataRange = lines.count > 1 ? 1..<lines.count : 0..<max(lines.count, 1)
            let row = lines.isEmpty ? 0 : random.int(dataRange.lowerBound...(dataRange.upperBound - 1))
            switch random.below(17) {
            case 0, 1, 2:
                // One cell becomes extreme.
                guard !lines.isEmpty else { break }
                var cells = lines[row].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                let column = random.below(max(cells.count, 1))
                if column < cells.count {
                    cells[column] = column == 0 ? random.pick(extremeTimes) : random.pick(extremeCells)
                }
                lines[row] = cells.joined(separator: ",")
            case 3:
                // Every price in one row becomes the same extreme.
                guard !lines.isEmpty else { break }
                var cells = lines[row].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                let value = random.pick(extremeCells)
                for column in cells.indices.dropFirst() where !cells[column].contains("T") { cells[column] = value }
                lines[row] = cells.joined(separator: ",")
            case 4:
                if !lines.isEmpty { lines.insert(lines[row], at: row) }
            case 5:
                if lines.count > 3 { lines.swapAt(row, random.int(1...(lines.count - 1))) }
            case 6:
                if lines.count > 2 { lines = [lines[0]] + lines.dropFirst().reversed() }
            case 7:
                if !lines.isEmpty { lines.removeFirst() }
            case 8:
                // Drop or add a column everywhere.
                let drop = random.chance(0.5)
                let column = random.below(7)
                lines = lines.map { line in
                    var cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                    if drop { if column < cells.count { cells.remove(at: column) } } else { cells.append("extra") }
                    return cells.joined(separator: ",")
                }
            case 9:
                lines = lines.count > 1 ? Array(lines.prefix(random.int(1...2))) : lines
            case 10:
                if !lines.isEmpty { lines.remove(at: row) }
            case 11:
                // Huge gap: the rest of the file jumps far into the future (or the past).
                guard lines.count > 3 else { break }
                let shift: Int64 = random.pick([86_400_000 * 3650, -86_400_000 * 365, 253_402_300_799_000 / 2])
                for index in row..<lines.count {
                    var cells = lines[index].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                    if let time = Int64(cells[0]) {
                        let (moved, overflow) = time.addingReportingOverflow(shift)
                        cells[0] = overflow ? cells[0] : String(moved)
                    }
                    lines[index] = cells.joined(separator: ",")
                }
            case 12:
                lines = lines.map { $0 + "\r" }
            case 13:
                lines = lines.map { " " + $0.replacingOccurrences(of: ",", with: " , ") }
            case 14:
                if !lines.isEmpty { lines[0] = "\u{FEFF}" + lines[0] }
            case 15:
                bytesTail = junk(&random)
            default:
                if !lines.isEmpty { lines[row] = "\"" + lines[row].replacingOccurrences(of: ",", with: "\",\"") + "\"" }
            }
        }
        var bytes = Array((lines.joined(separator: "\n") + (random.chance(0.85) ? "\n" : "")).utf8)
        if let tail = bytesTail { bytes.insert(contentsOf: tail, at: random.below(bytes.count + 1)) }
        if random.chance(0.1), !bytes.isEmpty { bytes = Array(bytes.prefix(random.below(bytes.count))) }
        return bytes
    }

    /// Mutates JSON text: numbers become extreme, bytes flip, truncation, deep nesting.
    static func mutateJSON(_ text: String, _ random: inout Generator) -> [UInt8] {
        var bytes = Array(text.utf8)
        for _ in 0..<random.int(1...3) {
            switch random.below(9) {
            case 0, 1, 2:
                // Replace one number (quoted or not) with an extreme value.
                let digitPositions = bytes.indices.filter {
                    bytes[$0] >= 48 && bytes[$0] <= 57 && ($0 == 0 || !isNumberByte(bytes[$0 - 1]))
                }
                guard let start = digitPositions.isEmpty ? nil : random.pick(digitPositions) else { break }
                var end = start
                while end < bytes.count, isNumberByte(bytes[end]) { end += 1 }
                let replacement = random.pick(extremeCells + extremeTimes)
                let quoted = start > 0 && bytes[start - 1] == UInt8(ascii: "\"")
                let insert = quoted || Double(replacement) != nil && !replacement.isEmpty ? replacement : "\"\(replacement)\""
                bytes.replaceSubrange(start..<end, with: Array(insert.utf8))
            case 3:
                if !bytes.isEmpty { bytes = Array(bytes.prefix(random.below(bytes.count))) }
            case 4:
                if !bytes.isEmpty { bytes[random.below(bytes.count)] ^= UInt8(1 << random.below(8)) }
            case 5:
                let depth = random.pick([100, 10_000, 200_000])
                bytes = Array(String(repeating: "[", count: depth).utf8) + bytes + Array(String(repeating: "]", count: depth).utf8)
            case 6:
                bytes = Array(random.pick(["[]", "{}", "null", "[[]]", "[{}]", "{\"c\":[]}", "{\"fundings\":[]}", "\"\"", "[1e999]"]).utf8)
            case 7:
                bytes.insert(contentsOf: junk(&random), at: random.below(bytes.count + 1))
            default:
                bytes = Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\"", with: "").utf8)
            }
        }
        return bytes
    }

    /// Mutates the bot's YAML: values become extreme or malformed, keys vanish or repeat.
    static func mutateYAML(_ text: String, _ random: inout Generator) -> [UInt8] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let valueLines = lines.indices.filter { index in
            let line = lines[index]
            return !line.trimmingCharacters(in: .whitespaces).hasPrefix("#") && line.contains(": ")
        }
        let yamlValues =
            extremeCells + [
                "106751991167d", "0s", "-5m", "1ms", "9999999999w", "24", "-1", "25", "[]", "{}", "~", "null", "true", "'", "\"",
                "*alias", "&anchor x", "!!binary AAAA", "[1, 2", "0.", "1e-8", "2.5", "100",
            ]
        for _ in 0..<random.int(1...4) {
            switch random.below(8) {
            case 0, 1, 2, 3:
                guard !valueLines.isEmpty else { break }
                let index = random.pick(valueLines)
                let line = lines[index]
                guard let colon = line.range(of: ": ") else { break }
                lines[index] = String(line[..<colon.upperBound]) + random.pick(yamlValues)
            case 4:
                if !valueLines.isEmpty { lines.remove(at: random.pick(valueLines)) }
            case 5:
                if !valueLines.isEmpty { lines.append(lines[random.pick(valueLines)]) }
            case 6:
                lines.append(random.pick(["unknown_key: 1", "weights: 3", "signals:", "  - a", "\t tab: 1", ": x", "a: b: c"]))
            default:
                if !lines.isEmpty {
                    let index = random.below(lines.count)
                    lines[index] = "  " + lines[index]
                }
            }
        }
        var bytes = Array(lines.joined(separator: "\n").utf8)
        if random.chance(0.1) { bytes = Array(bytes.prefix(random.below(bytes.count + 1))) }
        if random.chance(0.05) { bytes.insert(contentsOf: junk(&random), at: random.below(bytes.count + 1)) }
        return bytes
    }

    static func junk(_ random: inout Generator) -> [UInt8] {
        (0..<random.int(1...64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }

    private static func isNumberByte(_ byte: UInt8) -> Bool {
        (byte >= 48 && byte <= 57) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "-")
    }

    // MARK: - Time

    /// `2023-01-05T07:30:00Z` for epoch milliseconds (proleptic Gregorian, UTC).
    static func isoTime(_ ms: Int64) -> String {
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return String(
            format: "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ", year, month, day, secondOfDay / 3600, secondOfDay % 3600 / 60,
            secondOfDay % 60)
    }
}
