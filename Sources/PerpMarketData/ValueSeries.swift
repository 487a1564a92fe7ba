import PerpModel

/// Reads a time series of plain values (staked NMR, tournament activity, sentiment): CSV with a
/// header holding a time column (`time`, `time_ms`, `timestamp_ms` or `open_time_ms`: epoch ms, epoch
/// seconds or ISO 8601) and a `value` column. These are statistics, read as `Double`.
public enum ValueSeriesCSV {
    public static func parse(_ bytes: [UInt8], source: String) throws(MarketDataError) -> [(time: Int64, value: Double)] {
        try bytes.withUnsafeBufferPointer { (buffer) throws(MarketDataError) -> [(time: Int64, value: Double)] in
            try InputLimits.check(buffer, source: source)
            var reader = CSVReader(buffer: buffer)
            guard let header = reader.header() else { throw .empty(source: source) }
            let names = header.map { $0.lowercased() }
            let timeIndex = ["time", "time_ms", "timestamp_ms", "open_time_ms"].lazy.compactMap { names.firstIndex(of: $0) }.first
            let valueIndex = names.firstIndex(of: "value")
            guard let timeIndex, let valueIndex else {
                var missing: [String] = []
                if timeIndex == nil { missing.append("time") }
                if valueIndex == nil { missing.append("value") }
                throw .missingColumns(source: source, missing: missing, found: header)
            }
            var starts = [Int](repeating: 0, count: header.count + 1)
            var ends = [Int](repeating: 0, count: header.count + 1)
            var points: [(time: Int64, value: Double)] = []
            while let count = reader.nextRow(starts: &starts, ends: &ends, limit: header.count + 1) {
                let line = reader.line
                if count == 1, starts[0] == ends[0] { continue }
                guard count == header.count else { throw .wrongFieldCount(source: source, row: line, expected: header.count, found: count) }
                let time = try CandleCSV.timeValue(buffer, starts[timeIndex], ends[timeIndex], column: "time", source: source, row: line)
                let field = text(buffer, starts[valueIndex], ends[valueIndex])
                guard let value = Double(field), value.isFinite else {
                    throw .badValue(source: source, row: line, column: "value", value: field, expected: "a finite number")
                }
                if let last = points.last, time <= last.time {
                    throw time == last.time
                        ? .duplicate(source: source, row: line, time: Timestamp(milliseconds: time).iso8601)
                        : .outOfOrder(
                            source: source, row: line, time: Timestamp(milliseconds: time).iso8601,
                            previous: Timestamp(milliseconds: last.time).iso8601)
                }
                points.append((time, value))
            }
            guard !points.isEmpty else { throw .empty(source: source) }
            return points
        }
    }
}
