import PerpMarketData
import PerpModel
import Testing

/// Funding histories (PerpMarketData/Funding.swift).
@Suite("Funding formats")
struct FundingFormatTests {
    static let hour: Int64 = 3_600_000

    @Test("CSV with interval_hours takes each row's interval from the file")
    func csvWithIntervals() throws {
        let rates = try funding(
            """
            funding_time_ms,funding_rate,interval_hours
            1688486400000,0.0001,8
            1688515200001,2.903e-05,8
            1688529600000,-4.183e-05,4
            1688531400000,0.00001,0.5
            """)
        #expect(rates.map(\.time.milliseconds) == [1_688_486_400_000, 1_688_515_200_001, 1_688_529_600_000, 1_688_531_400_000])
        #expect(rates.map(\.rate) == [Rate("0.0001")!, Rate("0.00002903")!, Rate("-0.00004183")!, Rate("0.00001")!])
        #expect(rates.map(\.interval) == [.hours(8), .hours(8), .hours(4), .minutes(30)])
    }

    @Test("CSV without interval_hours infers 8 h through millisecond jitter")
    func csvInfersThroughJitter() throws {
        // shared/data binance_usdm_NMRUSDT_funding_8h_2023-07_2023-08.csv, first rows (with its UTC column).
        let rates = try funding(
            """
            funding_time_ms,funding_time_utc,funding_rate
            1688486400000,2023-07-04T16:00:00.000Z,0.0001
            1688515200001,2023-07-05T00:00:00.001Z,2.903e-05
            1688544000000,2023-07-05T08:00:00.000Z,0.0001
            1688572799999,2023-07-05T15:59:59.999Z,5e-05
            """)
        #expect(rates.map(\.interval) == [.hours(8), .hours(8), .hours(8), .hours(8)])
        #expect(rates[1].rate == Rate("0.00002903"))
        #expect(rates[3].rate == Rate("0.00005"))
    }

    @Test("inferred intervals follow a switch from 8 h to 4 h away from the switch")
    func csvSwitchEightToFour() throws {
        let t0: Int64 = 1_688_486_400_000
        let times = [0, 8, 16, 24, 28, 32, 36].map { t0 + $0 * Self.hour }
        let text = "timestamp_ms,rate\n" + times.map { "\($0),0.0001" }.joined(separator: "\n")
        let rates = try funding(text)
        #expect(rates.count == 7)
        #expect(rates[0].interval == .hours(8))
        #expect(rates[1].interval == .hours(8))
        #expect(rates[2].interval == .hours(8))
        #expect(rates[4].interval == .hours(4))
        #expect(rates[5].interval == .hours(4))
        #expect(rates[6].interval == .hours(4))
    }

    /// A settlement's rate covers the interval that ends at its time (Binance and Lighter settle
    /// at the end of the period), so the settlement at +24 h, 8 h after the one before it, covers
    /// 8 h even though the next one comes 4 h later. Taking the smaller neighbouring gap labels it
    /// 4 h, which doubles its weight in any per-day statistic.
    @Test("the settlement that closes the last 8 h period keeps its 8 h interval")
    func csvSwitchBoundary() throws {
        let t0: Int64 = 1_688_486_400_000
        let times = [0, 8, 16, 24, 28, 32, 36].map { t0 + $0 * Self.hour }
        let text = "timestamp_ms,rate\n" + times.map { "\($0),0.0001" }.joined(separator: "\n")
        let rates = try funding(text)
        #expect(rates[3].interval == .hours(8))
    }

