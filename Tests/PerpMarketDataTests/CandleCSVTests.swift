import PerpMarketData
import PerpModel
import Testing

/// Candle CSV loading (CandleCSV.swift) and its errors (Errors.swift).
@Suite("Candle CSV")
struct CandleCSVTests {
    // MARK: Layouts that load

    @Test("the shared/data layout, with extra columns and float artefacts")
    func sharedLayout() throws {
        let series = try candles(
            """
            open_time_ms,open_time_utc,open,high,low,close,volume,quote_asset_volume,number_of_trades
            1609459200000,2021-01-01T00:00:00Z,22.386,23.9,22.168000000000003,22.926,8985.175,206228.073659,3620
            1609545600000,2021-01-02T00:00:00Z,22.925,23.186999999999998,22.2,22.621,19696.276,446447.66045200004,9142

            """)
        #expect(
            series.candles == [
                bar(1_609_459_200_000, "22.386", "23.9", "22.168", "22.926", "8985.175"),
                bar(1_609_545_600_000, "22.925", "23.187", "22.2", "22.621", "19696.276"),
            ])
        #expect(series.barInterval == .days(1))
    }

    @Test("columns are found by name, in any order and any case, with unknown columns ignored")
    func columnsByName() throws {
        let series = try candles(
            """
            Volume,CLOSE,note,low,High,open,extra,open_time_ms
            12.5,1.5,hello,1.25,2,1.75,x,60000
            0,1.6,,1.5,1.7,1.55,y,120000
            """)
        #expect(series.candles == [bar(60_000, "1.75", "2", "1.25", "1.5", "12.5"), bar(120_000, "1.55", "1.7", "1.5", "1.6")])
    }

    @Test("volume is optional and reads as zero when absent")
    func noVolume() throws {
        let series = try candles("timestamp_ms,open,high,low,close\n1000,1,2,0.5,1.5\n")
        #expect(series.candles == [bar(1_000, "1", "2", "0.5", "1.5", "0")])
    }

    @Test(
        "the time column: open_time_ms, timestamp_ms, or time in ms, seconds or ISO 8601",
        arguments: [
            ("open_time_ms", "1672903800000", Int64(1_672_903_800_000)),
            ("timestamp_ms", "1672903800000", 1_672_903_800_000),
            ("time", "1672903800000", 1_672_903_800_000),
            ("time", "1672903800", 1_672_903_800_000),  // epoch seconds
            ("time", "2023-01-05T07:30:00Z", 1_672_903_800_000),
            ("time", "2023-01-05T07:30:00.250Z", 1_672_903_800_250),
            ("time", "2023-01-05", 1_672_876_800_000),
            ("TIME", "2023-01-05T07:30", 1_672_903_800_000),
            ("open_time_ms", "-60000", -60_000),  // before 1970
        ])
    func timeColumns(column: String, value: String, milliseconds: Int64) throws {
        let series = try candles("\(column),open,high,low,close\n\(value),1,1,1,1\n")
        #expect(series.openTimes == [milliseconds])
    }

    @Test("open_time_ms wins over a time column when both are present")
    func timeColumnPriority() throws {
        let series = try candles("time,open_time_ms,open,high,low,close\n2001-01-01,60000,1,1,1,1\n")
        #expect(series.openTimes == [60_000])
    }

    @Test("CRLF line ends, a byte-order mark, quoted fields, blank lines and no final newline")
    func lexicalVariants() throws {
        let expected = [bar(60_000, "1.5", "2", "1", "1.75", "10"), bar(120_000, "1.75", "1.8", "1.7", "1.8", "0.5")]
        let crlf = "open_time_ms,open,high,low,close,volume\r\n60000,1.5,2,1,1.75,10\r\n120000,1.75,1.8,1.7,1.8,0.5\r\n"
        #expect(try candles(crlf).candles == expected)
        #expect(try candles("\u{FEFF}" + crlf).candles == expected)
        let quoted = """
            "open_time_ms","open","high","low","close","volume"
            "60000","1.5","2","1","1.75","10"
            "120000","1.75","1.8","1.7","1.8","0.5"
            """
        #expect(try candles(quoted).candles == expected)
        let blanks = "\n\nopen_time_ms,open,high,low,close,volume\n\n60000,1.5,2,1,1.75,10\n\n120000,1.75,1.8,1.7,1.8,0.5"
        #expect(try candles(blanks).candles == expected)
        let spacedHeader = " open_time_ms , open,\thigh,low ,close,volume\n60000,1.5,2,1,1.75,10\n120000,1.75,1.8,1.7,1.8,0.5\n"
        #expect(try candles(spacedHeader).candles == expected)
    }

    @Test("prices parse exactly: exponents, 8 decimals, and rounding past them")
    func exactPrices() throws {
        let series = try candles("time,open,high,low,close,volume\n0,5e-05,0.00012345678,4.183e-05,0.0001,1e3\n")
        #expect(series[0] == bar(0, "0.00005", "0.00012346", "0.00004183", "0.0001", "1000"))
    }

    // MARK: Errors, each with the source name and the file's line number

    static let header = "open_time_ms,open,high,low,close,volume\n"

    @Test(
        "bad rows are rejected with the line number and file name",
        arguments: [
            (
                header + "120000,1,1,1,1,0\n60000,1,1,1,1,0\n",
                MarketDataError.outOfOrder(
                    source: "fixture.csv", row: 3, time: "1970-01-01T00:01:00Z", previous: "1970-01-01T00:02:00Z"),
                "fixture.csv:3: time 1970-01-01T00:01:00Z is before the previous row's 1970-01-01T00:02:00Z; sort the file by time"
            ),
            (
                header + "60000,1,1,1,1,0\n120000,1,1,1,1,0\n120000,1,1,1,1,0\n",
                .duplicate(source: "fixture.csv", row: 4, time: "1970-01-01T00:02:00Z"),
                "fixture.csv:4: a second row for 1970-01-01T00:02:00Z; remove the duplicate"
            ),
            (
                header + "60000,1.5,1.0,2.0,1.5,0\n",
                .highBelowLow(source: "fixture.csv", row: 2, high: "1.0", low: "2.0"),
                "fixture.csv:2: high 1.0 is below low 2.0"
            ),
            (
                header + "60000,1,1,1,1,0\n120000,1,1,0,1,0\n",
                .nonPositivePrice(source: "fixture.csv", row: 3, column: "low", value: "0"),
                "fixture.csv:3: low is 0; prices must be greater than zero"
            ),
            (
                header + "60000,-1.5,1,1,1,0\n",
                .nonPositivePrice(source: "fixture.csv", row: 2, column: "open", value: "-1.5"),
                "fixture.csv:2: open is -1.5; prices must be greater than zero"
            ),
            (
                header + "60000,0.000000001,1,1,1,0\n",  // rounds to zero at 8 decimals
                .nonPositivePrice(source: "fixture.csv", row: 2, column: "open", value: "0.000000001"),
                "fixture.csv:2: open is 0.000000001; prices must be greater than zero"
            ),
            (
                header + "60000,1,nan,1,1,0\n",
                .badValue(source: "fixture.csv", row: 2, column: "high", value: "nan", expected: "a decimal number"),
                "fixture.csv:2: high is \"nan\", expected a decimal number"
            ),
            (
                header + "60000,1,1,1,inf,0\n",
                .badValue(source: "fixture.csv", row: 2, column: "close", value: "inf", expected: "a decimal number"),
                "fixture.csv:2: close is \"inf\", expected a decimal number"
            ),
            (
                header + "60000,1,1,1,,0\n",
                .badValue(source: "fixture.csv", row: 2, column: "close", value: "", expected: "a decimal number"),
                "fixture.csv:2: close is \"\", expected a decimal number"
            ),
            (
                header + "60000,1,1,1,1,-5\n",
                .badValue(
                    source: "fixture.csv", row: 2, column: "volume", value: "-5", expected: "a non-negative decimal number"),
                "fixture.csv:2: volume is \"-5\", expected a non-negative decimal number"
            ),
            (
                header + "2023-01-05,1,1,1,1,0\n",
                .badValue(
                    source: "fixture.csv", row: 2, column: "open_time_ms", value: "2023-01-05", expected: "epoch milliseconds"),
                "fixture.csv:2: open_time_ms is \"2023-01-05\", expected epoch milliseconds"
            ),
            (
                "time,open,high,low,close\nyesterday,1,1,1,1\n",
                .badValue(
                    source: "fixture.csv", row: 2, column: "time", value: "yesterday",
                    expected: "epoch milliseconds, epoch seconds or an ISO 8601 UTC time"),
                "fixture.csv:2: time is \"yesterday\", expected epoch milliseconds, epoch seconds or an ISO 8601 UTC time"
            ),
            (
                header + "60000,1,1,1,1\n",
                .wrongFieldCount(source: "fixture.csv", row: 2, expected: 6, found: 5),
                "fixture.csv:2: 5 fields, the header has 6"
            ),
            (
                header + "60000,1,1,1,1,0\n\n120000,1,1,1,1,0,7\n",  // the blank line still counts
                .wrongFieldCount(source: "fixture.csv", row: 4, expected: 6, found: 7),
                "fixture.csv:4: 7 fields, the header has 6"
            ),
            (
                "open_time_ms,open_time_utc,close\n60000,1970-01-01T00:01:00Z,1.5\n",
                .missingColumns(
                    source: "fixture.csv", missing: ["open", "high", "low"], found: ["open_time_ms", "open_time_utc", "close"]),
                "fixture.csv: missing column(s) open, high, low; the header has open_time_ms, open_time_utc, close"
            ),
            (
                "date,open,high,close\n2023-01-05,1,1,1\n",
                .missingColumns(
                    source: "fixture.csv", missing: ["open_time_ms (or timestamp_ms, time)", "low"],
                    found: ["date", "open", "high", "close"]),
                "fixture.csv: missing column(s) open_time_ms (or timestamp_ms, time), low; the header has date, open, high, close"
            ),
            ("", .empty(source: "fixture.csv"), "fixture.csv: no data rows"),
            ("\n\r\n\n", .empty(source: "fixture.csv"), "fixture.csv: no data rows"),
            (header, .empty(source: "fixture.csv"), "fixture.csv: no data rows"),
            (header + "\n\n", .empty(source: "fixture.csv"), "fixture.csv: no data rows"),
        ])
    func rejects(text: String, error: MarketDataError, message: String) {
        let thrown = #expect(throws: MarketDataError.self) { try candles(text) }
        #expect(thrown == error)
        #expect(thrown?.description == message)
    }

    /// `CandleSeries(validatedOpenTimes:…)` documents that loaders have checked
    /// `low ≤ open, close ≤ high`; the CSV and JSON loaders check only `high ≥ low`.
    @Test(
        "a bar whose open or close lies outside [low, high] is rejected",
        arguments: [
            "60000,2.5,2,1,1.5,0",  // open above high
            "60000,0.5,2,1,1.5,0",  // open below low
            "60000,1.5,2,1,2.5,0",  // close above high
            "60000,1.5,2,1,0.5,0",  // close below low
        ])
    func rejectsOpenCloseOutsideRange(row: String) {
        let thrown = #expect(throws: MarketDataError.self) { try candles(Self.header + row + "\n") }
        if let thrown { #expect(thrown.description.hasPrefix("fixture.csv:2:")) }
    }

    @Test("the loader reports the file path it was given")
    func fileNameInMessages() {
        let thrown = #expect(throws: MarketDataError.self) {
            try candles(Self.header + "60000,1,1,1,1,0\n60000,1,1,1,1,0\n", source: "/data/binance_spot_NMRUSDT_5m.csv")
        }
        #expect(thrown?.description == "/data/binance_spot_NMRUSDT_5m.csv:3: a second row for 1970-01-01T00:01:00Z; remove the duplicate")
    }

    @Test("fuzz: 2,000 seeded mutations of a CSV return or throw, never crash")
    func fuzz() {
        var rng = SplitMix64(seed: 0x5EED_2001)
        let original = Array(
            """
            open_time_ms,open_time_utc,open,high,low,close,volume
            1659312000000,2022-08-01T00:00:00Z,21.02,21.73,21.01,21.65,8551.44
            1659312300000,2022-08-01T00:05:00Z,21.61,24.1,21.52,23.95,39390.82
            1659312600000,2022-08-01T00:10:00Z,23.95,24.4,23.1,23.3,20000

            """.utf8)
        let interesting = Array(",\n\r\"-.e0123456789".utf8) + [0x00, 0xEF, 0xBB, 0xBF, 0xFF]
        var loaded = 0
        for _ in 0..<2_000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                guard !bytes.isEmpty else { break }
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes[at] = interesting.randomElement(using: &rng)!
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(interesting.randomElement(using: &rng)!, at: at)
                default: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            if let series = try? CandleCSV.parse(bytes, source: "fuzz.csv") {
                loaded += 1
                // Whatever loads satisfies the series' invariants.
                #expect(!series.isEmpty)
                #expect(zip(series.openTimes, series.openTimes.dropFirst()).allSatisfy { $0 < $1 })
                #expect(series.candles.allSatisfy { $0.low.isPositive && $0.low <= $0.high && !$0.volume.isNegative })
            }
        }
        #expect(loaded > 0)
    }
}

