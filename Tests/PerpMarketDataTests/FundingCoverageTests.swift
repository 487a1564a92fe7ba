import PerpMarketData
import PerpModel
import Testing

@Suite struct FundingCoverageTests {
    static let hour: Int64 = 3_600_000

    /// Bars opening from hour 0 to hour `lastHour`; 8-hourly rates at `hours` (plus `jitter` ms).
    func coverage(lastHour: Int64, hours: [Int64]?, jitter: Int64 = 0, interval: Int64 = 8) -> FundingCoverage {
        FundingCoverage(
            firstOpen: Timestamp(milliseconds: 0), lastOpen: Timestamp(milliseconds: lastHour * Self.hour),
            rates: hours?.map {
                FundingRate(time: Timestamp(milliseconds: $0 * Self.hour + jitter), rate: Rate("0.0001")!, interval: .hours(interval))
            })
    }

    @Test func noFileNoneFull() {
        #expect(coverage(lastHour: 71, hours: nil).status == .noFile)
        #expect(coverage(lastHour: 71, hours: [-8, 0, 72, 80]).status == .none)  // at the first open or after the last: nothing pays
        let full = coverage(lastHour: 71, hours: [8, 16, 24, 32, 40, 48, 56, 64])
        #expect(full.status == .full && full.settlements == 8)
        #expect(full.notes(source: "f.csv").isEmpty)
        // Binance's millisecond jitter is not a gap.
        #expect(coverage(lastHour: 71, hours: [8, 16, 24, 32, 40, 48, 56, 64], jitter: 6).status == .full)
    }

    @Test func missingStartEndAndHoles() {
        let late = coverage(lastHour: 71, hours: [24, 32, 40, 48, 56, 64])
        #expect(late.status == .partial && late.missingAtStart == .hours(16) && late.missingAtEnd.milliseconds == 0)
        let early = coverage(lastHour: 71, hours: [8, 16, 24])
        #expect(early.status == .partial && early.missingAtEnd == .hours(47))
        #expect(
            early.notes(source: "f.csv") == [
                "funding covers only 1970-01-01T00:00:00Z to 1970-01-02T00:00:00Z of the price history 1970-01-01T00:00:00Z to 1970-01-03T23:00:00Z (f.csv): 47.0 h at the end have no funding"
            ])
        let holed = coverage(lastHour: 71, hours: [8, 16, 40, 48, 56, 64])
        #expect(holed.status == .partial && holed.holes == 1 && holed.holeTime == .hours(16))
        // The last settlement's next one would fall after the last bar's open: nothing missing.
        #expect(coverage(lastHour: 71, hours: [8, 16, 24, 32, 40, 48, 56, 64, 72]).status == .full)
    }
}