    @Test("inferIntervals: lone rows take the default; gaps round to whole hours")
    func inferIntervals() {
        #expect(FundingFormats.inferIntervals([], default: .hours(8)) == [])
        #expect(FundingFormats.inferIntervals([1_000], default: .hours(4)) == [.hours(4)])
        #expect(
            FundingFormats.inferIntervals([0, Self.hour - 1, 2 * Self.hour + 3], default: .hours(8)) == [.hours(1), .hours(1), .hours(1)])
        // A missing settlement in an 8 h series does not make its neighbours 16 h.
        let times: [Int64] = [0, 8, 16, 32, 40].map { $0 * Self.hour }
        #expect(FundingFormats.inferIntervals(times, default: .hours(1)) == [.hours(8), .hours(8), .hours(8), .hours(8), .hours(8)])
        // Sub-hour spacing never rounds to zero.
        #expect(FundingFormats.inferIntervals([0, 60_000], default: .hours(8)) == [.hours(1), .hours(1)])
    }

    @Test("CSV: one row takes the default interval; an ISO time column works")
    func csvDefaults() throws {
        let single = try funding("funding_time_ms,funding_rate\n1688486400000,0.0001\n", defaultInterval: .hours(4))
        #expect(single == [FundingRate(time: Timestamp(milliseconds: 1_688_486_400_000), rate: Rate("0.0001")!, interval: .hours(4))])
        let iso = try funding("time,rate\n2023-07-04T16:00:00Z,0.0001\n2023-07-05T00:00:00Z,-0.0002\n")
        #expect(iso.map(\.time.milliseconds) == [1_688_486_400_000, 1_688_515_200_000])
        #expect(iso.map(\.rate) == [Rate("0.0001")!, Rate("-0.0002")!])
    }

    @Test(
        "CSV errors name the file and line",
        arguments: [
            (
                "time_ms,value\n1,0.1\n",
                "funding.csv: missing column(s) funding_time_ms (or timestamp_ms, time), funding_rate (or rate); the header has time_ms, value"
            ),
            (
                "funding_time_ms,premium\n1,0.1\n",
                "funding.csv: missing column(s) funding_rate (or rate); the header has funding_time_ms, premium"
            ),
            ("funding_time_ms,funding_rate\n1,abc\n", "funding.csv:2: funding_rate is \"abc\", expected a decimal fraction such as 0.0001"),
            ("funding_time_ms,funding_rate\n1,nan\n", "funding.csv:2: funding_rate is \"nan\", expected a decimal fraction such as 0.0001"),
            (
                "funding_time_ms,funding_rate,interval_hours\n1,0.1,0\n",
                "funding.csv:2: interval_hours is \"0\", expected a positive number of hours, at most a year"
            ),
            (
                "funding_time_ms,funding_rate,interval_hours\n1,0.1,eight\n",
                "funding.csv:2: interval_hours is \"eight\", expected a positive number of hours, at most a year"
            ),
            (
                "funding_time_ms,funding_rate\n28800000,0.1\n0,0.1\n",
                "funding.csv:3: time 1970-01-01T00:00:00Z is before the previous row's 1970-01-01T08:00:00Z; sort the file by time"
            ),
            ("funding_time_ms,funding_rate\n0,0.1\n0,0.2\n", "funding.csv:3: a second row for 1970-01-01T00:00:00Z; remove the duplicate"),
            ("funding_time_ms,funding_rate\n0,0.1,9\n", "funding.csv:2: 3 fields, the header has 2"),
            ("funding_time_ms,funding_rate\nsoon,0.1\n", "funding.csv:2: funding_time_ms is \"soon\", expected epoch milliseconds"),
            ("funding_time_ms,funding_rate\n", "funding.csv: no data rows"),
            ("", "funding.csv: no data rows"),
        ])
    func csvErrors(text: String, message: String) {
        let thrown = #expect(throws: MarketDataError.self) { try funding(text) }
        #expect(thrown?.description == message)
    }

    @Test("Binance fundingRate JSON (docex_GetFundingRates.json shape)")
    func binanceJSON() throws {
        let value = try json(
            """
            [
              {"symbol": "BTCUSDT", "fundingTime": 1698768000000, "fundingRate": "0.00010000", "markPrice": "34287.54619963"},
              {"symbol": "BTCUSDT", "fundingTime": 1698796800000, "fundingRate": "-0.00002903", "markPrice": "34651.40000000"},
              {"symbol": "BTCUSDT", "fundingTime": 1698825600001, "fundingRate": "5e-05", "markPrice": ""}
            ]
            """)
        let rates = try FundingFormats.parseBinance(value, source: "fundingRate")
        #expect(
            rates == [
                FundingRate(time: Timestamp(milliseconds: 1_698_768_000_000), rate: Rate("0.0001")!, interval: .hours(8)),
                FundingRate(time: Timestamp(milliseconds: 1_698_796_800_000), rate: Rate("-0.00002903")!, interval: .hours(8)),
                FundingRate(time: Timestamp(milliseconds: 1_698_825_600_001), rate: Rate("0.00005")!, interval: .hours(8)),
            ])
        let single = try FundingFormats.parseBinance(
            json(#"[{"fundingTime":1,"fundingRate":"0.0001"}]"#), source: "x", defaultInterval: .hours(1))
        #expect(single.map(\.interval) == [.hours(1)])
        let badRate = #expect(throws: MarketDataError.self) {
            try FundingFormats.parseBinance(json(#"[{"fundingTime":1,"fundingRate":"n/a"}]"#), source: "fundingRate")
        }
        #expect(badRate?.description == "fundingRate:1: fundingRate is \"n/a\", expected a decimal fraction")
        #expect(throws: MarketDataError.empty(source: "fundingRate")) { try FundingFormats.parseBinance(json("[]"), source: "fundingRate") }
        #expect(throws: MarketDataError.self) { try FundingFormats.parseBinance(json(#"{"fundings":[]}"#), source: "fundingRate") }
    }

    @Test(
        "Lighter fundings: rate is percent per hour, direction names the payer",
        arguments: [
            ("0.0012", "short", "-0.000012"),
            ("0.0012", "long", "0.000012"),
            ("0.0001", "long", "0.000001"),
            ("1.5", "short", "-0.015"),
            ("0", "short", "0"),
            ("0.00000000015", "long", "0.000000000002"),  // 1.5e-12: ties to even at 12 decimals
            ("0.00000000025", "short", "-0.000000000002"),
        ])
    func lighterDirection(rate: String, direction: String, expected: String) throws {
        let value = try json(
            #"{"code":200,"message":"string","resolution":"1h","fundings":[{"timestamp":"1640995200","value":"0.0001","rate":"\#(rate)","direction":"\#(direction)"}]}"#
        )
        let rates = try FundingFormats.parseLighter(value, source: "fundings")
        #expect(rates == [FundingRate(time: Timestamp(milliseconds: 1_640_995_200_000), rate: Rate(expected)!, interval: .hours(1))])
    }

    @Test("Lighter fundings: several rows, numbers or strings, resolution and errors")
    func lighterRows() throws {
        let rates = try FundingFormats.parseLighter(
            json(
                """
                {"resolution":"1h","fundings":[
                  {"timestamp":1640995200,"value":"0.0001","rate":"0.0012","direction":"short"},
                  {"timestamp":"1640998800","value":"0.0001","rate":0.0030,"direction":"long"},
                  {"timestamp":1641002400,"value":"0","rate":"0.0001"}
                ]}
                """), source: "fundings")
        #expect(rates.map(\.rate) == [Rate("-0.000012")!, Rate("0.00003")!, Rate("0.000001")!])
        #expect(rates.map(\.time.milliseconds) == [1_640_995_200_000, 1_640_998_800_000, 1_641_002_400_000])
        #expect(rates.allSatisfy { $0.interval == .hours(1) })
        let eightHours = try FundingFormats.parseLighter(
            json(#"{"resolution":"8h","fundings":[{"timestamp":1,"rate":"0.01","direction":"long"}]}"#), source: "f")
        #expect(eightHours[0].interval == .hours(8))

        let badDirection = #expect(throws: MarketDataError.self) {
            try FundingFormats.parseLighter(json(#"{"fundings":[{"timestamp":1,"rate":"0.01","direction":"up"}]}"#), source: "fundings")
        }
        #expect(badDirection?.description == "fundings:1: direction is \"up\", expected \"long\" or \"short\"")
        let unsorted = #expect(throws: MarketDataError.self) {
            try FundingFormats.parseLighter(
                json(#"{"fundings":[{"timestamp":7200,"rate":"0.01"},{"timestamp":3600,"rate":"0.01"}]}"#), source: "fundings")
        }
        #expect(
            unsorted?.description
                == "fundings:2: time 1970-01-01T01:00:00Z is before the previous row's 1970-01-01T02:00:00Z; sort the file by time")
        let missingRate = #expect(throws: MarketDataError.self) {
            try FundingFormats.parseLighter(json(#"{"fundings":[{"timestamp":1}]}"#), source: "fundings")
        }
        #expect(missingRate?.description == "fundings:1: rate is \"missing\", expected a decimal percentage")
        #expect(throws: MarketDataError.empty(source: "fundings")) {
            try FundingFormats.parseLighter(json(#"{"fundings":[]}"#), source: "fundings")
        }
        #expect(throws: MarketDataError.self) { try FundingFormats.parseLighter(json(#"{"position_fundings":[]}"#), source: "fundings") }
    }
}
