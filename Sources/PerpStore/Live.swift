import Foundation
import GRDB
import PerpModel

/// What a live session was started with. A restart must match it (the venue, the symbol, the
/// configuration): a changed configuration is a new session, because the stored inputs replay
/// through the configuration to rebuild the position and the open orders.
public struct LiveSessionInfo: Sendable, Equatable {
    public var name: String
    /// `binance-usdm` or `binance-usdm-testnet`.
    public var venue: String
    public var symbol: String
    public var interval: TimeSpan
    /// The bot configuration file's text, as it was at the start.
    public var configText: String
    /// Live trades this share of what the configuration sizes (spec §4: 10 % at first).
    public var sizeFraction: Rate
    /// The paper session whose 30-day record let this one start, or `nil` when the gate was
    /// skipped (`--skip-paper-gate`, recorded here and shown by `live status`).
    public var paperSession: String?
    public var skippedPaperGate: Bool
    /// The client-order-id tag (decision 0012): a hash of the name and `created`.
    public var tag: String
    public var created: Timestamp

    public init(
        name: String, venue: String, symbol: String, interval: TimeSpan, configText: String, sizeFraction: Rate, paperSession: String?,
        skippedPaperGate: Bool, tag: String, created: Timestamp
    ) {
        self.name = name
        self.venue = venue
        self.symbol = symbol
        self.interval = interval
        self.configText = configText
        self.sizeFraction = sizeFraction
        self.paperSession = paperSession
        self.skippedPaperGate = skippedPaperGate
        self.tag = tag
        self.created = created
    }
}

/// One stored input of a live session: what happened, in the order it was handled. The
/// payload is the input's canonical JSON (PerpLive's `LiveInputCodec`); the store only keeps it.
public struct LiveInputRow: Sendable, Equatable {
    public var seq: Int64
    public var time: Timestamp
    public var kind: String
    public var payload: String

    public init(seq: Int64, time: Timestamp, kind: String, payload: String) {
        self.seq = seq
        self.time = time
        self.kind = kind
        self.payload = payload
    }
}

/// One journal row of a live session: the kernel's rows and the execution layer's notes, as
/// JSON lines, with the event name for filtering.
public struct LiveJournalRow: Sendable, Equatable {
    public var seq: Int64
    public var time: Timestamp
    public var event: String
    public var line: String

    public init(seq: Int64 = 0, time: Timestamp, event: String, line: String) {
        self.seq = seq
        self.time = time
        self.event = event
        self.line = line
    }
}

/// A process that ran the session: when, with which PID, and how it ended (`running` until it
/// ends; a `running` row of a dead process is sealed `crashed` by the next start).
public struct LiveRun: Sendable, Equatable {
    public var id: Int64
    public var pid: Int32
    public var started: Timestamp
    public var ended: Timestamp?
    public var status: String
}

/// The kill switch's request from another terminal (`live stop`), until the running process
/// handles it.
public struct LiveStopRequest: Sendable, Equatable {
    public var id: Int64
    public var flatten: Bool
    public var reason: String
    public var requested: Timestamp
}

/// A live session on disk, in a file of its own (reliability.md: paper and live never share a
/// database). Every input is appended in one transaction with the journal rows it produced
/// (WAL, `synchronous = FULL`) *before* any order it decided is sent (decision 0012): after a
/// crash the inputs replay to the same orders, and each order with no recorded answer is
/// looked up by its client id before anything else leaves.
public final class LiveStore: Sendable, SQLiteBacked {
    public let path: String
    let writer: any DatabaseWriter
    static let migrationID = "live-v1"

    /// Opens (creating when missing) the session file at `path`.
    public convenience init(path: String) throws(StoreError) {
        try self.init(writer: SQLiteErrors.openFile(path: path, configuration: Self.baseConfiguration()), path: path)
    }

