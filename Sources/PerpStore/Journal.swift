import Foundation
import GRDB
import PerpEngine
import PerpModel

/// The trading journal on disk: every ``JournalEntry`` of one or more runs (a backtest, a paper
/// session), in one SQLite file of its own, never the market-data cache's.
///
/// Rows keep the order they were appended in. Amounts are stored exactly as raw fixed-point
/// integers and signal scores as the shortest decimal text that reads back to the same
/// `Double`, so ``entries(run:)`` returns exactly what ``append(_:run:)`` was given (see
/// ``Schema/journalV1``).
///
/// A file journal uses WAL journaling with `synchronous = FULL`: a committed append survives a
/// crash or power loss, and a torn one is rolled back whole. A damaged file, or a row this
/// build cannot read (an unknown event, broken signal JSON), is reported as
/// ``StoreError/corrupt(path:reason:)``, never a crash: run ``checkIntegrity()`` before trading
/// and stop until the operator has looked (docs/reliability.md, "State and restarts"). Paper
/// and live sessions must use different files.
///
/// ```swift
/// let journal = try JournalStore(path: "state/paper-journal.sqlite")
/// try journal.checkIntegrity()
/// try journal.append(rows, run: "paper-2024-05-01")
/// let text = JournalJSONL.render(try journal.entries(run: "paper-2024-05-01"))
/// ```
public final class JournalStore: Sendable, SQLiteBacked {
    /// The database file's path, or `":memory:"` for an in-memory journal.
    public let path: String
    /// The GRDB connection (a `DatabasePool` for files, a `DatabaseQueue` in memory).
    let writer: any DatabaseWriter

    /// Opens (creating when missing) the journal file at `path`, creating its parent folder
    /// too, and migrates it to the current schema.
    ///
    /// - Throws: ``StoreError/cannotOpen(path:reason:)`` when the file or folder cannot be
    ///   created or opened, or the file is a market-data cache; ``StoreError/corrupt(path:reason:)``
    ///   when the file is not a readable SQLite database; ``StoreError/newerSchema(path:unknownMigrations:)``
    ///   when a newer build wrote it.
    /// `busyTimeout`: how long to wait for a lock another process holds.
    public convenience init(path: String, busyTimeout: Double = 30) throws(StoreError) {
        try self.init(
            writer: SQLiteErrors.openFile(path: path, configuration: Self.baseConfiguration(), busyTimeout: busyTimeout), path: path)
    }

    /// A fresh, empty journal in memory, gone when the value is released (tests, dry runs).
    public static func inMemory() throws(StoreError) -> JournalStore {
        try JournalStore(writer: SQLiteErrors.openMemory(configuration: baseConfiguration()), path: ":memory:")
    }

    /// Wraps an open connection and migrates it.
    init(writer: any DatabaseWriter, path: String) throws(StoreError) {
        self.writer = writer
        self.path = path
        let migrator = Schema.journalMigrator
        let applied = try perform("reading the schema version") {
            try writer.read { db in try migrator.appliedIdentifiers(db) }
        }
        if !applied.isDisjoint(with: Schema.migrator.migrations) {
            throw .cannotOpen(path: path, reason: "the file is a market-data cache, not a journal")
        }
        if applied.contains(LiveStore.migrationID) {
            throw .cannotOpen(
                path: path, reason: "the file is a live session (read it with `nmrperp live journal`), not a journal")
        }
        if applied.contains(Schema.paperMigrationID) {
            throw .cannotOpen(
                path: path, reason: "the file is a paper-trading session (read it with `nmrperp paper journal`), not a journal")
        }
        let unknown = applied.subtracting(migrator.migrations).sorted()
        guard unknown.isEmpty else {
            throw .newerSchema(path: path, unknownMigrations: unknown)
        }
        try migrate(migrator, "migrating the journal schema")
    }

    private static func baseConfiguration() -> Configuration {
        var configuration = Configuration()
        configuration.label = "PerpStore.Journal"
        configuration.foreignKeysEnabled = true
        return configuration
    }

    // MARK: - Journal

