import Foundation
import GRDB
import Testing

@testable import PerpStore

/// A session file written before 'bad_response' and 'missing_bars' events existed opens with
/// its events and their order kept (issue 11).
@Suite struct PaperMigrationTests {
    @Test func aVersion1SessionIsRebuiltWithItsEventsKept() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-paper-v1-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("old.sqlite").path
        do {
            var migrator = DatabaseMigrator()
            migrator.registerMigration("journal-v1") { db in try db.execute(sql: Schema.journalV1) }
            migrator.registerMigration(Schema.paperMigrationID) { db in try db.execute(sql: Schema.paperV1) }
            let queue = try DatabaseQueue(path: path)
            try migrator.migrate(queue)
            try queue.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO paper_session (id, mode, name, venue, symbol, interval_ms, capital_raw, config, venue_config, created_ms)
                        VALUES (1, 'paper', 'old', 'binance-usdm', 'NMRUSDT', 900000, 1000000000000, '', 'x', 0);
                        INSERT INTO paper_event (kind, time_ms, text, received_ms) VALUES ('bad_data', 5, 'first', 1);
                        INSERT INTO paper_event (kind, time_ms, text, live, received_ms) VALUES ('feed', 6, 'second', 1, 1);
                        DELETE FROM paper_event WHERE seq = 1;
                        INSERT INTO paper_event (kind, time_ms, text, received_ms) VALUES ('bad_data', 7, 'third', 1);
                        """)
            }
        }
        let store = try PaperStore(path: path)
        #expect(try store.info()?.name == "old")
        #expect(try store.events().count == 2)
        try store.checkIntegrity()
        let reader = try DatabaseQueue(path: path)
        let rows = try reader.read { db in try Row.fetchAll(db, sql: "SELECT seq, text FROM paper_event ORDER BY seq") }
        #expect(rows.map { $0["seq"] as Int64 } == [2, 3])
        #expect(rows.map { $0["text"] as String } == ["second", "third"])
        // AUTOINCREMENT goes on from the highest seq ever used, not from a reused one.
        try reader.write { db in
            try db.execute(sql: "INSERT INTO paper_event (kind, time_ms, text, received_ms) VALUES ('bad_response', 8, 'x', 1)")
        }
        let next = try reader.read { db in try Int64.fetchOne(db, sql: "SELECT max(seq) FROM paper_event") }
        #expect(next == 4)
    }
}
