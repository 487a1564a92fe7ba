import PerpModel
import Testing

@testable import PerpStore

@Suite struct CandleTests {
    @Test func roundTripKeepsExactRawValues() throws {
        let store = try MarketDataStore.inMemory()
        // Values that a Double could not carry exactly (above 2^53), and one-step differences.
        let series = CandleSeries(
            validatedOpenTimes: [1_700_000_000_000, 1_700_000_060_000],
            opens: [9_007_199_254_740_993, 1],
            highs: [9_007_199_254_740_995, 3],
            lows: [9_007_199_254_740_991, 1],
            closes: [9_007_199_254_740_994, 2],
            volumes: [0, 9_223_372_036_854_775_807])
        try store.saveCandles(series, key: minuteKey)
        let loaded = try store.loadCandles(key: minuteKey, from: nil, to: nil)
        #expect(loaded == series)
    }

    @Test func saveInAnyOrderOfPagesLoadsInTimeOrder() throws {
        let store = try MarketDataStore.inMemory()
        try store.saveCandles(bars([5, 6, 7]), key: minuteKey)
        try store.saveCandles(bars([1, 2, 3]), key: minuteKey)
        let loaded = try store.loadCandles(key: minuteKey, from: nil, to: nil)
        #expect(loaded == bars([1, 2, 3, 5, 6, 7]))
    }

    @Test func upsertReplacesABar() throws {
        let store = try MarketDataStore.inMemory()
        try store.saveCandles(bars([1, 2, 3]), key: minuteKey)
        try store.saveCandles(CandleSeries([bar(2, base: 42_000_000)]), key: minuteKey)
        let loaded = try store.loadCandles(key: minuteKey, from: nil, to: nil)
        #expect(loaded.count == 3)
        #expect(loaded[0] == bar(1))
        #expect(loaded[1] == bar(2, base: 42_000_000))
        #expect(loaded[2] == bar(3))
    }

    @Test(
        arguments: [
            (nil, nil, [Int64(0), 1, 2, 3, 4]),
            (1, nil, [1, 2, 3, 4]),
            (nil, 3, [0, 1, 2]),
            (1, 3, [1, 2]),
            (2, 2, []),
            (5, 9, []),
            (-10, 1, [0]),
        ] as [(Int64?, Int64?, [Int64])])
    func loadIsHalfOpen(from: Int64?, to: Int64?, expected: [Int64]) throws {
        let store = try MarketDataStore.inMemory()
        try store.saveCandles(bars([0, 1, 2, 3, 4]), key: minuteKey)
        let loaded = try store.loadCandles(
            key: minuteKey, from: from.map(minute), to: to.map(minute))
        #expect(loaded == bars(expected))
    }

    @Test func seriesWithOtherKeysStayApart() throws {
        let store = try MarketDataStore.inMemory()
        var fiveMinutes = minuteKey
        fiveMinutes.interval = .minutes(5)
        var otherSource = minuteKey
        otherSource.source = "binance-usdm"
        try store.saveCandles(bars([1, 2]), key: minuteKey)
        try store.saveCandles(bars([5], base: 2), key: fiveMinutes)
        #expect(try store.loadCandles(key: minuteKey, from: nil, to: nil) == bars([1, 2]))
        #expect(try store.loadCandles(key: fiveMinutes, from: nil, to: nil) == bars([5], base: 2))
        #expect(try store.loadCandles(key: otherSource, from: nil, to: nil).isEmpty)
    }

    @Test(arguments: [
        (
            CandleSeries(
                validatedOpenTimes: [0, 60_000], opens: [5, 5], highs: [6, 6], lows: [4, 7],
                closes: [5, 5], volumes: [1, 1]), 1
        ),
        (
            CandleSeries(
                validatedOpenTimes: [0, 0], opens: [5, 5], highs: [6, 6], lows: [4, 4],
                closes: [5, 5], volumes: [1, 1]), 1
        ),
        (
            CandleSeries(
                validatedOpenTimes: [0], opens: [0], highs: [0], lows: [0], closes: [0],
                volumes: [1]), 0
        ),
        (
            CandleSeries(
                validatedOpenTimes: [0], opens: [5], highs: [6], lows: [4], closes: [5],
                volumes: [-1]), 0
        ),
    ])
    func badBarIsRejectedWithItsIndexAndNothingIsWritten(series: CandleSeries, index: Int) throws {
        let store = try MarketDataStore.inMemory()
        let error = #expect(throws: StoreError.self) {
            try store.saveCandlesPage(series, key: minuteKey, covering: minutes(0, 10))
        }
        guard case .invalidCandle(let key, let badIndex, _, _) = error else {
            Issue.record("unexpected error \(String(describing: error))")
            return
        }
        #expect(key == minuteKey)
        #expect(badIndex == index)
        #expect(try store.loadCandles(key: minuteKey, from: nil, to: nil).isEmpty)
        #expect(try store.coveredRanges(of: .candles, key: minuteKey).isEmpty)
    }

    @Test func nonPositiveIntervalIsRejected() throws {
        let store = try MarketDataStore.inMemory()
        var key = minuteKey
        key.interval = TimeSpan(milliseconds: 0)
        #expect(throws: StoreError.self) { try store.saveCandles(bars([1]), key: key) }
    }
}
