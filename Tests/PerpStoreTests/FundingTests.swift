import PerpModel
import Testing

@testable import PerpStore

@Suite struct FundingTests {
    let hour: Int64 = 3_600_000

    func rate(_ hourIndex: Int64, _ raw: Int64, interval: TimeSpan = .hours(1)) -> FundingRate {
        FundingRate(
            time: Timestamp(milliseconds: hourIndex * hour), rate: Rate(raw: raw),
            interval: interval)
    }

    @Test func roundTripKeepsExactRawValuesAndIntervals() throws {
        let store = try MarketDataStore.inMemory()
        let rates = [
            rate(0, Rate("0.0000320592")!.raw),  // 32_059_200 at scale 10^12
            rate(1, -1),
            rate(8, Int64.max, interval: .hours(8)),
            rate(12, Int64.min, interval: .hours(4)),
        ]
        #expect(rates[0].rate.raw == 32_059_200)
        try store.saveFunding(rates.reversed(), key: fundingKey)
        #expect(try store.loadFunding(key: fundingKey, from: nil, to: nil) == rates)
    }

    @Test func boundsAreHalfOpenAndUpsertReplaces() throws {
        let store = try MarketDataStore.inMemory()
        try store.saveFunding(
            [rate(0, 10), rate(1, 11), rate(2, 12), rate(3, 13)], key: fundingKey)
        try store.saveFunding([rate(2, -99, interval: .hours(8))], key: fundingKey)
        let loaded = try store.loadFunding(
            key: fundingKey, from: Timestamp(milliseconds: hour),
            to: Timestamp(milliseconds: 3 * hour))
        #expect(loaded == [rate(1, 11), rate(2, -99, interval: .hours(8))])
    }

    @Test func fundingAndCandlesWithTheSameKeyStayApart() throws {
        let store = try MarketDataStore.inMemory()
        try store.saveFundingPage([rate(0, 5)], key: minuteKey, covering: minutes(0, 60))
        #expect(try store.loadCandles(key: minuteKey, from: nil, to: nil).isEmpty)
        #expect(try store.coveredRanges(of: .candles, key: minuteKey).isEmpty)
        #expect(try store.coveredRanges(of: .funding, key: minuteKey) == [minutes(0, 60)])
        #expect(try store.loadFunding(key: minuteKey, from: nil, to: nil) == [rate(0, 5)])
    }

    @Test func nonPositiveRateIntervalIsRejected() throws {
        let store = try MarketDataStore.inMemory()
        #expect(throws: StoreError.self) {
            try store.saveFunding(
                [rate(0, 1), rate(1, 1, interval: TimeSpan(milliseconds: 0))], key: fundingKey)
        }
        #expect(try store.loadFunding(key: fundingKey, from: nil, to: nil).isEmpty)
    }
}
