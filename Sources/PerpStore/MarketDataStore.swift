import Foundation
import GRDB
import PerpModel

/// A cache of market data fetched from venues, in one SQLite file.
///
/// It keeps candles and funding rates per ``SeriesKey``, and for each series the time ranges
/// already fetched completely (its *coverage*). A fetcher asks ``missingRanges(of:key:from:to:)``
/// what it still needs, downloads only that, and saves each page with its range in one
/// transaction (``saveCandlesPage(_:key:covering:)``), so that re-running a long fetch never
/// downloads the same span twice and a span with no bars (a venue gap) is not re-requested.
///
/// Values are stored exactly as raw fixed-point integers (see ``Schema``). A file database uses
/// WAL journaling with `synchronous = FULL` and foreign keys on; the store is safe to share
/// between threads and tasks.
///
/// ```swift
/// let store = try MarketDataStore(path: "data/market.sqlite")
/// let key = SeriesKey(source: "binance-spot", symbol: "NMRUSDT", interval: .minutes(1))
/// for range in try store.missingRanges(of: .candles, key: key, from: start, to: end) {
///     let page = try await venue.candles(range)  // the fetcher's own code
///     try store.saveCandlesPage(page, key: key, covering: range)
/// }
/// let series = try store.loadCandles(key: key, from: start, to: end)
/// ```
public final class MarketDataStore: Sendable, SQLiteBacked {
    /// The database file's path, or `":memory:"` for an in-memory store.
    public let path: String
    /// The GRDB connection (a `DatabasePool` for files, a `DatabaseQueue` in memory).
    let writer: any DatabaseWriter

    /// Opens (creating when missing) the database file at `path`, creating its parent folder
    /// too, and migrates it to the current schema.
    ///
    /// - Throws: ``StoreError/cannotOpen(path:reason:)`` when the file or folder cannot be
    ///   created or opened, ``StoreError/corrupt(path:reason:)`` when the file is not a
    ///   readable SQLite database, ``StoreError/newerSchema(path:unknownMigrations:)`` when a
    ///   newer build wrote it.
    public convenience init(path: String) throws(StoreError) {
        try self.init(writer: SQLiteErrors.openFile(path: path, configuration: Self.baseConfiguration()), path: path)
    }

    /// A fresh, empty store in memory, gone when the value is released (tests, dry runs).
    public static func inMemory() throws(StoreError) -> MarketDataStore {
        try MarketDataStore(writer: SQLiteErrors.openMemory(configuration: baseConfiguration()), path: ":memory:")
    }

    /// Wraps an open connection and migrates it.
    init(writer: any DatabaseWriter, path: String) throws(StoreError) {
        self.writer = writer
        self.path = path
        let migrator = Schema.migrator
        let unknown = try perform("reading the schema version") {
            try writer.read { db in
                try migrator.appliedIdentifiers(db).subtracting(migrator.migrations).sorted()
            }
        }
        guard unknown.isEmpty else {
            throw .newerSchema(path: path, unknownMigrations: unknown)
        }
        try migrate(migrator, "migrating the schema")
    }

    private static func baseConfiguration() -> Configuration {
        var configuration = Configuration()
        configuration.label = "PerpStore"
        configuration.foreignKeysEnabled = true
        return configuration
    }

    // MARK: - Maintenance

    /// Runs SQLite's `quick_check` over the whole file (time grows with its size).
    ///
    /// - Throws: ``StoreError/corrupt(path:reason:)`` with SQLite's first finding when the file
    ///   is damaged.
    public func checkIntegrity() throws(StoreError) {
        let findings = try read("checking integrity") { db in
            try String.fetchAll(db, sql: "PRAGMA quick_check")
        }
        guard findings == ["ok"] else {
            throw .corrupt(path: path, reason: findings.first ?? "quick_check returned nothing")
        }
    }

    // MARK: - Series

    /// The id of the series `(kind, key)`, or `nil` when nothing was ever saved for it.
    static func seriesID(_ db: Database, _ kind: SeriesKind, _ key: SeriesKey) throws -> Int64? {
        try Int64.fetchOne(
            db.cachedStatement(
                sql: """
                    SELECT id FROM series
                    WHERE kind = ? AND source = ? AND symbol = ? AND interval_ms = ?
                    """),
            arguments: [kind.rawValue, key.source, key.symbol, key.interval.milliseconds])
    }

    /// The id of the series `(kind, key)`, inserting the series when it is new.
    static func ensureSeriesID(_ db: Database, _ kind: SeriesKind, _ key: SeriesKey) throws -> Int64 {
        if let id = try seriesID(db, kind, key) { return id }
        try db.execute(
            sql: "INSERT INTO series (kind, source, symbol, interval_ms) VALUES (?, ?, ?, ?)",
            arguments: [kind.rawValue, key.source, key.symbol, key.interval.milliseconds])
        return db.lastInsertedRowID
    }

    /// Rejects keys the schema cannot hold.
    static func validate(_ key: SeriesKey) throws(StoreError) {
        guard key.interval.milliseconds > 0 else {
            throw .invalidKey(key, reason: "interval must be positive, got \(key.interval)")
        }
    }

    /// Rejects a range whose start is after its end.
    static func validate(_ range: TimeRange) throws(StoreError) {
        guard range.from <= range.to else {
            throw .invalidRange(from: range.from, to: range.to)
        }
    }
}
