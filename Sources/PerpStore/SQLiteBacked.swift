import Foundation
import GRDB

#if canImport(Glibc)
    import Glibc
#endif

/// What the store's database files share: the path, the GRDB writer, and one way of turning
/// SQLite and file-system failures into one-line ``StoreError``s.
protocol SQLiteBacked {
    var path: String { get }
    var writer: any DatabaseWriter { get }
}

extension SQLiteBacked {
    /// Runs `body`, turning any error into a ``StoreError`` that names `operation`.
    func perform<T>(_ operation: String, _ body: () throws -> T) throws(StoreError) -> T {
        do {
            return try body()
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError where SQLiteErrors.isCorruption(error) {
            throw .corrupt(path: path, reason: SQLiteErrors.reason(error))
        } catch let error as DatabaseError {
            throw .database(operation: operation, reason: SQLiteErrors.reason(error))
        } catch {
            throw .database(operation: operation, reason: String(describing: error))
        }
    }

    /// Brings the file to `migrator`'s schema, safely when another process is doing the same.
    ///
    /// GRDB reads which migrations are applied before it takes the write lock, so two processes
    /// opening a new file together both decide to create the tables; the second then fails with
    /// "table … already exists" once the first commits (seen with two backtests started at once).
    /// Each migration runs in its own transaction, so the loser's attempt leaves nothing behind:
    /// it re-reads the applied migrations and is done when the other process has applied them
    /// all, or tries again for the rest.
    func migrate(_ migrator: DatabaseMigrator, _ operation: String) throws(StoreError) {
        var attempt = 0
        while true {
            do {
                try migrator.migrate(writer)
                return
            } catch {
                attempt += 1
                let applied = try perform("reading the schema version") {
                    try writer.read { db in try migrator.appliedIdentifiers(db) }
                }
                if Set(migrator.migrations).isSubset(of: applied) { return }
                if attempt >= 3 {
                    try perform(operation) { throw error }
                }
            }
        }
    }

    /// Runs `body` in one write transaction: either all of it is committed, or none.
    func write<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        try perform(operation) { try writer.write(body) }
    }

    /// Runs `body` on a consistent snapshot of the database.
    func read<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        try perform(operation) { try writer.read(body) }
    }
}

/// Opening the store's database files, and one-line descriptions of SQLite and file-system
/// failures.
enum SQLiteErrors {
    /// Opens (creating its folder if needed) a database file: WAL (GRDB's `DatabasePool`),
    /// `synchronous = FULL` on the connection that commits (GRDB sets NORMAL on its writer after
    /// `prepareDatabase`, which can lose the last commits on power loss), foreign keys on, and a
    /// 30 s wait for a lock held by another process (two backtests writing their journals into
    /// one file at once on a loaded machine waited past 10 s).
    static func openFile(path: String, configuration base: Configuration, busyTimeout: Double = 30) throws(StoreError) -> DatabasePool {
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw .cannotOpen(path: path, reason: "cannot create folder \(parent): \(describe(error))")
        }
        var configuration = base
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(busyTimeout)
        // Opening sets WAL mode, which needs a moment alone with the file: a second process
        // opening it at the same instant can get SQLITE_BUSY without the busy handler (seen with
        // two backtests starting together). Such an open is retried, with back-off, for up to
        // `busyTimeout` (a reader that waits under a second, the dashboard, tries once).
        var wait: useconds_t = 50_000
        var waited: useconds_t = 0
        while true {
            do {
                let pool = try DatabasePool(path: path, configuration: configuration)
                try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
                return pool
            } catch let error as DatabaseError
                where (error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED) && busyTimeout >= 1
                && Double(waited) < busyTimeout * 1e6
            {
                usleep(wait)
                waited += wait
                wait = min(wait * 2, 1_000_000)
                continue
            } catch {
                throw opened(error, path: path)
            }
        }
    }

    static func opened(_ error: any Error, path: String) -> StoreError {
        guard let error = error as? DatabaseError else { return .cannotOpen(path: path, reason: String(describing: error)) }
        return isCorruption(error) ? .corrupt(path: path, reason: reason(error)) : .cannotOpen(path: path, reason: reason(error))
    }

    /// An empty database in memory (tests, dry runs).
    static func openMemory(configuration: Configuration) throws(StoreError) -> DatabaseQueue {
        do { return try DatabaseQueue(configuration: configuration) } catch {
            throw .cannotOpen(path: ":memory:", reason: String(describing: error))
        }
    }

    /// A one-line reason for a file-system error: the POSIX message when there is one
    /// ("Not a directory"), rather than Foundation's generic wrapper.
    static func describe(_ error: any Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? any Error {
            let posix = underlying as NSError
            if posix.domain == NSPOSIXErrorDomain {
                return String(cString: strerror(Int32(posix.code)))
            }
        }
        return nsError.localizedDescription
    }

    static func isCorruption(_ error: DatabaseError) -> Bool {
        error.resultCode == .SQLITE_CORRUPT || error.resultCode == .SQLITE_NOTADB
    }

    static func reason(_ error: DatabaseError) -> String {
        let message = error.message ?? "unknown error"
        return oneLine("\(message) (SQLite code \(error.extendedResultCode.rawValue))")
    }

    /// `text` with line breaks replaced by spaces, for one-line error messages.
    static func oneLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }
}