    /// Opens an existing session for a reader (`live status`, `live journal`, `live stop`).
    /// `busyTimeout`: how long to wait for a lock another process holds (the dashboard waits
    /// briefly and shows the session as locked rather than stall every page).
    public convenience init(existing path: String, busyTimeout: Double = 30) throws(StoreError) {
        guard FileManager.default.fileExists(atPath: path) else { throw .cannotOpen(path: path, reason: "no such live session") }
        let handle = FileHandle(forReadingAtPath: path)
        let header = [UInt8]((try? handle?.read(upToCount: 20)) ?? Data())
        try? handle?.close()
        guard header.count == 20, header[0..<16].elementsEqual(Array("SQLite format 3\0".utf8)) else {
            throw .corrupt(path: path, reason: header.isEmpty ? "the file is empty" : "the file is not an SQLite database")
        }
        try self.init(
            writer: SQLiteErrors.openFile(path: path, configuration: Self.baseConfiguration(), busyTimeout: busyTimeout), path: path,
            create: false)
    }

    /// An empty session in memory (tests).
    public static func inMemory() throws(StoreError) -> LiveStore {
        try LiveStore(writer: SQLiteErrors.openMemory(configuration: baseConfiguration()), path: ":memory:")
    }

    init(writer: any DatabaseWriter, path: String, create: Bool = true) throws(StoreError) {
        self.writer = writer
        self.path = path
        let migrator = Self.migrator
        let applied = try perform("reading the schema version") { try writer.read { db in try migrator.appliedIdentifiers(db) } }
        if !applied.isEmpty && !applied.contains(Self.migrationID) {
            throw .cannotOpen(
                path: path, reason: "the file is another kind of NMRPerp file (a paper session, a journal or a cache), not a live session")
        }
        if applied.isEmpty && !create {
            throw .cannotOpen(path: path, reason: "the file holds no live session (no live tables)")
        }
        let unknown = applied.subtracting(migrator.migrations).sorted()
        guard unknown.isEmpty else { throw .newerSchema(path: path, unknownMigrations: unknown) }
        try migrate(migrator, "migrating the live schema")
    }

    private static func baseConfiguration() -> Configuration {
        var configuration = Configuration()
        configuration.label = "PerpStore.Live"
        configuration.foreignKeysEnabled = true
        return configuration
    }

    // MARK: - Session

