import Foundation
import GRDB
import PerpEngine
import PerpModel

/// What a paper session was started with. A restart must match it: changing the bot's
/// configuration, the market or the capital starts a new record (spec §4's 30 days restart).
public struct PaperSessionInfo: Sendable, Equatable {
    public var name: String
    public var venue: String
    public var symbol: String
    public var interval: TimeSpan
    public var capital: Notional
    /// The bot configuration file's text, as it was at the start.
    public var configText: String
    /// The venue settings (fees, margin mode, lot) in their canonical text form.
    public var venueText: String
    public var created: Timestamp

    public init(
        name: String, venue: String, symbol: String, interval: TimeSpan, capital: Notional, configText: String, venueText: String,
        created: Timestamp
    ) {
        self.name = name
        self.venue = venue
        self.symbol = symbol
        self.interval = interval
        self.capital = capital
        self.configText = configText
        self.venueText = venueText
        self.created = created
    }
}

/// A paper-trading session on disk: the events it was fed (``PaperEvent``, in order) and the
/// journal rows they produced, in one SQLite file of its own (reliability.md: paper and live
/// never share a database; the file is marked `paper` and no other store opens it).
///
/// ``append(_:journal:)`` writes events and their journal rows in one transaction (WAL,
/// `synchronous = FULL`), so after a crash either both are there or neither. A restart replays
/// ``events()`` through a fresh ``PaperSession`` and checks that it reproduces ``journal()``
/// row for row: the position, orders and record come back exactly, with nothing sent twice and
/// nothing lost.
public final class PaperStore: Sendable, SQLiteBacked {
    public let path: String
    let writer: any DatabaseWriter
    /// The journal run name paper sessions write under.
    public static let journalRun = "paper"

    /// Opens (creating when missing) the session file at `path`.
    ///
    /// - Throws: ``StoreError/cannotOpen(path:reason:)`` when the file cannot be opened or is
    ///   another kind of NMRPerp file (a market-data cache, a journal, a live session);
    ///   ``StoreError/corrupt(path:reason:)``; ``StoreError/newerSchema(path:unknownMigrations:)``.
    public convenience init(path: String) throws(StoreError) {
        try self.init(writer: SQLiteErrors.openFile(path: path, configuration: Self.baseConfiguration()), path: path)
    }

    /// Opens an existing session file for a reader (`paper status`, `paper journal`): a file
    /// with no paper tables (empty, or another program's database) is refused rather than
    /// given a paper schema.
    public convenience init(existing path: String) throws(StoreError) {
        // Checked before SQLite opens it: opening in WAL mode would write to the file.
        // Bytes 0-15 are SQLite's magic; 18 and 19 are 2 in a WAL database, as every
        // session file is.
        let handle = FileHandle(forReadingAtPath: path)
        let header = [UInt8]((try? handle?.read(upToCount: 20)) ?? Data())
        try? handle?.close()
        guard header.count == 20, header[0..<16].elementsEqual(Array("SQLite format 3\0".utf8)) else {
            throw .corrupt(path: path, reason: header.isEmpty ? "the file is empty" : "the file is not an SQLite database")
        }
        guard header[18] == 2, header[19] == 2 else {
            throw .cannotOpen(path: path, reason: "the file is an SQLite database but not in WAL mode, so not a paper session")
        }
        try self.init(writer: SQLiteErrors.openFile(path: path, configuration: Self.baseConfiguration()), path: path, create: false)
    }

    /// An empty session in memory (tests).
    public static func inMemory() throws(StoreError) -> PaperStore {
        try PaperStore(writer: SQLiteErrors.openMemory(configuration: baseConfiguration()), path: ":memory:")
    }

    init(writer: any DatabaseWriter, path: String, create: Bool = true) throws(StoreError) {
        self.writer = writer
        self.path = path
        let migrator = Schema.paperMigrator
        let applied = try perform("reading the schema version") { try writer.read { db in try migrator.appliedIdentifiers(db) } }
        if !applied.isDisjoint(with: Schema.migrator.migrations) {
            throw .cannotOpen(path: path, reason: "the file is a market-data cache, not a paper session")
        }
        if applied.contains(LiveStore.migrationID) {
            throw .cannotOpen(path: path, reason: "the file is a live session, not a paper session")
        }
        if !applied.isEmpty && !applied.contains(Schema.paperMigrationID) {
            throw .cannotOpen(path: path, reason: "the file is a journal, not a paper session")
        }
        if applied.isEmpty && !create {
            throw .cannotOpen(path: path, reason: "the file holds no paper session (no paper tables)")
        }
        let unknown = applied.subtracting(migrator.migrations).sorted()
        guard unknown.isEmpty else { throw .newerSchema(path: path, unknownMigrations: unknown) }
        try migrate(migrator, "migrating the paper schema")
    }

