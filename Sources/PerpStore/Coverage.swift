import GRDB
import PerpModel

extension MarketDataStore {
    /// Marks `[from, to)` of the `kind` series of `key` as fetched completely, merging it with
    /// every stored range it overlaps or touches. An empty range (`from == to`) changes nothing.
    ///
    /// - Throws: ``StoreError/invalidRange(from:to:)`` when `from` is after `to`,
    ///   ``StoreError/invalidKey(_:reason:)``, or a database error.
    public func recordCoverage(
        of kind: SeriesKind, key: SeriesKey, from: Timestamp, to: Timestamp
    ) throws(StoreError) {
        let range = TimeRange(from: from, to: to)
        try Self.validate(key)
        try Self.validate(range)
        try write("recording \(kind) coverage \(range) of \(key)") { db in
            try Self.mergeCoverage(db, kind, key, range)
        }
    }

    /// The parts of `[from, to)` not yet fetched for the `kind` series of `key`, in time order,
    /// as maximal non-empty ranges: what a fetcher still has to request. Empty when everything
    /// is covered or `from == to`.
    ///
    /// - Throws: ``StoreError/invalidRange(from:to:)`` when `from` is after `to`, or a
    ///   database error.
    public func missingRanges(
        of kind: SeriesKind, key: SeriesKey, from: Timestamp, to: Timestamp
    ) throws(StoreError) -> [TimeRange] {
        let wanted = TimeRange(from: from, to: to)
        try Self.validate(wanted)
        if wanted.isEmpty { return [] }
        let covered = try read("reading \(kind) coverage of \(key)") { db in
            try Self.coverage(db, kind, key, overlapping: wanted)
        }
        var missing: [TimeRange] = []
        var cursor = from
        for range in covered {
            if range.from > cursor { missing.append(TimeRange(from: cursor, to: range.from)) }
            cursor = max(cursor, range.to)
        }
        if cursor < to { missing.append(TimeRange(from: cursor, to: to)) }
        return missing
    }

    /// Every range recorded as fetched for the `kind` series of `key`, in time order; ranges
    /// never overlap or touch.
    public func coveredRanges(of kind: SeriesKind, key: SeriesKey) throws(StoreError) -> [TimeRange] {
        try read("reading \(kind) coverage of \(key)") { db in
            try Self.coverage(db, kind, key, overlapping: nil)
        }
    }

    /// Stored ranges of a series that overlap `range` (all of them when `nil`), by start.
    static func coverage(
        _ db: Database, _ kind: SeriesKind, _ key: SeriesKey, overlapping range: TimeRange?
    ) throws -> [TimeRange] {
        guard let id = try seriesID(db, kind, key) else { return [] }
        var sql = "SELECT from_ms, to_ms FROM coverage WHERE series_id = ?"
        var arguments: StatementArguments = [id]
        if let range {
            sql += " AND from_ms < ? AND to_ms > ?"
            arguments += [range.to.milliseconds, range.from.milliseconds]
        }
        sql += " ORDER BY from_ms"
        return try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).map { row in
            TimeRange(from: Timestamp(milliseconds: row[0]), to: Timestamp(milliseconds: row[1]))
        }
    }

    /// Adds `range` to a series' coverage inside the caller's transaction, replacing the
    /// stored ranges it overlaps or touches by their union with it.
    static func mergeCoverage(
        _ db: Database, _ kind: SeriesKind, _ key: SeriesKey, _ range: TimeRange
    ) throws {
        guard !range.isEmpty else { return }
        let id = try ensureSeriesID(db, kind, key)
        // Overlapping or adjacent: from_ms ≤ range.to and to_ms ≥ range.from.
        let arguments: StatementArguments = [id, range.to.milliseconds, range.from.milliseconds]
        let touching = try Row.fetchAll(
            db.cachedStatement(
                sql:
                    "SELECT from_ms, to_ms FROM coverage WHERE series_id = ? AND from_ms <= ? AND to_ms >= ?"
            ),
            arguments: arguments)
        var lower = range.from.milliseconds
        var upper = range.to.milliseconds
        for row in touching {
            lower = min(lower, row[0])
            upper = max(upper, row[1])
        }
        try db.cachedStatement(
            sql: "DELETE FROM coverage WHERE series_id = ? AND from_ms <= ? AND to_ms >= ?"
        ).execute(arguments: arguments)
        try db.cachedStatement(
            sql: "INSERT INTO coverage (series_id, from_ms, to_ms) VALUES (?, ?, ?)"
        ).execute(arguments: [id, lower, upper])
    }
}
