import Foundation
import PerpMarketData
import PerpModel
import Testing

/// Loads the real NMR history in shared/data (see shared/data/SOURCES.md). These tests are
/// disabled, and Swift Testing reports them as skipped with the comment below, when the shared
/// folder is not on this machine: set NMRPERP_SHARED to the folder that holds `data/`.
@Suite(
    "Real data files", .enabled(if: sharedDataAvailable, "shared/data not found: set NMRPERP_SHARED to the shared folder"))
struct SharedFileTests {
    /// Every candle CSV in shared/data: everything but funding, open interest, metric snapshots
    /// and the close-only file.
    static let candleFiles: [String] = {
        guard let folder = sharedDataFolder,
            let names = try? FileManager.default.contentsOfDirectory(atPath: folder)
        else { return [] }
        return names.filter {
            $0.hasSuffix(".csv") && !$0.contains("funding") && !$0.contains("open_interest") && !$0.contains("metrics")
                && !$0.contains("_close_")
        }.sorted()
    }()

    static func path(_ name: String) -> String { (sharedDataFolder ?? "") + "/" + name }

    @Test("the shared folder holds the expected candle files")
    func inventory() {
        #expect(Self.candleFiles.count == 18, "\(Self.candleFiles)")
        #expect(Self.candleFiles.contains("binance_spot_NMRUSDT_5m_2022-08_2023-09.csv"))
    }

    @Test("every candle CSV loads with one bar per data line", arguments: candleFiles)
    func loads(name: String) throws {
        let path = Self.path(name)
        let bytes = try MarketDataFiles.readBytes(path)
        let series = try MarketDataFiles.loadCandles(path)
        #expect(series.count == lineCount(bytes) - 1, "wc -l minus the header")
        #expect(zip(series.openTimes, series.openTimes.dropFirst()).allSatisfy { $0 < $1 })
        #expect(series.candles.allSatisfy { $0.low.isPositive && $0.low <= $0.high })
    }

    @Test("golden values from the 2022-08 to 2023-09 5-minute file")
    func goldenFiveMinute() throws {
        let series = try MarketDataFiles.loadCandles(Self.path("binance_spot_NMRUSDT_5m_2022-08_2023-09.csv"))
        #expect(series.count == 121_748)
        #expect(series[0] == bar(1_659_312_000_000, "21.02", "21.73", "21.01", "21.65", "8551.44"))
        #expect(series.barInterval == .minutes(5))
        // One hole: 16 bars missing after 2023-03-24T12:35Z.
        #expect(
            series.gaps() == [
                DataGap(
                    after: Timestamp(parsing: "2023-03-24T12:35:00Z")!, before: Timestamp(milliseconds: 1_679_666_400_000),
                    missingBars: 16)
            ])
    }

    @Test("gap totals on the older files")
    func gapTotals() throws {
        let hourly = try MarketDataFiles.loadCandles(Self.path("binance_spot_NMRUSDT_1h_2021-04_2023-12.csv")).gaps()
        #expect(hourly.count == 5)
        #expect(hourly.map(\.missingBars).reduce(0, +) == 12)
        let early = try MarketDataFiles.loadCandles(Self.path("binance_spot_NMRUSDT_5m_2020-12_2021-07.csv")).gaps()
        #expect(early.count == 6)
        #expect(early.map(\.missingBars).reduce(0, +) == 177)
    }

    @Test("the 1-day file's float artefacts parse to the exact prices")
    func dailyArtefacts() throws {
        let series = try MarketDataFiles.loadCandles(Self.path("binance_spot_NMRUSDT_1d_2021-01_2022-09.csv"))
        #expect(series[0].low == Price("22.168"))
        #expect(series[1].high == Price("23.187"))
    }

    @Test("the close-only file fails with a missing-columns error naming open, high and low")
    func closeOnly() {
        let path = Self.path("binance_spot_NMRUSDT_1h_close_2021-01_2025-06.csv")
        let thrown = #expect(throws: MarketDataError.self) { try MarketDataFiles.loadCandles(path) }
        #expect(
            thrown == .missingColumns(source: path, missing: ["open", "high", "low"], found: ["open_time_ms", "open_time_utc", "close"]))
        #expect(thrown?.description.contains("missing column(s) open, high, low") == true)
        #expect(thrown?.description.hasPrefix(path) == true)
    }

    @Test("Binance kline JSON equals the CSV it was taken from")
    func klinesJSONMatchesCSV() throws {
        let fromJSON = try MarketDataFiles.loadCandles(Self.path("api/binance_spot/real_klines_NMRUSDT_1m_2022-11-08.json"))
        let fromCSV = try MarketDataFiles.loadCandles(Self.path("binance_spot_NMRUSDT_1m_raw-columns_2022-11-09.csv"))
        #expect(fromJSON.count == 5)
        #expect(fromJSON == fromCSV.slice(from: nil, to: Timestamp(milliseconds: fromJSON.openTimes[4] + 1)))
        #expect(fromJSON[4] == bar(1_667_947_080_000, "13.52", "13.53", "13.48", "13.49", "150.4"))
    }

    @Test("Lighter candle and funding examples load by content")
    func lighterExamples() throws {
        let candles = try MarketDataFiles.loadCandles(Self.path("api/lighter/docex_GetKlines.json"))
        #expect(candles.candles == [bar(1_767_700_500_000, "3236.86", "3237.78", "3235.36", "3235.39", "55.1632")])
        let rates = try MarketDataFiles.loadFunding(Self.path("api/lighter/docex_GetFundingRateHistory.json"))
        // "rate": "0.0001" percent per hour, paid by longs.
        #expect(rates == [FundingRate(time: Timestamp(seconds: 1_640_995_200), rate: Rate("0.000001")!, interval: .hours(1))])
    }

    @Test("real funding files: rates and intervals")
    func fundingFiles() throws {
        let eight = try MarketDataFiles.loadFunding(Self.path("binance_usdm_NMRUSDT_funding_8h_2023-07_2023-08.csv"))
        #expect(eight.count == 89)
        #expect(eight.allSatisfy { $0.interval == .hours(8) })
        #expect(eight[0].rate == Rate("0.0001"))
        #expect(eight[1].rate == Rate("0.00002903"))
        let four = try MarketDataFiles.loadFunding(Self.path("binance_usdm_NMRUSDT_funding_4h_2026-02_2026-03.csv"))
        #expect(four.count == 200)
        #expect(four.allSatisfy { $0.interval == .hours(4) })
        let binance = try MarketDataFiles.loadFunding(Self.path("api/binance_usdm/docex_GetFundingRates.json"))
        #expect(binance.map(\.rate) == [Rate("0.0001")!, Rate("0.0001")!])
        #expect(binance.map(\.interval) == [.hours(8), .hours(8)])
    }

    @Test("loading the wrong kind of file says so")
    func wrongKind() {
        let funding = Self.path("binance_usdm_NMRUSDT_funding_8h_2023-07_2023-08.csv")
        let thrown = #expect(throws: MarketDataError.self) { try MarketDataFiles.loadCandles(funding) }
        #expect(thrown?.description.contains("missing column(s)") == true)
        let fundingJSON = Self.path("api/binance_usdm/docex_GetFundingRates.json")
        let json = #expect(throws: MarketDataError.self) { try MarketDataFiles.loadCandles(fundingJSON) }
        #expect(json == .unrecognisedFormat(source: fundingJSON, detail: "this is a funding history; candles are needed here"))
        let missing = #expect(throws: FileReadError.self) { try MarketDataFiles.readBytes(Self.path("no-such-file.csv")) }
        #expect(missing?.description.hasPrefix("cannot read ") == true)
        #expect(throws: FileReadError.self) { try MarketDataFiles.readBytes(sharedDataFolder ?? "/") }
    }
}

