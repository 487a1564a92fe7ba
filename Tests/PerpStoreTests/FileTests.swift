import Foundation
import GRDB
import PerpModel
import Synchronization
import Testing

@testable import PerpStore

@Suite struct FileTests {
    @Test func reopeningAFileFindsTheData() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // The parent folders do not exist yet.
        let path = folder.appendingPathComponent("nested/cache/market.sqlite").path
        let rates = [
            FundingRate(time: minute(60), rate: Rate(raw: -32_059_200), interval: .hours(8))
        ]
        do {
            let store = try MarketDataStore(path: path)
            try store.saveCandlesPage(bars([0, 1, 2]), key: minuteKey, covering: minutes(0, 3))
            try store.saveFundingPage(rates, key: fundingKey, covering: minutes(0, 480))
            try expectDurableSettings(store.writer)
        }
        let reopened = try MarketDataStore(path: path)
        #expect(reopened.path == path)
        #expect(try reopened.loadCandles(key: minuteKey, from: nil, to: nil) == bars([0, 1, 2]))
        #expect(try reopened.loadFunding(key: fundingKey, from: nil, to: nil) == rates)
        #expect(try reopened.coveredRanges(of: .candles, key: minuteKey) == [minutes(0, 3)])
        #expect(
            try reopened.missingRanges(
                of: .funding, key: fundingKey, from: minute(0), to: minute(500))
                == [minutes(480, 500)])
        try reopened.checkIntegrity()
    }

    /// Several connections opening one new file at the same instant (two backtests started
    /// together) all end with the schema, none with "table … already exists".
    @Test func connectionsOpeningANewFileTogetherAllMigrateIt() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let failures = Mutex<[String]>([])
        for round in 0..<40 {
            let path = folder.appendingPathComponent("journal-\(round).sqlite").path
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                do { _ = try JournalStore(path: path) } catch { failures.withLock { $0.append("round \(round): \(error)") } }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
    }

    @Test func aFileThatIsNotADatabaseIsReportedCorrupt() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("market.sqlite").path
        try Data(repeating: 0xA5, count: 8_192).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: StoreError.self) { try MarketDataStore(path: path) }
        guard case .corrupt(let reportedPath, _) = error else {
            Issue.record("unexpected error \(String(describing: error))")
            return
        }
        #expect(reportedPath == path)
        #expect(error?.description.hasPrefix("database at \(path) is corrupt: ") == true)
    }

    @Test func aFolderThatCannotBeCreatedIsReported() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let blocker = folder.appendingPathComponent("file")
        try Data("x".utf8).write(to: blocker)
        let path = blocker.appendingPathComponent("sub/market.sqlite").path
        let error = #expect(throws: StoreError.self) { try MarketDataStore(path: path) }
        guard case .cannotOpen(let reportedPath, _) = error else {
            Issue.record("unexpected error \(String(describing: error))")
            return
        }
        #expect(reportedPath == path)
        #expect(
            error?.description
                == "cannot open database at \(path): cannot create folder \(blocker.path)/sub: Not a directory"
        )
    }

    @Test func aDatabaseFromANewerBuildIsRefused() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("market.sqlite").path
        do {
            let store = try MarketDataStore(path: path)
            try store.writer.write { db in
                try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99')")
            }
        }
        #expect(throws: StoreError.newerSchema(path: path, unknownMigrations: ["v99"])) {
            try MarketDataStore(path: path)
        }
    }

    @Test func errorMessagesAreOneLine() {
        let errors: [StoreError] = [
            .cannotOpen(
                path: "/x/y.sqlite", reason: "unable to open database file (SQLite code 14)"),
            .corrupt(path: "/x/y.sqlite", reason: "file is not a database (SQLite code 26)"),
            .newerSchema(path: "/x/y.sqlite", unknownMigrations: ["v2", "v3"]),
            .invalidRange(from: minute(2), to: minute(1)),
            .invalidKey(minuteKey, reason: "interval must be positive, got 0ms"),
            .invalidCandle(minuteKey, index: 3, openTime: minute(3), reason: "negative volume"),
            .invalidFunding(
                fundingKey, index: 0, time: minute(0), reason: "interval must be positive"),
            .database(operation: "saving candles", reason: "disk I/O error (SQLite code 10)"),
        ]
        for error in errors {
            #expect(!error.description.contains("\n"))
            #expect(!error.description.isEmpty)
        }
        #expect(
            StoreError.invalidCandle(
                minuteKey, index: 3, openTime: minute(3), reason: "negative volume"
            )
            .description
                == "invalid candle #3 at 1970-01-01T00:03:00Z in binance-spot NMRUSDT 1m: negative volume"
        )
    }
}
