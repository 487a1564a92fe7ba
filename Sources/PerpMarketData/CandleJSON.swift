import PerpModel

/// Reads candles from venue JSON.
public enum CandleJSON {
    /// Binance `GET /api/v3/klines` (and `/fapi/v1/klines`): an array of arrays
    /// `[openTime, "open", "high", "low", "close", "volume", closeTime, …]`.
    public static func parseBinance(_ json: JSONValue, source: String) throws(MarketDataError) -> CandleSeries {
        guard let rows = json.arrayValue else { throw .unrecognisedFormat(source: source, detail: "expected a JSON array of kline arrays") }
        var builder = CandleBuilder(source: source)
        for (index, row) in rows.enumerated() {
            guard let fields = row.arrayValue, fields.count >= 6 else {
                throw .unrecognisedFormat(source: source, detail: "element \(index + 1) is not a kline array of at least 6 fields")
            }
            guard let time = fields[0].int64Value else {
                throw .badValue(
                    source: source, row: index + 1, column: "openTime", value: fields[0].numericText ?? "?", expected: "epoch milliseconds")
            }
            try builder.append(
                row: index + 1, time: time, open: fields[1].numericText, high: fields[2].numericText, low: fields[3].numericText,
                close: fields[4].numericText, volume: fields[5].numericText)
        }
        return try builder.finish()
    }

    /// Lighter `GET /api/v1/candles`: `{"r":"1m","c":[{"t":ms,"o","h","l","c","v",…}]}` (numbers
    /// or strings; Lighter omits zero values), and the older `candlesticks` form
    /// `{"candlesticks":[{"timestamp","open","high","low","close","volume0"}]}`.
    public static func parseLighter(_ json: JSONValue, source: String) throws(MarketDataError) -> CandleSeries {
        var builder = CandleBuilder(source: source)
        if let rows = json["c"]?.arrayValue {
            for (index, row) in rows.enumerated() {
                guard let time = row["t"]?.int64Value else {
                    throw .badValue(
                        source: source, row: index + 1, column: "t", value: row["t"]?.numericText ?? "missing",
                        expected: "epoch milliseconds")
                }
                try builder.append(
                    row: index + 1, time: time, open: row["o"]?.numericText, high: row["h"]?.numericText, low: row["l"]?.numericText,
                    close: row["c"]?.numericText, volume: row["v"]?.numericText ?? "0")
            }
        } else if let rows = json["candlesticks"]?.arrayValue {
            for (index, row) in rows.enumerated() {
                guard var time = row["timestamp"]?.int64Value, time >= 0 else {
                    throw .badValue(
                        source: source, row: index + 1, column: "timestamp", value: row["timestamp"]?.numericText ?? "missing",
                        expected: "epoch time")
                }
                if time < 100_000_000_000 { time *= 1000 }
                try builder.append(
                    row: index + 1, time: time, open: row["open"]?.numericText, high: row["high"]?.numericText,
                    low: row["low"]?.numericText,
                    close: row["close"]?.numericText, volume: row["volume0"]?.numericText ?? "0")
            }
        } else {
            throw .unrecognisedFormat(source: source, detail: "expected Lighter candles: an object with a \"c\" or \"candlesticks\" array")
        }
        return try builder.finish()
    }
}

/// Validates bars one at a time (the same rules as ``CandleCSV``) and builds a series.
public struct CandleBuilder {
    public let source: String
    private var series = CandleSeries()

    public init(source: String) { self.source = source }

    public mutating func append(row: Int, time: Int64, open: String?, high: String?, low: String?, close: String?, volume: String?)
        throws(MarketDataError)
    {
        func price(_ value: String?, _ name: String) throws(MarketDataError) -> Price {
            guard let value, let price = Price(value) else {
                throw .badValue(source: source, row: row, column: name, value: value ?? "missing", expected: "a decimal number")
            }
            guard price.isPositive else { throw .nonPositivePrice(source: source, row: row, column: name, value: value) }
            guard price <= CarryLimit.price else {
                throw .beyondLimit(
                    source: source, row: row, column: name, value: value,
                    limit: "the highest price the tool carries (\(CarryLimit.price) USDC per NMR)")
            }
            return price
        }
        let o = try price(open, "open")
        let h = try price(high, "high")
        let l = try price(low, "low")
        let c = try price(close, "close")
        guard h >= l else { throw .highBelowLow(source: source, row: row, high: h.description, low: l.description) }
        guard o >= l, o <= h, c >= l, c <= h else {
            throw .outsideRange(source: source, row: row, detail: "open \(o) and close \(c) must lie between low \(l) and high \(h)")
        }
        guard let volumeText = volume, let v = Quantity(volumeText), !v.isNegative else {
            throw .badValue(
                source: source, row: row, column: "volume", value: volume ?? "missing", expected: "a non-negative decimal number")
        }
        guard Timestamp.representable.contains(time) else {
            throw .badValue(
                source: source, row: row, column: "time", value: String(time),
                expected: "epoch milliseconds between the years 0001 and 9999")
        }
        if let last = series.openTimes.last, time <= last {
            if time == last { throw .duplicate(source: source, row: row, time: Timestamp(milliseconds: time).iso8601) }
            throw .outOfOrder(
                source: source, row: row, time: Timestamp(milliseconds: time).iso8601, previous: Timestamp(milliseconds: last).iso8601)
        }
        series.append(Candle(openTime: Timestamp(milliseconds: time), open: o, high: h, low: l, close: c, volume: v))
    }

    public func finish() throws(MarketDataError) -> CandleSeries {
        guard !series.isEmpty else { throw .empty(source: source) }
        return series
    }

    /// The bars so far (possibly empty).
    public var partial: CandleSeries { series }
}