/// File-level behaviour that needs no shared data: temporary files written by the test.
@Suite("Files")
struct FileTests {
    @Test("loadCandles and loadFunding choose the format by content and name the path in errors")
    func byContent() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("PerpMarketDataTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func write(_ name: String, _ text: String) throws -> String {
            let url = folder.appendingPathComponent(name)
            try Data(text.utf8).write(to: url)
            return url.path
        }
        let csv = try write("bars.csv", "open_time_ms,open,high,low,close\n60000,1,2,0.5,1.5\n")
        #expect(try MarketDataFiles.loadCandles(csv).candles == [bar(60_000, "1", "2", "0.5", "1.5")])
        let klines = try write("bars.json", #"  [[60000,"1","2","0.5","1.5","7"]]"#)
        #expect(try MarketDataFiles.loadCandles(klines).candles == [bar(60_000, "1", "2", "0.5", "1.5", "7")])
        let empty = try write("empty.csv", " \n\t\r\n")
        #expect(throws: MarketDataError.empty(source: empty)) { try MarketDataFiles.loadCandles(empty) }
        #expect(throws: MarketDataError.empty(source: empty)) { try MarketDataFiles.loadFunding(empty) }
        let broken = try write("broken.json", #"[[60000,"1""#)
        let error = #expect(throws: MarketDataError.self) { try MarketDataFiles.loadCandles(broken) }
        #expect(error?.description.hasPrefix("\(broken): invalid JSON at byte") == true)
        let unsorted = try write("unsorted.csv", "open_time_ms,open,high,low,close\n120000,1,1,1,1\n60000,1,1,1,1\n")
        let sortError = #expect(throws: MarketDataError.self) { try MarketDataFiles.loadCandles(unsorted) }
        #expect(sortError?.description.hasPrefix("\(unsorted):3: time") == true)
        let lighterFunding = try write(
            "f.json", #"{"resolution":"1h","fundings":[{"timestamp":"3600","rate":"0.0012","direction":"short"}]}"#)
        #expect(try MarketDataFiles.loadFunding(lighterFunding).map(\.rate) == [Rate("-0.000012")!])
        #expect(throws: MarketDataError.self) { try MarketDataFiles.loadCandles(lighterFunding) }
        let fundingCSV = try write("f.csv", "funding_time_ms,funding_rate\n0,0.0001\n14400000,0.0002\n")
        #expect(try MarketDataFiles.loadFunding(fundingCSV).map(\.interval) == [.hours(4), .hours(4)])
    }
}
