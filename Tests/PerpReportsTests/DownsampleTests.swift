import PerpReports
import Testing

/// The chart's thinning keeps every bucket's first, lowest, highest and last point.
@Suite struct DownsampleTests {
    @Test func aShortSeriesIsKeptWhole() {
        #expect(MinMaxDownsampler.indices(count: 7, buckets: 2) { Int64($0) } == Array(0..<7))
        #expect(MinMaxDownsampler.indices(count: 0, buckets: 10) { _ in 0 }.isEmpty)
    }

    @Test func aLoneSpikeAndATroughSurviveAndOrderIsKept() {
        // 43,200 flat points with one spike and one trough far from any bucket edge.
        let values: [Int64] = (0..<43_200).map { index in index == 12_345 ? 900 : (index == 30_001 ? -700 : 100) }
        let kept = MinMaxDownsampler.indices(count: values.count, buckets: 250) { values[$0] }
        #expect(kept.count <= 1000)
        #expect(kept.contains(12_345) && kept.contains(30_001))
        #expect(kept.first == 0 && kept.last == values.count - 1)
        #expect(zip(kept, kept.dropFirst()).allSatisfy { $0 < $1 })
    }

    @Test func everyBucketKeepsItsExtremes() {
        var random: UInt64 = 0x9E37_79B9_7F4A_7C15
        let values: [Int64] = (0..<10_000).map { _ in
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int64(truncatingIfNeeded: random >> 40)
        }
        let buckets = 100
        let kept = Set(MinMaxDownsampler.indices(count: values.count, buckets: buckets) { values[$0] })
        for bucket in 0..<buckets {
            let range = (bucket * values.count / buckets)..<((bucket + 1) * values.count / buckets)
            let low = range.min { values[$0] < values[$1] }!
            let high = range.max { values[$0] < values[$1] }!
            #expect(kept.contains { range.contains($0) && values[$0] == values[low] })
            #expect(kept.contains { range.contains($0) && values[$0] == values[high] })
        }
    }
}
