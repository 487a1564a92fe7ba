import PerpModel
import Testing

@testable import PerpStore

@Suite struct CoverageTests {
    @Test(
        arguments: [
            // Disjoint ranges stay apart, in order, whatever the order they were recorded in.
            ([(20, 30), (0, 10)], [(0, 10), (20, 30)]),
            // Overlapping.
            ([(0, 10), (5, 15)], [(0, 15)]),
            ([(5, 15), (0, 10)], [(0, 15)]),
            // Adjacent (half-open ranges that touch).
            ([(0, 10), (10, 20)], [(0, 20)]),
            ([(10, 20), (0, 10)], [(0, 20)]),
            // Contained in, or containing, a stored range.
            ([(0, 30), (10, 20)], [(0, 30)]),
            ([(10, 20), (0, 30)], [(0, 30)]),
            // Bridging several stored ranges.
            ([(0, 5), (10, 15), (20, 25), (30, 35), (4, 21)], [(0, 25), (30, 35)]),
            // Recording the same range twice; an empty range changes nothing.
            ([(0, 10), (0, 10), (50, 50)], [(0, 10)]),
            // One past the end of a stored range is not adjacent.
            ([(0, 10), (11, 20)], [(0, 10), (11, 20)]),
        ] as [([(Int64, Int64)], [(Int64, Int64)])])
    func recordingMerges(recorded: [(Int64, Int64)], expected: [(Int64, Int64)]) throws {
        let store = try MarketDataStore.inMemory()
        for (from, to) in recorded {
            try store.recordCoverage(
                of: .candles, key: minuteKey, from: minute(from), to: minute(to))
        }
        #expect(
            try store.coveredRanges(of: .candles, key: minuteKey)
                == expected.map { minutes($0.0, $0.1) })
    }

    @Test(
        arguments: [
            // Nothing covered: the whole query.
            ([], (0, 100), [(0, 100)]),
            // All covered, exactly or with room to spare.
            ([(0, 100)], (0, 100), []),
            ([(-50, 150)], (0, 100), []),
            ([(0, 50), (50, 100)], (0, 100), []),
            // Hole at the start, in the middle, at the end.
            ([(30, 100)], (0, 100), [(0, 30)]),
            ([(0, 30), (60, 100)], (0, 100), [(30, 60)]),
            ([(0, 70)], (0, 100), [(70, 100)]),
            // Holes everywhere.
            ([(10, 20), (40, 50), (80, 90)], (0, 100), [(0, 10), (20, 40), (50, 80), (90, 100)]),
            // Coverage outside the query does not matter.
            ([(-20, -10), (110, 120)], (0, 100), [(0, 100)]),
            // Query inside one hole, or straddling a range's ends.
            ([(0, 10), (90, 100)], (20, 30), [(20, 30)]),
            ([(0, 50)], (40, 60), [(50, 60)]),
            ([(50, 100)], (40, 60), [(40, 50)]),
            // An empty query.
            ([], (10, 10), []),
        ] as [([(Int64, Int64)], (Int64, Int64), [(Int64, Int64)])])
    func missingRanges(covered: [(Int64, Int64)], query: (Int64, Int64), expected: [(Int64, Int64)])
        throws
    {
        let store = try MarketDataStore.inMemory()
        for (from, to) in covered {
            try store.recordCoverage(
                of: .funding, key: fundingKey, from: minute(from), to: minute(to))
        }
        let missing = try store.missingRanges(
            of: .funding, key: fundingKey, from: minute(query.0), to: minute(query.1))
        #expect(missing == expected.map { minutes($0.0, $0.1) })
    }

    @Test func coverageIsPerKindAndPerKey() throws {
        let store = try MarketDataStore.inMemory()
        try store.recordCoverage(of: .candles, key: minuteKey, from: minute(0), to: minute(10))
        var fiveMinutes = minuteKey
        fiveMinutes.interval = .minutes(5)
        #expect(
            try store.missingRanges(of: .funding, key: minuteKey, from: minute(0), to: minute(10))
                == [
                    minutes(0, 10)
                ])
        #expect(
            try store.missingRanges(of: .candles, key: fiveMinutes, from: minute(0), to: minute(10))
                == [
                    minutes(0, 10)
                ])
        #expect(
            try store.missingRanges(of: .candles, key: minuteKey, from: minute(0), to: minute(10))
                == [])
    }

    @Test func invertedRangesAreRejected() throws {
        let store = try MarketDataStore.inMemory()
        #expect(throws: StoreError.invalidRange(from: minute(5), to: minute(4))) {
            try store.recordCoverage(of: .candles, key: minuteKey, from: minute(5), to: minute(4))
        }
        #expect(throws: StoreError.invalidRange(from: minute(5), to: minute(4))) {
            try store.missingRanges(of: .candles, key: minuteKey, from: minute(5), to: minute(4))
        }
        #expect(throws: StoreError.invalidRange(from: minute(5), to: minute(4))) {
            try store.saveCandlesPage(bars([4]), key: minuteKey, covering: minutes(5, 4))
        }
    }
}