    /// The session's settings, or `nil` for a new file.
    public func info() throws(StoreError) -> LiveSessionInfo? {
        try read("reading the live session") { db -> LiveSessionInfo? in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT name, venue, symbol, interval_ms, config, size_fraction_raw, paper_session, skipped_paper_gate, tag, created_ms
                        FROM live_session WHERE id = 1
                        """)
            else { return nil }
            guard let name = row["name"] as String?, let venue = row["venue"] as String?, let symbol = row["symbol"] as String?,
                let interval = row["interval_ms"] as Int64?, let config = row["config"] as String?,
                let fraction = row["size_fraction_raw"] as Int64?, let skipped = row["skipped_paper_gate"] as Int64?,
                let tag = row["tag"] as String?, let created = row["created_ms"] as Int64?
            else { throw StoreError.corrupt(path: path, reason: "the live_session row has a missing or mistyped column") }
            return LiveSessionInfo(
                name: name, venue: venue, symbol: symbol, interval: TimeSpan(milliseconds: interval), configText: config,
                sizeFraction: Rate(raw: fraction), paperSession: row["paper_session"] as String?, skippedPaperGate: skipped != 0, tag: tag,
                created: Timestamp(milliseconds: created))
        }
    }

    /// Records the settings of a new session. Fails when the file already has one.
    public func create(_ info: LiveSessionInfo) throws(StoreError) {
        try write("starting live session \(info.name.debugDescription)") { db in
            try db.execute(
                sql: """
                    INSERT INTO live_session
                        (id, name, venue, symbol, interval_ms, config, size_fraction_raw, paper_session, skipped_paper_gate, tag, created_ms)
                    VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    info.name, info.venue, info.symbol, info.interval.milliseconds, info.configText, info.sizeFraction.raw,
                    info.paperSession, info.skippedPaperGate ? 1 : 0, info.tag, info.created.milliseconds,
                ])
        }
    }

    // MARK: - Inputs and journal

    /// Appends `inputs` (in order) and the journal rows they produced in one transaction, and
    /// marks `handledStop` handled in the same one. Returns the inputs' sequence numbers.
    @discardableResult
    public func append(
        _ inputs: [(time: Timestamp, kind: String, payload: String)], journal: [LiveJournalRow], handledStop: Int64? = nil
    ) throws(StoreError) -> [Int64] {
        guard !inputs.isEmpty || !journal.isEmpty || handledStop != nil else { return [] }
        return try write("storing \(inputs.count) live inputs and \(journal.count) journal rows") { db in
            var seqs: [Int64] = []
            let input = try db.cachedStatement(sql: "INSERT INTO live_input (time_ms, kind, payload) VALUES (?, ?, ?)")
            for row in inputs {
                try input.execute(arguments: [row.time.milliseconds, row.kind, row.payload])
                seqs.append(db.lastInsertedRowID)
            }
            let line = try db.cachedStatement(sql: "INSERT INTO live_journal (time_ms, event, line) VALUES (?, ?, ?)")
            for row in journal { try line.execute(arguments: [row.time.milliseconds, row.event, row.line]) }
            if let handledStop {
                try db.execute(
                    sql: "UPDATE live_stop SET handled_input = ? WHERE id = ? AND handled_input IS NULL",
                    arguments: [seqs.last ?? 0, handledStop])
            }
            return seqs
        }
    }

    /// Calls `body` with every stored input in order, without holding them all in memory.
    public func forEachInput(_ body: (LiveInputRow) throws -> Void) throws(StoreError) {
        try forEachInput(after: nil, body)
    }

    /// Calls `body` with the stored inputs after `seq` (all of them for `nil`), in order.
    public func forEachInput(after seq: Int64?, _ body: (LiveInputRow) throws -> Void) throws(StoreError) {
        try read("reading live inputs") { db in
            let rows = try Row.fetchCursor(
                db, sql: "SELECT seq, time_ms, kind, payload FROM live_input WHERE seq > ? ORDER BY seq", arguments: [seq ?? Int64.min])
            while let row = try rows.next() {
                guard let seq = row["seq"] as Int64?, let time = row["time_ms"] as Int64?, let kind = row["kind"] as String?,
                    let payload = row["payload"] as String?
                else { throw StoreError.corrupt(path: path, reason: "a live input row has a missing or mistyped column") }
                try body(LiveInputRow(seq: seq, time: Timestamp(milliseconds: time), kind: kind, payload: payload))
            }
        }
    }

    public func inputCount() throws(StoreError) -> Int {
        try read("counting live inputs") { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM live_input") ?? 0 }
    }

    /// Journal rows, oldest first; `newest` keeps only the last rows.
    public func journal(newest: Int? = nil) throws(StoreError) -> [LiveJournalRow] {
        try read("reading the live journal") { db in
            let sql: String
            if let newest {
                sql =
                    "SELECT seq, time_ms, event, line FROM (SELECT * FROM live_journal ORDER BY seq DESC LIMIT \(max(0, newest))) ORDER BY seq"
            } else {
                sql = "SELECT seq, time_ms, event, line FROM live_journal ORDER BY seq"
            }
            return try Row.fetchAll(db, sql: sql).map { row throws(StoreError) -> LiveJournalRow in
                guard let seq = row["seq"] as Int64?, let time = row["time_ms"] as Int64?, let event = row["event"] as String?,
                    let line = row["line"] as String?
                else { throw StoreError.corrupt(path: path, reason: "a live journal row has a missing or mistyped column") }
                return LiveJournalRow(seq: seq, time: Timestamp(milliseconds: time), event: event, line: line)
            }
        }
    }

    /// Adds a note written by hand (`nmrperp journal note`; issue 16, "the seeds log their state
    /// of mind with every trade") as a journal row of its own, event `note`:
    /// `{"time", "event": "note", "client_id", "text"}`. The journal is the session's output, never
    /// replayed, so a note may be added from another process while the session runs (SQLite
    /// serialises the two writers); every reader of the journal (exports, status, the
    /// dashboard) shows it in its place.
    @discardableResult
    public func appendNote(time: Timestamp, text: String, clientID: String?) throws(StoreError) -> LiveJournalRow {
        let line = JSONValue.object([
            ("time", .string(time.iso8601)), ("event", .string("note")), ("client_id", clientID.map { .string($0) } ?? .null),
            ("text", .string(text)),
        ]).serialized(pretty: false)
        return try write("storing a note") { db in
            try db.execute(
                sql: "INSERT INTO live_journal (time_ms, event, line) VALUES (?, ?, ?)", arguments: [time.milliseconds, "note", line])
            return LiveJournalRow(seq: db.lastInsertedRowID, time: time, event: "note", line: line)
        }
    }

    /// Whether the journal names the order `clientID` (a note's `--trade`).
    public func journalMentions(clientID: String) throws(StoreError) -> Bool {
        let needle = JSONValue.object([("client_id", .string(clientID))]).serialized(pretty: false).dropFirst().dropLast()
        return try read("looking up an order in the journal") { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM live_journal WHERE instr(line, ?) > 0)", arguments: [String(needle)])
                ?? false
        }
    }

    /// Journal rows newest first: at most `limit`, older than `before` when given, and only of
    /// `events` when given (the dashboard's filter).
    public func journalPage(limit: Int, before: Int64? = nil, events: [String]? = nil) throws(StoreError) -> [LiveJournalRow] {
        try read("reading the live journal") { db in
            var sql = "SELECT seq, time_ms, event, line FROM live_journal WHERE seq < ?"
            var arguments: [any DatabaseValueConvertible] = [before ?? Int64.max]
            if let events, !events.isEmpty {
                sql += " AND event IN (\(events.map { _ in "?" }.joined(separator: ", ")))"
                arguments += events.map { $0 as any DatabaseValueConvertible }
            }
            sql += " ORDER BY seq DESC LIMIT ?"
            arguments.append(max(0, min(limit, 10_000)))
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map {
                row throws(StoreError) -> LiveJournalRow in
                guard let seq = row["seq"] as Int64?, let time = row["time_ms"] as Int64?, let event = row["event"] as String?,
                    let line = row["line"] as String?
                else { throw StoreError.corrupt(path: path, reason: "a live journal row has a missing or mistyped column") }
                return LiveJournalRow(seq: seq, time: Timestamp(milliseconds: time), event: event, line: line)
            }
        }
    }

    /// A marker that changes whenever the session writes anything a reader shows: the last
    /// input, the last journal row, the status's time, the last stop request and run. One
    /// indexed query (the dashboard asks every few hundred milliseconds).
    public func changeMarker() throws(StoreError) -> [Int64] {
        try read("reading the live session's last change") { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT (SELECT MAX(seq) FROM live_input), (SELECT MAX(seq) FROM live_journal),
                        (SELECT time_ms FROM live_status WHERE id = 1), (SELECT MAX(id) FROM live_stop),
                        (SELECT COUNT(*) FROM live_stop WHERE handled_input IS NULL), (SELECT MAX(id) FROM live_run),
                        (SELECT COUNT(*) FROM live_run WHERE status = 'running')
                        """)
            else { return [] }
            return (0..<7).map { (row[$0] as Int64?) ?? -1 }
        }
    }

    // MARK: - Runs

    /// Seals every `running` row left by a process that is gone as `crashed`, then records a
    /// new run. Call with the session lock held.
    public func startRun(pid: Int32, at time: Timestamp) throws(StoreError) -> (run: Int64, sealed: Int) {
        try write("recording a live run") { db in
            try db.execute(sql: "UPDATE live_run SET status = 'crashed' WHERE status = 'running'")
            let sealed = db.changesCount
            try db.execute(
                sql: "INSERT INTO live_run (pid, started_ms, status) VALUES (?, ?, 'running')", arguments: [pid, time.milliseconds])
            return (db.lastInsertedRowID, sealed)
        }
    }

    /// Records how run `id` ended (`stopped`, `halted`, `finished`, `failed`).
    public func endRun(_ id: Int64, status: String, at time: Timestamp) throws(StoreError) {
        try write("ending a live run") { db in
            try db.execute(sql: "UPDATE live_run SET status = ?, ended_ms = ? WHERE id = ?", arguments: [status, time.milliseconds, id])
        }
    }

    public func runs() throws(StoreError) -> [LiveRun] {
        try read("reading live runs") { db in
            try Row.fetchAll(db, sql: "SELECT id, pid, started_ms, ended_ms, status FROM live_run ORDER BY id").compactMap { row in
                guard let id = row["id"] as Int64?, let pid = row["pid"] as Int64?, let started = row["started_ms"] as Int64?,
                    let status = row["status"] as String?, let pid32 = Int32(exactly: pid)
                else { return nil }
                return LiveRun(
                    id: id, pid: pid32, started: Timestamp(milliseconds: started),
                    ended: (row["ended_ms"] as Int64?).map { Timestamp(milliseconds: $0) }, status: status)
            }
        }
    }

    // MARK: - Kill switch and status

    /// Records the operator's stop for the running process (or the next start) to handle.
    public func requestStop(flatten: Bool, reason: String, at time: Timestamp) throws(StoreError) -> Int64 {
        try write("recording a stop request") { db in
            try db.execute(
                sql: "INSERT INTO live_stop (requested_ms, flatten, reason) VALUES (?, ?, ?)",
                arguments: [time.milliseconds, flatten ? 1 : 0, reason])
            return db.lastInsertedRowID
        }
    }

    /// Stop requests not handled yet, oldest first.
    public func pendingStops() throws(StoreError) -> [LiveStopRequest] {
        try read("reading stop requests") { db in
            try Row.fetchAll(db, sql: "SELECT id, requested_ms, flatten, reason FROM live_stop WHERE handled_input IS NULL ORDER BY id")
                .compactMap { row in
                    guard let id = row["id"] as Int64?, let time = row["requested_ms"] as Int64?, let flatten = row["flatten"] as Int64?,
                        let reason = row["reason"] as String?
                    else { return nil }
                    return LiveStopRequest(id: id, flatten: flatten != 0, reason: reason, requested: Timestamp(milliseconds: time))
                }
        }
    }

    /// The running process's latest status (JSON), written each poll for `live status`.
    public func setStatus(_ json: String, at time: Timestamp) throws(StoreError) {
        try write("writing live status") { db in
            try db.execute(
                sql:
                    "INSERT INTO live_status (id, time_ms, json) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET time_ms = excluded.time_ms, json = excluded.json",
                arguments: [time.milliseconds, json])
        }
    }

    public func status() throws(StoreError) -> (time: Timestamp, json: String)? {
        try read("reading live status") { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT time_ms, json FROM live_status WHERE id = 1"),
                let time = row["time_ms"] as Int64?, let json = row["json"] as String?
            else { return nil }
            return (Timestamp(milliseconds: time), json)
        }
    }

    /// SQLite's `integrity_check`; a failure blocks trading until the operator acts.
    public func checkIntegrity() throws(StoreError) {
        let findings = try read("checking live session integrity") { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
        guard findings == ["ok"] else {
            throw .corrupt(path: path, reason: SQLiteErrors.oneLine(findings.first ?? "integrity_check returned nothing"))
        }
    }

    // MARK: - Schema

    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration(migrationID) { db in try db.execute(sql: schemaV1) }
        return migrator
    }()

    /// `live_session`: one row, the settings (`size_fraction_raw` a Rate at 10^12).
    /// `live_input`: every input in the order handled (`payload` canonical JSON).
    /// `live_journal`: JSON lines. `live_run`: the processes. `live_stop`: the kill switch's
    /// requests (`handled_input` the input that carried it out). `live_status`: the latest
    /// status line of the running process.
    static let schemaV1 = """
        CREATE TABLE live_session (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            name TEXT NOT NULL,
            venue TEXT NOT NULL,
            symbol TEXT NOT NULL,
            interval_ms INTEGER NOT NULL CHECK (interval_ms > 0),
            config TEXT NOT NULL,
            size_fraction_raw INTEGER NOT NULL CHECK (size_fraction_raw > 0),
            paper_session TEXT,
            skipped_paper_gate INTEGER NOT NULL CHECK (skipped_paper_gate IN (0, 1)),
            tag TEXT NOT NULL,
            created_ms INTEGER NOT NULL
        ) STRICT;

        CREATE TABLE live_input (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            time_ms INTEGER NOT NULL,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL
        ) STRICT;

        CREATE TABLE live_journal (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            time_ms INTEGER NOT NULL,
            event TEXT NOT NULL,
            line TEXT NOT NULL
        ) STRICT;

        CREATE TABLE live_run (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            pid INTEGER NOT NULL,
            started_ms INTEGER NOT NULL,
            ended_ms INTEGER,
            status TEXT NOT NULL
        ) STRICT;

        CREATE TABLE live_stop (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            requested_ms INTEGER NOT NULL,
            flatten INTEGER NOT NULL CHECK (flatten IN (0, 1)),
            reason TEXT NOT NULL,
            handled_input INTEGER
        ) STRICT;

        CREATE TABLE live_status (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            time_ms INTEGER NOT NULL,
            json TEXT NOT NULL
        ) STRICT;
        """
}
