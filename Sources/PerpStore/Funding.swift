import GRDB
import PerpModel

extension MarketDataStore {
    /// Saves `rates` under `key`, replacing any stored settlement at the same time (the last
    /// one wins when `rates` repeats a time). Coverage is unchanged: use
    /// ``saveFundingPage(_:key:covering:)`` for fetched pages.
    ///
    /// - Throws: ``StoreError/invalidKey(_:reason:)``, ``StoreError/invalidFunding(_:index:time:reason:)``
    ///   (nothing is written), or a database error (nothing is written).
    public func saveFunding(_ rates: [FundingRate], key: SeriesKey) throws(StoreError) {
        try Self.validate(key)
        try Self.validate(rates, key: key)
        try write("saving funding (\(rates.count) rates) of \(key)") { db in
            try Self.insert(rates, key: key, db)
        }
    }

    /// Saves one fetched page of funding rates and marks `covering` as fetched, in one
    /// transaction: after a failure neither the rates nor the coverage are stored. An empty
    /// page records that `covering` has no settlements.
    ///
    /// - Throws: as ``saveFunding(_:key:)``, and ``StoreError/invalidRange(from:to:)``.
    public func saveFundingPage(
        _ rates: [FundingRate], key: SeriesKey, covering: TimeRange
    ) throws(StoreError) {
        try Self.validate(key)
        try Self.validate(covering)
        try Self.validate(rates, key: key)
        try write("saving a funding page (\(rates.count) rates) of \(key) covering \(covering)") {
            db in
            try Self.insert(rates, key: key, db)
            try Self.mergeCoverage(db, .funding, key, covering)
        }
    }

    /// The stored settlements of `key` with `from ≤ time < to`, in time order (a `nil` bound
    /// is open). Empty when nothing is stored.
    public func loadFunding(
        key: SeriesKey, from: Timestamp?, to: Timestamp?
    ) throws(StoreError) -> [FundingRate] {
        try read("loading funding rates of \(key)") { db in
            guard let id = try Self.seriesID(db, .funding, key) else { return [] }
            var sql = "SELECT time_ms, rate_raw, interval_ms FROM funding WHERE series_id = ?"
            var arguments: StatementArguments = [id]
            if let from {
                sql += " AND time_ms >= ?"
                arguments += [from.milliseconds]
            }
            if let to {
                sql += " AND time_ms < ?"
                arguments += [to.milliseconds]
            }
            sql += " ORDER BY time_ms"
            var rates: [FundingRate] = []
            let rows = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: arguments)
            while let row = try rows.next() {
                rates.append(
                    FundingRate(
                        time: Timestamp(milliseconds: row[0]), rate: Rate(raw: row[1]),
                        interval: TimeSpan(milliseconds: row[2])))
            }
            return rates
        }
    }

    static func insert(_ rates: [FundingRate], key: SeriesKey, _ db: Database) throws {
        guard !rates.isEmpty else { return }
        let id = try ensureSeriesID(db, .funding, key)
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO funding (series_id, time_ms, rate_raw, interval_ms)
                VALUES (?, ?, ?, ?)
                ON CONFLICT (series_id, time_ms) DO UPDATE SET
                    rate_raw = excluded.rate_raw, interval_ms = excluded.interval_ms
                """)
        for rate in rates {
            try statement.execute(arguments: [
                id, rate.time.milliseconds, rate.rate.raw, rate.interval.milliseconds,
            ])
        }
    }

    static func validate(_ rates: [FundingRate], key: SeriesKey) throws(StoreError) {
        for (index, rate) in rates.enumerated() where rate.interval.milliseconds <= 0 {
            throw .invalidFunding(
                key, index: index, time: rate.time,
                reason: "interval must be positive, got \(rate.interval)")
        }
    }
}
