import PerpMarketData
import PerpModel
import Testing

/// Data gaps: reported with the number of missing bars, never bridged (Errors.swift; spec §1).
@Suite("Gaps")
struct GapTests {
    static let fiveMinutes: Int64 = 300_000

    @Test("missing bars are counted between the bars around each hole")
    func counts() throws {
        // 5-minute bars at minutes 0, 5, 10, 25, 30, 45, 50: two holes of two bars, then none.
        let minutes: [Int64] = [0, 5, 10, 25, 30, 45, 50]
        let text = "open_time_ms,open,high,low,close\n" + minutes.map { "\($0 * 60_000),1,1,1,1" }.joined(separator: "\n")
        let series = try candles(text)
        #expect(series.barInterval == .minutes(5))
        #expect(
            series.gaps() == [
                DataGap(after: Timestamp(milliseconds: 10 * 60_000), before: Timestamp(milliseconds: 25 * 60_000), missingBars: 2),
                DataGap(after: Timestamp(milliseconds: 30 * 60_000), before: Timestamp(milliseconds: 45 * 60_000), missingBars: 2),
            ])
    }

    @Test(
        "gap sizes",
        arguments: [
            ([Int64(0), 1, 2, 3], [Int64]()),  // no gap
            ([0, 1, 3], [1]),
            ([0, 1, 2, 12], [9]),
            ([0, 1, 289], [287]),  // a day of 5-minute bars minus one
            ([0, 1, 3, 4, 8], [1, 3]),
        ])
    func sizes(bars: [Int64], missing: [Int64]) {
        let series = CandleSeries(bars.map { bar($0 * Self.fiveMinutes, "1", "1", "1", "1") })
        #expect(series.gaps().map(\.missingBars) == missing)
        #expect(series.gaps().allSatisfy { $0.before.milliseconds - $0.after.milliseconds == ($0.missingBars + 1) * Self.fiveMinutes })
    }

    @Test("fewer than two bars have no interval and no gaps")
    func tiny() {
        #expect(CandleSeries().gaps() == [])
        #expect(CandleSeries().barInterval == nil)
        let one = CandleSeries([bar(0, "1", "1", "1", "1")])
        #expect(one.gaps() == [])
        #expect(one.barInterval == nil)
    }

    @Test("slicing keeps [from, to) and lowerBound finds the first bar at or after a time")
    func slicing() {
        let series = CandleSeries((0..<10).map { bar(Int64($0) * Self.fiveMinutes, "1", "2", "1", "1") })
        let slice = series.slice(from: Timestamp(milliseconds: 2 * Self.fiveMinutes), to: Timestamp(milliseconds: 5 * Self.fiveMinutes))
        #expect(slice.openTimes == [2, 3, 4].map { $0 * Self.fiveMinutes })
        #expect(series.slice(from: nil, to: nil) == series)
        #expect(series.slice(from: Timestamp(milliseconds: 1), to: Timestamp(milliseconds: 2)).isEmpty)
        #expect(series.lowerBound(Self.fiveMinutes + 1) == 2)
        #expect(series.lowerBound(-5) == 0)
        #expect(series.lowerBound(10 * Self.fiveMinutes) == 10)
    }
}
