import Foundation
import GRDB
import PerpModel
import PerpStore
import Testing

/// One-minute bars of a made-up NMRUSDT feed.
let minuteKey = SeriesKey(source: "binance-spot", symbol: "NMRUSDT", interval: .minutes(1))
/// Hourly funding of a made-up perp.
let fundingKey = SeriesKey(source: "lighter", symbol: "NMR", interval: .hours(1))

/// Minute `n` after the epoch.
func minute(_ n: Int64) -> Timestamp { Timestamp(milliseconds: n * 60_000) }

/// `[minute(a), minute(b))`.
func minutes(_ a: Int64, _ b: Int64) -> TimeRange { TimeRange(from: minute(a), to: minute(b)) }

/// A valid bar at minute `n` whose raw values all derive from `base`.
func bar(_ n: Int64, base: Int64 = 150_000_000) -> Candle {
    Candle(
        openTime: minute(n), open: Price(raw: base + n), high: Price(raw: base + n + 7),
        low: Price(raw: base + n - 3), close: Price(raw: base + n + 1),
        volume: Quantity(raw: 1_000 * n)
    )
}

/// Bars at the given minutes.
func bars(_ times: [Int64], base: Int64 = 150_000_000) -> CandleSeries {
    CandleSeries(times.map { bar($0, base: base) })
}

/// A fresh folder under the system temporary folder, removed by the caller.
func temporaryFolder() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent(
        "PerpStoreTests-\(UUID().uuidString)", isDirectory: true)
}

/// Both database files must be WAL with `synchronous = FULL` on reads and on the writer (the
/// connection whose setting makes commits durable), with foreign keys on.
func expectDurableSettings(_ writer: any DatabaseWriter, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let pragmas = try writer.read { db in
        (
            try String.fetchOne(db, sql: "PRAGMA journal_mode"),
            try Int.fetchOne(db, sql: "PRAGMA synchronous"),
            try Int.fetchOne(db, sql: "PRAGMA foreign_keys")
        )
    }
    #expect(pragmas.0 == "wal", sourceLocation: sourceLocation)
    #expect(pragmas.1 == 2, sourceLocation: sourceLocation)  // FULL
    #expect(pragmas.2 == 1, sourceLocation: sourceLocation)
    let writerSynchronous = try writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
    #expect(writerSynchronous == 2, sourceLocation: sourceLocation)
}
