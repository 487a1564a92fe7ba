import GRDB
import PerpModel

extension MarketDataStore {
    /// Saves `series` under `key`, replacing any stored bar with the same open time.
    /// Coverage is unchanged: use ``saveCandlesPage(_:key:covering:)`` for fetched pages.
    ///
    /// - Throws: ``StoreError/invalidKey(_:reason:)``, ``StoreError/invalidCandle(_:index:openTime:reason:)``
    ///   (nothing is written), or a database error (nothing is written).
    public func saveCandles(_ series: CandleSeries, key: SeriesKey) throws(StoreError) {
        try Self.validate(key)
        try Self.validate(series, key: key)
        try write("saving candles (\(series.count) bars) of \(key)") { db in
            try Self.insert(series, key: key, db)
        }
    }

    /// Saves one fetched page and marks `covering` as fetched, in one transaction: after a
    /// failure neither the bars nor the coverage are stored. An empty `series` records a venue
    /// gap, so that `covering` is not requested again.
    ///
    /// - Throws: as ``saveCandles(_:key:)``, and ``StoreError/invalidRange(from:to:)``.
    public func saveCandlesPage(
        _ series: CandleSeries, key: SeriesKey, covering: TimeRange
    ) throws(StoreError) {
        try Self.validate(key)
        try Self.validate(covering)
        try Self.validate(series, key: key)
        try write("saving a candle page (\(series.count) bars) of \(key) covering \(covering)") {
            db in
            try Self.insert(series, key: key, db)
            try Self.mergeCoverage(db, .candles, key, covering)
        }
    }

    /// The stored bars of `key` with `from ≤ openTime < to`, in time order (a `nil` bound is
    /// open). Empty when nothing is stored.
    public func loadCandles(
        key: SeriesKey, from: Timestamp?, to: Timestamp?
    ) throws(StoreError) -> CandleSeries {
        try read("loading candles of \(key)") { db in
            guard let id = try Self.seriesID(db, .candles, key) else { return CandleSeries() }
            var sql = """
                SELECT open_time_ms, open_raw, high_raw, low_raw, close_raw, volume_raw
                FROM candle WHERE series_id = ?
                """
            var arguments: StatementArguments = [id]
            if let from {
                sql += " AND open_time_ms >= ?"
                arguments += [from.milliseconds]
            }
            if let to {
                sql += " AND open_time_ms < ?"
                arguments += [to.milliseconds]
            }
            sql += " ORDER BY open_time_ms"
            var times: [Int64] = []
            var opens: [Int64] = []
            var highs: [Int64] = []
            var lows: [Int64] = []
            var closes: [Int64] = []
            var volumes: [Int64] = []
            let rows = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: arguments)
            while let row = try rows.next() {
                times.append(row[0])
                opens.append(row[1])
                highs.append(row[2])
                lows.append(row[3])
                closes.append(row[4])
                volumes.append(row[5])
            }
            // The primary key makes times unique and ORDER BY makes them increasing; the
            // table's CHECK constraints hold the price rules.
            return CandleSeries(
                validatedOpenTimes: times, opens: opens, highs: highs, lows: lows, closes: closes,
                volumes: volumes)
        }
    }

    static func insert(_ series: CandleSeries, key: SeriesKey, _ db: Database) throws {
        guard !series.isEmpty else { return }
        let id = try ensureSeriesID(db, .candles, key)
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO candle
                    (series_id, open_time_ms, open_raw, high_raw, low_raw, close_raw, volume_raw)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (series_id, open_time_ms) DO UPDATE SET
                    open_raw = excluded.open_raw, high_raw = excluded.high_raw,
                    low_raw = excluded.low_raw, close_raw = excluded.close_raw,
                    volume_raw = excluded.volume_raw
                """)
        for index in 0..<series.count {
            try statement.execute(arguments: [
                id, series.openTimes[index], series.opens[index], series.highs[index],
                series.lows[index], series.closes[index], series.volumes[index],
            ])
        }
    }

    /// Checks the invariants ``CandleSeries`` documents, so that a bad bar is reported with
    /// its position rather than as an SQLite constraint failure.
    static func validate(_ series: CandleSeries, key: SeriesKey) throws(StoreError) {
        for index in 0..<series.count {
            let time = series.openTimes[index]
            let open = series.opens[index]
            let high = series.highs[index]
            let low = series.lows[index]
            let close = series.closes[index]
            var problem: String?
            if index > 0, time <= series.openTimes[index - 1] {
                problem = "open time not after the previous bar's"
            } else if low <= 0 {
                problem = "non-positive price"
            } else if low > high {
                problem = "low \(Price(raw: low)) above high \(Price(raw: high))"
            } else if open < low || open > high {
                problem = "open \(Price(raw: open)) outside [low, high]"
            } else if close < low || close > high {
                problem = "close \(Price(raw: close)) outside [low, high]"
            } else if series.volumes[index] < 0 {
                problem = "negative volume"
            }
            if let problem {
                throw .invalidCandle(
                    key, index: index, openTime: Timestamp(milliseconds: time), reason: problem)
            }
        }
    }
}
