import Foundation
import GRDB
import PerpEngine
import PerpModel
import Testing

@testable import PerpStore

/// An entry with every optional field set, its values derived from `n`.
private func fullEntry(_ n: Int64) -> JournalEntry {
    JournalEntry(
        time: Timestamp(milliseconds: 1_704_067_200_000 + n * 60_000 + 250), event: .entry, side: n % 2 == 0 ? .long : .short,
        price: Price(raw: 1_764_705_882 + n), quantity: Quantity(raw: -123_456_789_012 - n), leverage: Rate(raw: 3_000_000_000_001),
        reason: "momentum and basis agree \(n)",
        signals: [("zeta", 0.1), ("alpha", -1.0 / 3.0), ("mid", 1e-300), ("big", 6.02214076e23), ("zero", -0.0), ("one", 1)],
        fee: Notional(raw: 52_941), funding: Notional(raw: -3_205_920), pnl: Notional(raw: Int64.min + 1),
        note: "line one\nline \"two\"\t→ ünïcode")
}

/// An entry with every optional field unset.
private func bareEntry(_ n: Int64) -> JournalEntry {
    JournalEntry(time: Timestamp(milliseconds: n), event: .staleFeed, reason: "no bar for \(n) minutes")
}

@Suite struct JournalTests {
    @Test func entriesRoundTripExactly() throws {
        let journal = try JournalStore.inMemory()
        let entries = [
            fullEntry(1), bareEntry(2), fullEntry(3),
            JournalEntry(
                time: Timestamp(milliseconds: -1), event: .circuitBreaker, price: Price(raw: Int64.max), leverage: Rate(raw: 0),
                reason: "", signals: [("dup", 1.5), ("dup", 2.5)], pnl: Notional(raw: 0)),
        ]
        try journal.append(entries, run: "backtest-1")
        let loaded = try journal.entries(run: "backtest-1")
        #expect(loaded == entries)
        // `==` compares signals too; check names, order and exact bits explicitly anyway.
        for (got, want) in zip(loaded, entries) {
            #expect(got.signals.map(\.0) == want.signals.map(\.0))
            #expect(got.signals.map(\.1.bitPattern) == want.signals.map(\.1.bitPattern))
        }
        #expect(try journal.entries(run: "unknown").isEmpty)
    }

    @Test func everyEventRoundTrips() throws {
        let journal = try JournalStore.inMemory()
        let entries = JournalEvent.allCases.enumerated().map { index, event in
            JournalEntry(time: Timestamp(milliseconds: Int64(index)), event: event, reason: event.rawValue)
        }
        try journal.append(entries, run: "events")
        #expect(try journal.entries(run: "events") == entries)
    }

    @Test func nonFiniteSignalsRoundTrip() throws {
        let journal = try JournalStore.inMemory()
        let entry = JournalEntry(
            time: Timestamp(milliseconds: 0), event: .badData, reason: "x",
            signals: [("nan", .nan), ("up", .infinity), ("down", -.infinity)])
        try journal.append([entry], run: "r")
        let loaded = try #require(try journal.entries(run: "r").first)
        #expect(loaded.signals.map(\.0) == ["nan", "up", "down"])
        #expect(loaded.signals[0].1.isNaN)
        #expect(loaded.signals[1].1 == .infinity)
        #expect(loaded.signals[2].1 == -.infinity)
    }

    @Test func runsAreKeptApartAndListedInOrderOfFirstAppend() throws {
        let journal = try JournalStore.inMemory()
        #expect(try journal.runs().isEmpty)
        try journal.append([fullEntry(1)], run: "paper-b")
        try journal.append([bareEntry(1), bareEntry(2)], run: "backtest-a")
        try journal.append([fullEntry(2)], run: "paper-b")
        try journal.append([], run: "empty")
        #expect(try journal.runs() == ["paper-b", "backtest-a"])
        #expect(try journal.entries(run: "paper-b") == [fullEntry(1), fullEntry(2)])
        #expect(try journal.entries(run: "backtest-a") == [bareEntry(1), bareEntry(2)])
        #expect(try journal.entries(run: "empty").isEmpty)
    }

    @Test func insertionOrderIsKeptEvenWhenTimesGoBackwards() throws {
        let journal = try JournalStore.inMemory()
        let times: [Int64] = [50, 10, 10, 40, -5, 30]
        var appended: [JournalEntry] = []
        for slice in [times[0..<2], times[2..<3], times[3...]] {
            let entries = slice.map { bareEntry($0) }
            try journal.append(entries, run: "order")
            appended += entries
        }
        let loaded = try journal.entries(run: "order")
        #expect(loaded.map(\.time.milliseconds) == times)
        #expect(loaded == appended)
    }

