import GRDB
import PerpModel
import Testing

@testable import PerpStore

/// A page (its rows plus its coverage) is stored in one transaction.
@Suite struct PageTests {
    @Test func pageStoresBarsAndCoverage() throws {
        let store = try MarketDataStore.inMemory()
        try store.saveCandlesPage(bars([0, 1, 2]), key: minuteKey, covering: minutes(0, 3))
        try store.saveCandlesPage(bars([3, 4]), key: minuteKey, covering: minutes(3, 5))
        #expect(try store.loadCandles(key: minuteKey, from: nil, to: nil) == bars([0, 1, 2, 3, 4]))
        #expect(try store.coveredRanges(of: .candles, key: minuteKey) == [minutes(0, 5)])
        #expect(
            try store.missingRanges(of: .candles, key: minuteKey, from: minute(0), to: minute(8))
                == [minutes(5, 8)])
    }

    @Test func anEmptyPageRecordsAVenueGap() throws {
        let store = try MarketDataStore.inMemory()
        try store.saveCandlesPage(CandleSeries(), key: minuteKey, covering: minutes(0, 1_440))
        try store.saveFundingPage([], key: fundingKey, covering: minutes(0, 1_440))
        #expect(
            try store.missingRanges(
                of: .candles, key: minuteKey, from: minute(0), to: minute(1_440))
                == [])
        #expect(
            try store.missingRanges(
                of: .funding, key: fundingKey, from: minute(0), to: minute(1_440))
                == [])
        #expect(try store.loadCandles(key: minuteKey, from: nil, to: nil).isEmpty)
    }

    /// Installs a trigger that aborts the statement matching `condition` on `table`.
    func failInsert(into table: String, when condition: String, _ store: MarketDataStore) throws {
        try store.writer.write { db in
            try db.execute(
                sql: """
                    CREATE TRIGGER forced_failure_\(table) BEFORE INSERT ON \(table)
                    WHEN \(condition) BEGIN SELECT RAISE(ABORT, 'forced failure'); END
                    """)
        }
    }

    @Test func candlePageFailingMidwayLeavesNeitherBarsNorCoverage() throws {
        let store = try MarketDataStore.inMemory()
        try store.saveCandlesPage(bars([0, 1]), key: minuteKey, covering: minutes(0, 2))
        // The fourth bar of the next page fails after three were inserted.
        try failInsert(into: "candle", when: "NEW.open_time_ms = \(minute(5).milliseconds)", store)
        let error = #expect(throws: StoreError.self) {
            try store.saveCandlesPage(
                bars([2, 3, 4, 5, 6]), key: minuteKey, covering: minutes(2, 7))
        }
        #expect(error?.description.contains("forced failure") == true)
        #expect(try store.loadCandles(key: minuteKey, from: nil, to: nil) == bars([0, 1]))
        #expect(try store.coveredRanges(of: .candles, key: minuteKey) == [minutes(0, 2)])
    }

    @Test func candlePageWhoseCoverageFailsLeavesNoBars() throws {
        let store = try MarketDataStore.inMemory()
        try failInsert(into: "coverage", when: "1", store)
        #expect(throws: StoreError.self) {
            try store.saveCandlesPage(bars([0, 1, 2]), key: minuteKey, covering: minutes(0, 3))
        }
        #expect(try store.loadCandles(key: minuteKey, from: nil, to: nil).isEmpty)
        #expect(try store.coveredRanges(of: .candles, key: minuteKey).isEmpty)
    }

    @Test func fundingPageFailingMidwayLeavesNeitherRatesNorCoverage() throws {
        let store = try MarketDataStore.inMemory()
        try failInsert(into: "funding", when: "NEW.time_ms = 7200000", store)
        let rates = (0..<4).map {
            FundingRate(
                time: Timestamp(milliseconds: $0 * 3_600_000), rate: Rate(raw: $0),
                interval: .hours(1))
        }
        #expect(throws: StoreError.self) {
            try store.saveFundingPage(rates, key: fundingKey, covering: minutes(0, 240))
        }
        #expect(try store.loadFunding(key: fundingKey, from: nil, to: nil).isEmpty)
        #expect(try store.coveredRanges(of: .funding, key: fundingKey).isEmpty)
    }
}