    private static func baseConfiguration() -> Configuration {
        var configuration = Configuration()
        configuration.label = "PerpStore.Paper"
        configuration.foreignKeysEnabled = true
        return configuration
    }

    // MARK: - Session

    /// The session's settings, or `nil` for a new file.
    public func info() throws(StoreError) -> PaperSessionInfo? {
        try read("reading the paper session") { db -> PaperSessionInfo? in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT mode, name, venue, symbol, interval_ms, capital_raw, config, venue_config, created_ms
                        FROM paper_session WHERE id = 1
                        """)
            else { return nil }
            guard (row["mode"] as String?) == "paper" else {
                throw StoreError.cannotOpen(path: path, reason: "the session is not a paper session")
            }
            guard let name = row["name"] as String?, let venue = row["venue"] as String?, let symbol = row["symbol"] as String?,
                let interval = row["interval_ms"] as Int64?, let capital = row["capital_raw"] as Int64?,
                let config = row["config"] as String?, let venueConfig = row["venue_config"] as String?,
                let created = row["created_ms"] as Int64?
            else { throw StoreError.corrupt(path: path, reason: "the paper_session row has a missing or mistyped column") }
            return PaperSessionInfo(
                name: name, venue: venue, symbol: symbol, interval: TimeSpan(milliseconds: interval), capital: Notional(raw: capital),
                configText: config, venueText: venueConfig, created: Timestamp(milliseconds: created))
        }
    }

    /// Records the settings of a new session. Fails when the file already has one.
    public func create(_ info: PaperSessionInfo) throws(StoreError) {
        try write("starting paper session \(info.name.debugDescription)") { db in
            try db.execute(
                sql: """
                    INSERT INTO paper_session
                        (id, mode, name, venue, symbol, interval_ms, capital_raw, config, venue_config, created_ms)
                    VALUES (1, 'paper', ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    info.name, info.venue, info.symbol, info.interval.milliseconds, info.capital.raw, info.configText, info.venueText,
                    info.created.milliseconds,
                ])
        }
    }

    // MARK: - Events and journal

    /// Appends `events` (in order) and the journal rows they produced, in one transaction.
    public func append(_ events: [PaperEvent], journal: [JournalEntry], received: Timestamp) throws(StoreError) {
        guard !events.isEmpty || !journal.isEmpty else { return }
        try write("storing \(events.count) paper events and \(journal.count) journal rows") { db in
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO paper_event
                        (kind, time_ms, open_raw, high_raw, low_raw, close_raw, volume_raw, rate_raw, interval_ms,
                         mark_raw, live, text, value, received_ms)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for event in events {
                switch event {
                case .bar(let bar):
                    try statement.execute(arguments: [
                        "bar", bar.openTime.milliseconds, bar.open.raw, bar.high.raw, bar.low.raw, bar.close.raw, bar.volume.raw, nil, nil,
                        nil, nil, "", nil, received.milliseconds,
                    ])
                case .funding(let rate, let mark):
                    try statement.execute(arguments: [
                        "funding", rate.time.milliseconds, nil, nil, nil, nil, nil, rate.rate.raw, rate.interval.milliseconds, mark?.raw,
                        nil,
                        "", nil, received.milliseconds,
                    ])
                case .feed(let live, let time, let reason):
                    try statement.execute(arguments: [
                        "feed", time.milliseconds, nil, nil, nil, nil, nil, nil, nil, nil, live ? 1 : 0, reason, nil, received.milliseconds,
                    ])
                case .badData(let reason, let time):
                    try statement.execute(arguments: [
                        "bad_data", time.milliseconds, nil, nil, nil, nil, nil, nil, nil, nil, nil, reason, nil, received.milliseconds,
                    ])
                case .signal(let signal, let value, let time):
                    try statement.execute(arguments: [
                        "signal", time.milliseconds, nil, nil, nil, nil, nil, nil, nil, nil, nil, signal.rawValue, value,
                        received.milliseconds,
                    ])
                case .badResponse(let reason, let time):
                    try statement.execute(arguments: [
                        "bad_response", time.milliseconds, nil, nil, nil, nil, nil, nil, nil, nil, nil, reason, nil, received.milliseconds,
                    ])
                case .missingBars(let first, let last, let time):
                    // time_ms: the first missing open time; text: the last one; value: when the bars resumed.
                    try statement.execute(arguments: [
                        "missing_bars", first.milliseconds, nil, nil, nil, nil, nil, nil, nil, nil, nil, String(last.milliseconds),
                        Double(time.milliseconds), received.milliseconds,
                    ])
                }
            }
            try JournalStore.insert(journal, run: Self.journalRun, into: db)
        }
    }

    /// Every stored event, in the order received.
    public func events() throws(StoreError) -> [PaperEvent] {
        try read("reading paper events") { db in
            var events: [PaperEvent] = []
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT seq, kind, time_ms, open_raw, high_raw, low_raw, close_raw, volume_raw, rate_raw, interval_ms,
                           mark_raw, live, text, value
                    FROM paper_event ORDER BY seq
                    """)
            while let row = try rows.next() {
                events.append(try Self.decodeEvent(row, path: path))
            }
            return events
        }
    }

    /// The journal rows stored so far, in order.
    public func journal() throws(StoreError) -> [JournalEntry] {
        try read("reading the paper journal") { db in try JournalStore.fetch(run: Self.journalRun, from: db, path: path) }
    }

    /// SQLite's `integrity_check`, then every event and journal row read back. Run before
    /// trading: a failure blocks the session until the operator acts.
    public func checkIntegrity() throws(StoreError) {
        let findings = try read("checking paper session integrity") { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
        guard findings == ["ok"] else {
            throw .corrupt(path: path, reason: SQLiteErrors.oneLine(findings.first ?? "integrity_check returned nothing"))
        }
        _ = try events()
        _ = try journal()
    }

    static func decodeEvent(_ row: Row, path: String) throws(StoreError) -> PaperEvent {
        let values: [DatabaseValue.Storage] = (0..<row.count).map { (row[$0] as DatabaseValue).storage }
        let label: String
        if case .int64(let seq) = values[0] { label = "paper event \(seq)" } else { label = "a paper event" }
        func corrupt(_ problem: String) -> StoreError { .corrupt(path: path, reason: "\(label): \(problem)") }
        func integer(_ index: Int, _ column: String) throws(StoreError) -> Int64 {
            guard case .int64(let value) = values[index] else { throw corrupt("\(column) is missing or not an integer") }
            return value
        }
        func optionalInteger(_ index: Int, _ column: String) throws(StoreError) -> Int64? {
            switch values[index] {
            case .null: return nil
            case .int64(let value): return value
            default: throw corrupt("\(column) is not an integer")
            }
        }
        func text(_ index: Int, _ column: String) throws(StoreError) -> String {
            guard case .string(let value) = values[index] else { throw corrupt("\(column) is missing or not text") }
            return value
        }
        let kind = try text(1, "kind")
        let time = Timestamp(milliseconds: try integer(2, "time_ms"))
        switch kind {
        case "bar":
            return .bar(
                Candle(
                    openTime: time, open: Price(raw: try integer(3, "open_raw")), high: Price(raw: try integer(4, "high_raw")),
                    low: Price(raw: try integer(5, "low_raw")), close: Price(raw: try integer(6, "close_raw")),
                    volume: Quantity(raw: try integer(7, "volume_raw"))))
        case "funding":
            let interval = try integer(9, "interval_ms")
            guard interval > 0 else { throw corrupt("interval_ms is not positive") }
            return .funding(
                FundingRate(time: time, rate: Rate(raw: try integer(8, "rate_raw")), interval: TimeSpan(milliseconds: interval)),
                mark: try optionalInteger(10, "mark_raw").map(Price.init(raw:)))
        case "feed":
            return .feed(live: try integer(11, "live") != 0, at: time, reason: try text(12, "text"))
        case "bad_data":
            return .badData(reason: try text(12, "text"), at: time)
        case "signal":
            let name = try text(12, "text")
            guard let signal = ExternalSignal(rawValue: name) else { throw corrupt("unknown signal \(name.debugDescription)") }
            guard case .double(let value) = values[13] else { throw corrupt("value is missing or not a number") }
            return .signal(signal, value: value, at: time)
        case "bad_response":
            return .badResponse(reason: try text(12, "text"), at: time)
        case "missing_bars":
            let lastText = try text(12, "text")
            guard let last = Int64(lastText), last >= time.milliseconds else { throw corrupt("text is not the last missing open time") }
            guard case .double(let resumed) = values[13], resumed.isFinite, resumed > Double(last), resumed < 9e15 else {
                throw corrupt("value is not the time the bars resumed")
            }
            return .missingBars(first: time, last: Timestamp(milliseconds: last), at: Timestamp(milliseconds: Int64(resumed)))
        default:
            throw corrupt("unknown kind \(kind.debugDescription)")
        }
    }
}

extension Schema {
    static let paperMigrationID = "paper-v1"

    /// A paper session file: the journal table (as ``journalV1``) and the session's own tables.
    static let paperMigrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("journal-v1") { db in try db.execute(sql: journalV1) }
        migrator.registerMigration(paperMigrationID) { db in try db.execute(sql: paperV1) }
        migrator.registerMigration("paper-v2") { db in try db.execute(sql: paperV2) }
        return migrator
    }()

    /// `paper_session`: one row, the settings the session started with (`mode` is always
    /// 'paper': a live session is another file). `paper_event`: every input in the order
    /// received (`seq`); `kind` 'bar' (raw prices and volume at 10^8), 'funding' (`rate_raw`
    /// at 10^12, `interval_ms`, `mark_raw` at 10^8 or NULL), 'feed' (`live` 0 or 1, `text` the
    /// reason), 'bad_data' (`text`) or 'signal' (`text` the series: staked, activity or
    /// sentiment; `value` a float, a signal input, never money); `time_ms` epoch milliseconds UTC; `received_ms` when
    /// the shell stored it.
    static let paperV1 = """
        CREATE TABLE paper_session (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            mode TEXT NOT NULL CHECK (mode = 'paper'),
            name TEXT NOT NULL,
            venue TEXT NOT NULL,
            symbol TEXT NOT NULL,
            interval_ms INTEGER NOT NULL CHECK (interval_ms > 0),
            capital_raw INTEGER NOT NULL CHECK (capital_raw > 0),
            config TEXT NOT NULL,
            venue_config TEXT NOT NULL,
            created_ms INTEGER NOT NULL
        ) STRICT;

        CREATE TABLE paper_event (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('bar', 'funding', 'feed', 'bad_data', 'signal')),
            time_ms INTEGER NOT NULL,
            open_raw INTEGER,
            high_raw INTEGER,
            low_raw INTEGER,
            close_raw INTEGER,
            volume_raw INTEGER,
            rate_raw INTEGER,
            interval_ms INTEGER,
            mark_raw INTEGER,
            live INTEGER,
            text TEXT NOT NULL,
            value REAL,
            received_ms INTEGER NOT NULL
        ) STRICT;
        """

    /// Two more event kinds: 'bad_response' (`text` the endpoint and a sanitized excerpt of a
    /// 200 that was not what the endpoint returns) and 'missing_bars' (`time_ms` the first
    /// missing open time, `text` the last one in decimal, `value` the open time of the bar that
    /// resumed). SQLite cannot change a CHECK in place: the table is rebuilt, rows and `seq`
    /// kept.
    static let paperV2 = """
        CREATE TABLE paper_event_v2 (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('bar', 'funding', 'feed', 'bad_data', 'signal', 'bad_response', 'missing_bars')),
            time_ms INTEGER NOT NULL,
            open_raw INTEGER,
            high_raw INTEGER,
            low_raw INTEGER,
            close_raw INTEGER,
            volume_raw INTEGER,
            rate_raw INTEGER,
            interval_ms INTEGER,
            mark_raw INTEGER,
            live INTEGER,
            text TEXT NOT NULL,
            value REAL,
            received_ms INTEGER NOT NULL
        ) STRICT;
        INSERT INTO paper_event_v2 SELECT * FROM paper_event ORDER BY seq;
        DROP TABLE paper_event;
        ALTER TABLE paper_event_v2 RENAME TO paper_event;
        """
}
