import PerpModel

/// Reads funding histories. Every rate is stored signed as the venue quotes it (positive: longs
/// pay shorts) with the interval it covers.
public enum FundingFormats {
    public static let timeColumns = ["funding_time_ms", "timestamp_ms", "time"]
    public static let rateColumns = ["funding_rate", "rate"]

    /// CSV with a header: time in `funding_time_ms`, `timestamp_ms` or `time`; rate (a fraction per
    /// interval) in `funding_rate` or `rate`; optional `interval_hours`. Without that column each
    /// row's interval is inferred from the spacing of settlements (``inferIntervals``), because
    /// venues change a symbol's interval over time (Binance NMRUSDT went from 8 h to 4 h).
    public static func parseCSV(_ bytes: [UInt8], source: String, defaultInterval: TimeSpan = .hours(8)) throws(MarketDataError)
        -> [FundingRate]
    {
        try bytes.withUnsafeBufferPointer { (buffer) throws(MarketDataError) -> [FundingRate] in
            try InputLimits.check(buffer, source: source)
            var reader = CSVReader(buffer: buffer)
            guard let header = reader.header() else { throw .empty(source: source) }
            let names = header.map { $0.lowercased() }
            let timeIndex = timeColumns.lazy.compactMap { names.firstIndex(of: $0) }.first
            let rateIndex = rateColumns.lazy.compactMap { names.firstIndex(of: $0) }.first
            guard let timeIndex, let rateIndex else {
                var missing: [String] = []
                if timeIndex == nil { missing.append("funding_time_ms (or timestamp_ms, time)") }
                if rateIndex == nil { missing.append("funding_rate (or rate)") }
                throw .missingColumns(source: source, missing: missing, found: header)
            }
            let intervalIndex = names.firstIndex(of: "interval_hours")
            var starts = [Int](repeating: 0, count: header.count + 1)
            var ends = [Int](repeating: 0, count: header.count + 1)
            var times: [Int64] = []
            var rates: [Rate] = []
            var intervals: [TimeSpan?] = []
            while let count = reader.nextRow(starts: &starts, ends: &ends, limit: header.count + 1) {
                let line = reader.line
                if count == 1, starts[0] == ends[0] { continue }
                guard count == header.count else { throw .wrongFieldCount(source: source, row: line, expected: header.count, found: count) }
                let time = try CandleCSV.timeValue(
                    buffer, starts[timeIndex], ends[timeIndex], column: names[timeIndex] == "time" ? "time" : names[timeIndex],
                    source: source, row: line)
                guard let raw = DecimalParser.parse(buffer, from: starts[rateIndex], to: ends[rateIndex], decimals: Rate.decimals) else {
                    throw .badValue(
                        source: source, row: line, column: names[rateIndex], value: text(buffer, starts[rateIndex], ends[rateIndex]),
                        expected: "a decimal fraction such as 0.0001")
                }
                guard Rate(raw: raw).isWithin(CarryLimit.rate) else {
                    throw .beyondLimit(
                        source: source, row: line, column: names[rateIndex], value: text(buffer, starts[rateIndex], ends[rateIndex]),
                        limit: "the largest funding rate the tool carries (±1, 100 % per interval)")
                }
                var interval: TimeSpan?
                if let intervalIndex {
                    let field = text(buffer, starts[intervalIndex], ends[intervalIndex])
                    guard let hours = Quantity(field), hours.isPositive, hours <= Quantity(24 * 366) else {
                        throw .badValue(
                            source: source, row: line, column: "interval_hours", value: field,
                            expected: "a positive number of hours, at most a year")
                    }
                    interval = TimeSpan(milliseconds: FixedMath.mulDiv(hours.raw, 3_600_000, Quantity.scale, .toNearestOrEven))
                }
                try checkOrder(time, previous: times.last, source: source, row: line)
                times.append(time)
                rates.append(Rate(raw: raw))
                intervals.append(interval)
            }
            guard !times.isEmpty else { throw .empty(source: source) }
            let inferred = inferIntervals(times, default: defaultInterval)
            return times.indices.map {
                FundingRate(time: Timestamp(milliseconds: times[$0]), rate: rates[$0], interval: intervals[$0] ?? inferred[$0])
            }
        }
    }