/// Inputs that once trapped (integer overflow) instead of throwing. Each runs in a child process
/// so that a trap fails only this test.
@Suite("Loaders never trap on hostile input")
struct LoaderTrapTests {
    @Test("a huge negative epoch-seconds value in a CSV time column throws")
    func csvSecondsOverflow() async {
        await #expect(processExitsWith: .success) {
            let text = "time,open,high,low,close\n-99999999999999999,1,1,1,1\n"
            do {
                _ = try CandleCSV.parse(Array(text.utf8), source: "hostile.csv")
                preconditionFailure("a time 3 billion years before 1970 should be rejected")
            } catch {
                precondition(String(describing: error).hasPrefix("hostile.csv:2:"))
            }
        }
    }

    @Test("a huge Lighter candlestick timestamp throws")
    func lighterCandlestickOverflow() async {
        await #expect(processExitsWith: .success) {
            let value = try! JSONParser.parse(
                #"{"candlesticks":[{"timestamp":-9000000000000000000,"open":"1","high":"1","low":"1","close":"1"}]}"#)
            precondition((try? CandleJSON.parseLighter(value, source: "hostile.json")) == nil)
        }
    }

    @Test("a huge Lighter funding timestamp throws")
    func lighterFundingOverflow() async {
        await #expect(processExitsWith: .success) {
            let value = try! JSONParser.parse(
                #"{"resolution":"1h","fundings":[{"timestamp":"99999999999999999","rate":"0.0012","direction":"long"}]}"#)
            precondition((try? FundingFormats.parseLighter(value, source: "hostile.json")) == nil)
        }
    }
}