    /// Appends `entries` to the run named `run`, in order, in one transaction: after a failure
    /// none of them is stored. Appending nothing does nothing.
    ///
    /// - Throws: a database error (nothing is written).
    public func append(_ entries: [JournalEntry], run: String) throws(StoreError) {
        guard !entries.isEmpty else { return }
        try write("appending \(entries.count) journal entries to run \(run.debugDescription)") { db in
            try Self.insert(entries, run: run, into: db)
        }
    }

    /// Appends `entries` as a new run named `base`, or `base #2`, `base #3`… when a run of that
    /// name already has entries; the name is chosen and the rows inserted in one (immediate)
    /// transaction, so two writers, even two processes started in the same millisecond, never
    /// share a run. Returns the name (`base` when `entries` is empty: nothing is stored).
    ///
    /// - Throws: a database error (nothing is written).
    public func appendNewRun(_ entries: [JournalEntry], base: String) throws(StoreError) -> String {
        guard !entries.isEmpty else { return base }
        return try write("appending \(entries.count) journal entries to a new run \(base.debugDescription)") { db in
            var run = base
            var suffix = 2
            while try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM journal WHERE run = ?)", arguments: [run]) == true {
                run = "\(base) #\(suffix)"
                suffix += 1
            }
            try Self.insert(entries, run: run, into: db)
            return run
        }
    }

    /// Inserts `entries` for `run` inside the caller's transaction (``PaperStore`` writes them
    /// with the events that produced them).
    static func insert(_ entries: [JournalEntry], run: String, into db: Database) throws {
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO journal
                    (run, time_ms, event, side, price_raw, quantity_raw, leverage_raw, reason,
                     signals, fee_raw, funding_raw, pnl_raw, note)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for entry in entries {
            try statement.execute(arguments: [
                run, entry.time.milliseconds, entry.event.rawValue, entry.side?.rawValue,
                entry.price?.raw, entry.quantity?.raw, entry.leverage?.raw, entry.reason,
                Self.signalsText(entry.signals), entry.fee?.raw, entry.funding?.raw, entry.pnl?.raw,
                entry.note,
            ])
        }
    }

    /// The entries of the run named `run`, in the order they were appended; empty when the run
    /// has none.
    ///
    /// - Throws: ``StoreError/corrupt(path:reason:)`` naming the first row that cannot be read
    ///   back (an unknown event or side, broken signal JSON, a value of the wrong type), or a
    ///   database error.
    public func entries(run: String) throws(StoreError) -> [JournalEntry] {
        try read("reading journal run \(run.debugDescription)") { db in
            try Self.fetch(run: run, from: db, path: path)
        }
    }

    /// The entries of `run` in append order, read inside the caller's transaction.
    static func fetch(run: String, from db: Database, path: String) throws -> [JournalEntry] {
        var entries: [JournalEntry] = []
        let rows = try Row.fetchCursor(db.cachedStatement(sql: "\(Self.selectColumns) WHERE run = ? ORDER BY id"), arguments: [run])
        while let row = try rows.next() {
            entries.append(try Self.decode(row, path: path))
        }
        return entries
    }

    /// The id of the newest entry (`nil` when empty): changes whenever a run is appended.
    public func lastEntryID() throws(StoreError) -> Int64? {
        try read("reading the journal's last entry") { db in try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM journal") }
    }

    /// The names of the runs that have entries, in the order their first entry was appended.
    public func runs() throws(StoreError) -> [String] {
        try read("listing journal runs") { db in
            let rows = try Row.fetchCursor(db, sql: "SELECT run, MIN(id) FROM journal GROUP BY run ORDER BY MIN(id)")
            var runs: [String] = []
            while let row = try rows.next() {
                guard case .string(let run) = (row[0] as DatabaseValue).storage else {
                    let id = (row[1] as DatabaseValue).storage
                    throw StoreError.corrupt(path: path, reason: "journal row \(id): run is not text")
                }
                runs.append(run)
            }
            return runs
        }
    }

    /// One stored run's key figures, from its rows (`bot journal`, issue 15).
    public struct RunSummary: Sendable, Equatable {
        public var name: String
        public var rows: Int
        public var first: Timestamp?
        public var last: Timestamp?
        /// Positions opened.
        public var entries: Int
        /// Positions closed (exit, stop, target, time exit, circuit breaker, liquidation) with a P&L.
        public var closes: Int
        public var wins: Int
        public var netPnL: Notional
        public var fees: Notional
        public var funding: Notional
    }

    /// Every run's summary, in the order the runs were stored.
    public func runSummaries() throws(StoreError) -> [RunSummary] {
        try read("summarising journal runs") { db in
            let closing = ["exit", "stop", "target", "time_exit", "circuit_breaker", "liquidation"].map { "'\($0)'" }.joined(separator: ",")
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT run, COUNT(*), MIN(time_ms), MAX(time_ms),
                        SUM(event = 'entry'),
                        SUM(pnl_raw IS NOT NULL AND event IN (\(closing))),
                        SUM(pnl_raw > 0 AND event IN (\(closing))),
                        SUM(CASE WHEN event IN (\(closing)) THEN pnl_raw END),
                        SUM(fee_raw), SUM(funding_raw), MIN(id)
                    FROM journal GROUP BY run ORDER BY MIN(id)
                    """)
            var summaries: [RunSummary] = []
            while let row = try rows.next() {
                guard case .string(let name) = (row[0] as DatabaseValue).storage else {
                    throw StoreError.corrupt(path: path, reason: "journal row \((row[10] as DatabaseValue).storage): run is not text")
                }
                // SQLite sums whole numbers exactly and fails (an error, not a wrong total) past 2^63.
                func money(_ index: Int) -> Notional { Notional(raw: (row[index] as Int64?) ?? 0) }
                summaries.append(
                    RunSummary(
                        name: name, rows: row[1], first: (row[2] as Int64?).map { Timestamp(milliseconds: $0) },
                        last: (row[3] as Int64?).map { Timestamp(milliseconds: $0) }, entries: row[4] ?? 0, closes: row[5] ?? 0,
                        wins: row[6] ?? 0, netPnL: money(7), fees: money(8), funding: money(9)))
            }
            return summaries
        }
    }

    /// Removes every row of `run`; returns how many there were.
    @discardableResult
    public func deleteRun(_ run: String) throws(StoreError) -> Int {
        try write("deleting journal run \(run.debugDescription)") { db in
            try db.execute(sql: "DELETE FROM journal WHERE run = ?", arguments: [run])
            return db.changesCount
        }
    }

    // MARK: - Maintenance

    /// Runs SQLite's `integrity_check` over the whole file, then reads back every row of every
    /// run (time grows with the journal's size). Call it before trading starts: a journal that
    /// fails it must block trading until the operator acts.
    ///
    /// - Throws: ``StoreError/corrupt(path:reason:)`` with one line: SQLite's first finding
    ///   (and how many more there are), or the first row that cannot be read back.
    public func checkIntegrity() throws(StoreError) {
        let findings = try read("checking journal integrity") { db in
            try String.fetchAll(db, sql: "PRAGMA integrity_check")
        }
        guard findings == ["ok"] else {
            var reason = SQLiteErrors.oneLine(findings.first ?? "integrity_check returned nothing")
            if findings.count > 1 { reason += " (and \(findings.count - 1) more findings)" }
            throw .corrupt(path: path, reason: reason)
        }
        try read("checking journal rows") { db in
            let rows = try Row.fetchCursor(db.cachedStatement(sql: "\(Self.selectColumns) ORDER BY id"))
            while let row = try rows.next() {
                _ = try Self.decode(row, path: path)
            }
        }
    }

    // MARK: - Encoding

    static let selectColumns = """
        SELECT id, run, time_ms, event, side, price_raw, quantity_raw, leverage_raw, reason,
               signals, fee_raw, funding_raw, pnl_raw, note
        FROM journal
        """

    /// The `signals` column: a compact JSON object in the entry's order. A finite score is the
    /// shortest decimal that reads back to the same `Double` (not ``JSONValue/double(_:significant:)``,
    /// which rounds); NaN and the infinities, which JSON numbers cannot hold, are the strings
    /// `"nan"`, `"inf"`, `"-inf"`.
    static func signalsText(_ signals: [(String, Double)]) -> String {
        JSONValue.object(
            signals.map { name, score in
                guard score.isFinite else {
                    return (name, .string(score.isNaN ? "nan" : score > 0 ? "inf" : "-inf"))
                }
                return (name, .number("\(score)"))
            }
        ).serialized(pretty: false)
    }

    /// Reads back a ``signalsText(_:)`` column, or why it is not one.
    static func signals(fromText text: String) -> Result<[(String, Double)], SignalsError> {
        let value: JSONValue
        do {
            value = try JSONParser.parse(text)
        } catch {
            return .failure(SignalsError(reason: "signals are not valid JSON (\(error))"))
        }
        guard case .object(let members) = value else {
            return .failure(SignalsError(reason: "signals are not a JSON object"))
        }
        var signals: [(String, Double)] = []
        signals.reserveCapacity(members.count)
        for (name, member) in members {
            let score: Double?
            switch member {
            case .number(let text): score = Double(text)
            case .string("nan"): score = .nan
            case .string("inf"): score = .infinity
            case .string("-inf"): score = -.infinity
            default: score = nil
            }
            guard let score else {
                return .failure(
                    SignalsError(reason: "signal \(name.debugDescription) is not a number"))
            }
            signals.append((name, score))
        }
        return .success(signals)
    }

    struct SignalsError: Error {
        var reason: String
    }

    /// One row of ``selectColumns`` as an entry, or ``StoreError/corrupt(path:reason:)`` naming
    /// the row and what is wrong with it. Reads every column as a raw `DatabaseValue`, so that
    /// no value of an unexpected type can trap in a conversion.
    static func decode(_ row: Row, path: String) throws(StoreError) -> JournalEntry {
        let values: [DatabaseValue.Storage] = (0..<row.count).map { (row[$0] as DatabaseValue).storage }
        let label: String
        if case .int64(let id) = values[0] {
            label = "journal row \(id)"
        } else {
            label = "a journal row"
        }
        func corrupt(_ problem: String) -> StoreError {
            .corrupt(path: path, reason: "\(label): \(SQLiteErrors.oneLine(problem))")
        }
        func integer(_ index: Int, _ column: String) throws(StoreError) -> Int64? {
            switch values[index] {
            case .null: return nil
            case .int64(let value): return value
            default: throw corrupt("\(column) is not an integer")
            }
        }
        func text(_ index: Int, _ column: String) throws(StoreError) -> String? {
            switch values[index] {
            case .null: return nil
            case .string(let value): return value
            default: throw corrupt("\(column) is not text")
            }
        }
        func required<T>(_ value: T?, _ column: String) throws(StoreError) -> T {
            guard let value else { throw corrupt("\(column) is missing") }
            return value
        }

        let eventText = try required(text(3, "event"), "event")
        guard let event = JournalEvent(rawValue: eventText) else {
            throw corrupt("unknown event \(eventText.debugDescription)")
        }
        var side: Side?
        if let sideText = try text(4, "side") {
            guard let known = Side(rawValue: sideText) else {
                throw corrupt("unknown side \(sideText.debugDescription)")
            }
            side = known
        }
        let signals: [(String, Double)]
        switch Self.signals(fromText: try required(text(9, "signals"), "signals")) {
        case .success(let decoded): signals = decoded
        case .failure(let error): throw corrupt(error.reason)
        }
        return JournalEntry(
            time: Timestamp(milliseconds: try required(integer(2, "time_ms"), "time_ms")),
            event: event,
            side: side,
            price: try integer(5, "price_raw").map(Price.init(raw:)),
            quantity: try integer(6, "quantity_raw").map(Quantity.init(raw:)),
            leverage: try integer(7, "leverage_raw").map(Rate.init(raw:)),
            reason: try required(text(8, "reason"), "reason"),
            signals: signals,
            fee: try integer(10, "fee_raw").map(Notional.init(raw:)),
            funding: try integer(11, "funding_raw").map(Notional.init(raw:)),
            pnl: try integer(12, "pnl_raw").map(Notional.init(raw:)),
            note: try required(text(13, "note"), "note"))
    }

}

/// The journal as JSON Lines (the `--journal out.jsonl` file): one compact
/// ``JournalEntry/json`` object per line, each line ending in `\n`. Empty for no entries.
public enum JournalJSONL {
    public static func render(_ entries: [JournalEntry]) -> String {
        var output = ""
        for entry in entries {
            output += entry.json.serialized(pretty: false)
            output += "\n"
        }
        return output
    }
}