    /// Binance USD-M `GET /fapi/v1/fundingRate`: `[{"symbol","fundingTime","fundingRate","markPrice"}]`.
    public static func parseBinance(_ json: JSONValue, source: String, defaultInterval: TimeSpan = .hours(8)) throws(MarketDataError)
        -> [FundingRate]
    {
        guard let rows = json.arrayValue else { throw .unrecognisedFormat(source: source, detail: "expected a JSON array of funding rows") }
        var times: [Int64] = []
        var rates: [Rate] = []
        for (index, row) in rows.enumerated() {
            guard let time = row["fundingTime"]?.int64Value else {
                throw .badValue(
                    source: source, row: index + 1, column: "fundingTime", value: String(describing: row["fundingTime"]),
                    expected: "epoch milliseconds")
            }
            guard let text = row["fundingRate"]?.numericText, let rate = Rate(text) else {
                throw .badValue(
                    source: source, row: index + 1, column: "fundingRate", value: row["fundingRate"]?.numericText ?? "missing",
                    expected: "a decimal fraction")
            }
            guard rate.isWithin(CarryLimit.rate) else {
                throw .beyondLimit(
                    source: source, row: index + 1, column: "fundingRate", value: text,
                    limit: "the largest funding rate the tool carries (±1, 100 % per interval)")
            }
            try checkOrder(time, previous: times.last, source: source, row: index + 1)
            times.append(time)
            rates.append(rate)
        }
        guard !times.isEmpty else { throw .empty(source: source) }
        let intervals = inferIntervals(times, default: defaultInterval)
        return times.indices.map { FundingRate(time: Timestamp(milliseconds: times[$0]), rate: rates[$0], interval: intervals[$0]) }
    }

    /// Lighter `GET /api/v1/fundings`: `{"resolution":"1h","fundings":[{"timestamp","value","rate","direction"}]}`.
    ///
    /// Lighter's `rate` is a percentage per hour without a sign, and `direction` names the side
    /// that pays (docs/venues.md §1): the signed fraction is `±rate / 100`, `+` when `"long"`.
    /// `timestamp` is in epoch seconds.
    public static func parseLighter(_ json: JSONValue, source: String) throws(MarketDataError) -> [FundingRate] {
        guard let rows = json["fundings"]?.arrayValue else {
            throw .unrecognisedFormat(source: source, detail: "expected an object with a \"fundings\" array (Lighter GET /api/v1/fundings)")
        }
        let resolution = json["resolution"]?.stringValue.flatMap { TimeSpan(parsing: $0) } ?? .hours(1)
        var result: [FundingRate] = []
        for (index, row) in rows.enumerated() {
            guard let seconds = row["timestamp"]?.int64Value else {
                throw .badValue(
                    source: source, row: index + 1, column: "timestamp", value: row["timestamp"]?.numericText ?? "missing",
                    expected: "epoch seconds")
            }
            guard let text = row["rate"]?.numericText, let percent = Rate(text) else {
                throw .badValue(
                    source: source, row: index + 1, column: "rate", value: row["rate"]?.numericText ?? "missing",
                    expected: "a decimal percentage")
            }
            let direction = row["direction"]?.stringValue ?? "long"
            guard direction == "long" || direction == "short" else {
                throw .badValue(source: source, row: index + 1, column: "direction", value: direction, expected: "\"long\" or \"short\"")
            }
            let fraction = Rate(raw: Int64(FixedMath.divide(Int128(percent.magnitude.raw), 100, .toNearestOrEven)))
            guard fraction.isWithin(CarryLimit.rate) else {
                throw .beyondLimit(
                    source: source, row: index + 1, column: "rate", value: text,
                    limit: "the largest funding rate the tool carries (100 % per interval)")
            }
            guard seconds >= 0, seconds < 100_000_000_000 else {
                throw .badValue(source: source, row: index + 1, column: "timestamp", value: String(seconds), expected: "epoch seconds")
            }
            let time = seconds * 1000
            try checkOrder(time, previous: result.last?.time.milliseconds, source: source, row: index + 1)
            result.append(
                FundingRate(time: Timestamp(milliseconds: time), rate: direction == "long" ? fraction : -fraction, interval: resolution))
        }
        guard !result.isEmpty else { throw .empty(source: source) }
        return result
    }