    @Test func jsonlLinesParseBackWithTheDocumentedKeys() throws {
        let entries = [fullEntry(1), bareEntry(2)]
        let text = JournalJSONL.render(entries)
        #expect(text.hasSuffix("\n"))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3)
        #expect(lines.last == "")
        for (line, entry) in zip(lines, entries) {
            let value = try JSONParser.parse(String(line))
            #expect(value == entry.json)
            guard case .object(let members) = value else {
                Issue.record("line is not an object: \(line)")
                continue
            }
            #expect(
                Array(members.map(\.0).prefix(7)) == ["time", "event", "side", "price", "quantity", "leverage", "reason"])
            #expect(value["time"]?.stringValue == entry.time.iso8601)
            #expect(Timestamp(parsing: value["time"]?.stringValue ?? "") == entry.time)
            #expect(value["event"]?.stringValue == entry.event.rawValue)
        }
        let full = try JSONParser.parse(String(lines[0]))
        #expect(full["time"]?.stringValue == "2024-01-01T00:01:00.250Z")
        #expect(full["side"]?.stringValue == "short")
        #expect(full["price"]?.numericText.flatMap(Price.init) == Price(raw: 1_764_705_883))
        #expect(full["quantity"]?.numericText.flatMap(Quantity.init) == Quantity(raw: -123_456_789_013))
        #expect(full["leverage"]?.numericText.flatMap(Rate.init) == Rate(raw: 3_000_000_000_001))
        #expect(full["reason"]?.stringValue == "momentum and basis agree 1")
        let bare = try JSONParser.parse(String(lines[1]))
        #expect(bare["side"] == .null)
        #expect(bare["price"] == .null)
        #expect(bare["quantity"] == .null)
        #expect(bare["leverage"] == .null)
        #expect(bare["event"]?.stringValue == "stale_feed")
        #expect(JournalJSONL.render([]) == "")
    }

    @Test func anUnknownEventIsACorruptJournalNotACrash() throws {
        let journal = try JournalStore.inMemory()
        try journal.append([fullEntry(1)], run: "r")
        try journal.writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO journal (run, time_ms, event, reason, signals, note)
                    VALUES ('r', 0, 'bogus', 'tampered', '{}', '')
                    """)
        }
        let error = #expect(throws: StoreError.self) { try journal.entries(run: "r") }
        let expected = StoreError.corrupt(path: ":memory:", reason: "journal row 2: unknown event \"bogus\"")
        #expect(error == expected)
        #expect(error?.description == "database at :memory: is corrupt: journal row 2: unknown event \"bogus\"")
        #expect(throws: expected) { try journal.checkIntegrity() }
        // The good row's run is still listed; reading it is what fails.
        #expect(try journal.runs() == ["r"])
    }

    @Test(arguments: [
        ("{\"a\":1", "signals are not valid JSON"),
        ("[1,2]", "signals are not a JSON object"),
        ("{\"a\":true}", "signal \"a\" is not a number"),
        ("{\"a\":\"1.5\"}", "signal \"a\" is not a number"),
    ])
    func brokenSignalsAreACorruptJournal(signals: String, problem: String) throws {
        let journal = try JournalStore.inMemory()
        try journal.writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO journal (run, time_ms, event, reason, signals, note)
                    VALUES ('r', 0, 'entry', 'tampered', ?, '')
                    """,
                arguments: [signals])
        }
        let error = #expect(throws: StoreError.self) { try journal.entries(run: "r") }
        guard case .corrupt(_, let reason) = error else {
            Issue.record("unexpected error \(String(describing: error))")
            return
        }
        #expect(reason.hasPrefix("journal row 1: \(problem)"))
        #expect(!reason.contains("\n"))
    }

    @Test func anUnknownSideIsACorruptJournal() throws {
        let journal = try JournalStore.inMemory()
        try journal.writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO journal (run, time_ms, event, side, reason, signals, note)
                    VALUES ('r', 0, 'entry', 'sideways', '', '{}', '')
                    """)
        }
        #expect(throws: StoreError.corrupt(path: ":memory:", reason: "journal row 1: unknown side \"sideways\"")) {
            try journal.entries(run: "r")
        }
    }

    @Test func aFileJournalIsDurableAndSurvivesReopening() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("state/journal.sqlite").path
        let first = [fullEntry(1), bareEntry(2)]
        do {
            let journal = try JournalStore(path: path)
            try journal.append(first, run: "paper-1")
            try expectDurableSettings(journal.writer)
        }
        let reopened = try JournalStore(path: path)
        #expect(reopened.path == path)
        try reopened.checkIntegrity()
        #expect(try reopened.runs() == ["paper-1"])
        #expect(try reopened.entries(run: "paper-1") == first)
        try reopened.append([fullEntry(3)], run: "paper-1")
        #expect(try reopened.entries(run: "paper-1") == first + [fullEntry(3)])
    }

    @Test func aTamperedFileBlocksAtTheIntegrityCheck() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("journal.sqlite").path
        do {
            let journal = try JournalStore(path: path)
            try journal.append([fullEntry(1)], run: "paper-1")
            try journal.writer.write { db in
                try db.execute(sql: "UPDATE journal SET event = 'bogus' WHERE id = 1")
            }
        }
        let reopened = try JournalStore(path: path)
        #expect(throws: StoreError.corrupt(path: path, reason: "journal row 1: unknown event \"bogus\"")) {
            try reopened.checkIntegrity()
        }
        #expect(throws: StoreError.self) { try reopened.entries(run: "paper-1") }
    }

    @Test func aFileOfGarbageIsReportedCorrupt() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("journal.sqlite").path
        try Data(repeating: 0x5A, count: 8_192).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: StoreError.self) { try JournalStore(path: path) }
        guard case .corrupt(let reportedPath, let reason) = error else {
            Issue.record("unexpected error \(String(describing: error))")
            return
        }
        #expect(reportedPath == path)
        #expect(!reason.contains("\n"))
    }

    @Test func damagedPagesFailTheIntegrityCheck() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("journal.sqlite").path
        do {
            let journal = try JournalStore(path: path)
            let many = (0..<2_000).map { fullEntry(Int64($0)) }
            try journal.append(many, run: "long")
            // Fold the WAL into the main file so the damage below hits the rows.
            try journal.writer.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            }
        }
        // Overwrite the middle of the file (past the header and schema pages) with garbage.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: size / 2)
        try handle.write(contentsOf: Data(repeating: 0xFF, count: 16_384))
        try handle.close()
        let outcome = Result { () throws(StoreError) in
            let journal = try JournalStore(path: path)
            try journal.checkIntegrity()
            _ = try journal.entries(run: "long")
        }
        guard case .failure(let error) = outcome else {
            Issue.record("a damaged journal passed the integrity check")
            return
        }
        guard case .corrupt(let reportedPath, let reason) = error else {
            Issue.record("unexpected error \(error)")
            return
        }
        #expect(reportedPath == path)
        #expect(!reason.contains("\n"))
    }

    @Test func aMarketCacheIsNotOpenedAsAJournal() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("market.sqlite").path
        _ = try MarketDataStore(path: path)
        #expect(throws: StoreError.cannotOpen(path: path, reason: "the file is a market-data cache, not a journal")) {
            try JournalStore(path: path)
        }
    }

    @Test func aJournalFromANewerBuildIsRefused() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("journal.sqlite").path
        do {
            let journal = try JournalStore(path: path)
            try journal.writer.write { db in
                try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('journal-v99')")
            }
        }
        #expect(throws: StoreError.newerSchema(path: path, unknownMigrations: ["journal-v99"])) {
            try JournalStore(path: path)
        }
    }
}

/// Issue 11: two backtests that start in the same millisecond (same run name) never share a run.
@Suite struct JournalNewRunTests {
    @Test func sameBaseNamesGetDistinctRunsEvenFromTwoConnectionsAtOnce() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("journal.sqlite").path
        _ = try JournalStore(path: path)
        let base = "backtest 2026-01-01T00:00:00.000Z nmr.csv"
        let names = NameBox()
        DispatchQueue.concurrentPerform(iterations: 4) { index in
            guard let store = try? JournalStore(path: path),
                let run = try? store.appendNewRun([bareEntry(Int64(index)), bareEntry(Int64(index) + 100)], base: base)
            else { return }
            names.add(run)
        }
        let runs = names.all
        #expect(runs.count == 4 && Set(runs) == [base, base + " #2", base + " #3", base + " #4"], "\(runs)")
        let store = try JournalStore(path: path)
        #expect(Set(try store.runs()) == Set(runs))
        for run in runs { #expect(try store.entries(run: run).count == 2, "each run holds its own two rows once") }
        #expect(try store.appendNewRun([], base: base) == base, "nothing to store: nothing stored")
        #expect(try store.runs().count == 4)
    }
}

private final class NameBox: @unchecked Sendable {
    private var names: [String] = []
    private let lock = NSLock()
    func add(_ name: String) {
        lock.lock()
        names.append(name)
        lock.unlock()
    }
    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return names
    }
}