    /// Each settlement's interval, from the spacing of settlement times rounded to whole hours
    /// (Binance times carry millisecond jitter such as …200001): the gap since the previous
    /// settlement — the period the rate covers — unless that gap is longer than the one before
    /// it (a missing row, or a switch to a longer interval), in which case the smaller of the
    /// gaps on either side. The first row takes the gap to the second; a lone row `default`.
    /// So at a switch from 8 h to 4 h the settlement closing the last 8 h period keeps 8 h.
    public static func inferIntervals(_ times: [Int64], default fallback: TimeSpan) -> [TimeSpan] {
        guard times.count >= 2 else { return times.map { _ in fallback } }
        let hour: Int64 = 3_600_000
        func rounded(_ ms: Int64) -> TimeSpan { TimeSpan(milliseconds: max(1, (ms + hour / 2) / hour) * hour) }
        return times.indices.map { index in
            let after = index + 1 < times.count ? times[index + 1] - times[index] : Int64.max
            guard index > 0 else { return rounded(after) }
            let before = times[index] - times[index - 1]
            if index >= 2, rounded(before) > rounded(times[index - 1] - times[index - 2]) {
                return rounded(min(before, after))
            }
            return rounded(before)
        }
    }

    static func checkOrder(_ time: Int64, previous: Int64?, source: String, row: Int) throws(MarketDataError) {
        guard let previous, time <= previous else { return }
        if time == previous { throw .duplicate(source: source, row: row, time: Timestamp(milliseconds: time).iso8601) }
        throw .outOfOrder(
            source: source, row: row, time: Timestamp(milliseconds: time).iso8601, previous: Timestamp(milliseconds: previous).iso8601)
    }
}

/// Lighter's two funding readings in one unit (issue 13; lighter-live.md addendum "Funding
/// units"): `GET /api/v1/fundings` rows are read as **percent per hour** (unsigned, with the
/// paying side), `GET /api/v1/funding-rates` gives a **fraction per 8 hours**. If the first
/// reading were wrong, the two would disagree by a round factor (100 for a percent read as a
/// fraction, 8 or 24 for a wrong interval), which is what this looks for. Rates move between
/// settlements, so values merely differing is not a unit error.
public enum LighterFundingUnits {
    public enum Verdict: Sendable, Equatable {
        /// The snapshot is within ×3 of the newest row converted to a fraction per 8 h.
        case consistent(ratio: Double)
        /// The snapshot is near `factor` times the newest row (or 1/`factor`): the units
        /// reading is wrong.
        case factor(Double, ratio: Double)
        /// Not enough to judge (a zero rate, no snapshot, a ratio near no known factor).
        case inconclusive(String)
    }

    /// The round factors a units mistake would produce.
    static let suspectFactors: [Double] = [8, 24, 100, 800, 2400]

    /// - Parameters:
    ///   - newest: the newest `fundings` row as parsed (a signed fraction per hour).
    ///   - snapshot: the `funding-rates` value for the market (a fraction per 8 h), as printed.
    public static func check(newest: FundingRate?, snapshot: Double?) -> Verdict {
        guard let newest else { return .inconclusive("no fundings row to compare") }
        guard let snapshot, snapshot.isFinite else { return .inconclusive("no funding-rates value for the market") }
        let per8h = abs(newest.rate.doubleValue) * 8
        guard per8h > 0, snapshot != 0 else { return .inconclusive("a zero rate cannot show a factor") }
        let ratio = abs(snapshot) / per8h
        if ratio >= 1.0 / 3.0 && ratio <= 3 { return .consistent(ratio: ratio) }
        for factor in suspectFactors {
            for candidate in [factor, 1 / factor] where ratio / candidate >= 1 / 1.5 && ratio / candidate <= 1.5 {
                return .factor(factor, ratio: ratio)
            }
        }
        return .inconclusive("the values differ by ×\(formatDouble(ratio, significant: 3)), near no units factor (rates move)")
    }

    /// One line for a person: what was compared and what it means.
    public static func describe(_ verdict: Verdict, newest: FundingRate?, snapshot: Double?) -> String {
        let row = newest.map { "newest fundings row \($0.rate) per hour (\($0.time.iso8601))" } ?? "no fundings row"
        let snap = snapshot.map { "funding-rates \(formatDouble($0)) per 8 h" } ?? "no funding-rates value"
        switch verdict {
        case .consistent(let ratio):
            return "funding units agree: \(row) vs \(snap) (×\(formatDouble(ratio, significant: 3))): fundings.rate is percent per hour"
        case .factor(let factor, let ratio):
            return
                "FUNDING UNITS DISAGREE by a factor of about \(formatDouble(factor, significant: 3)) (×\(formatDouble(ratio, significant: 3))): \(row) vs \(snap). Funding costs from Lighter's history are wrong by that factor until the reading is fixed"
        case .inconclusive(let reason):
            return "funding units not confirmed (\(reason)): \(row) vs \(snap)"
        }
    }
}
