import PerpMarketData
import PerpModel
import Testing

/// Venue candle JSON (CandleJSON.swift).
@Suite("Candle JSON")
struct CandleJSONTests {
    /// The shape of shared/data/api/binance_spot/docex_GetKlines.json, plus a second row.
    static let binance = """
        [
          [1499040000000, "0.01634790", "0.80000000", "0.01575800", "0.01577100", "148976.11427815", 1499644799999,
           "2434.19055334", 308, "1756.87402397", "28.46694368", "0"],
          [1499040060000, "0.01577100", "0.01600000", "0.01500000", "0.01590000", "0.00000000", 1499040119999,
           "0", 0, "0", "0", "0"]
        ]
        """

    @Test("Binance klines: string prices, number times, extra fields ignored")
    func binanceKlines() throws {
        let series = try CandleJSON.parseBinance(json(Self.binance), source: "klines")
        #expect(
            series.candles == [
                bar(1_499_040_000_000, "0.0163479", "0.8", "0.015758", "0.015771", "148976.11427815"),
                bar(1_499_040_060_000, "0.015771", "0.016", "0.015", "0.0159", "0"),
            ])
    }

    @Test(
        "Binance klines errors name the source and element",
        arguments: [
            (#"{"code":-1121,"msg":"Invalid symbol."}"#, "klines: expected a JSON array of kline arrays"),
            (#"[[1499040000000,"1","1","1","1"]]"#, "klines: element 1 is not a kline array of at least 6 fields"),
            (#"[[1499040000000,"1","1","1","1","0"],{"t":1}]"#, "klines: element 2 is not a kline array of at least 6 fields"),
            (#"[["soon","1","1","1","1","0"]]"#, "klines:1: openTime is \"soon\", expected epoch milliseconds"),
            (
                #"[[1,"1","1","1","1","0"],[0,"1","1","1","1","0"]]"#,
                "klines:2: time 1970-01-01T00:00:00Z is before the previous row's 1970-01-01T00:00:00.001Z; sort the file by time"
            ),
            (
                #"[[1,"1","1","1","1","0"],[1,"1","1","1","1","0"]]"#,
                "klines:2: a second row for 1970-01-01T00:00:00.001Z; remove the duplicate"
            ),
            (#"[[1,"1","0.5","1","1","0"]]"#, "klines:1: high 0.5 is below low 1"),
            (#"[[1,"0","1","1","1","0"]]"#, "klines:1: open is 0; prices must be greater than zero"),
            (#"[[1,"NaN","1","1","1","0"]]"#, "klines:1: open is \"NaN\", expected a decimal number"),
            (#"[[1,"1","1","1",null,"0"]]"#, "klines:1: close is \"missing\", expected a decimal number"),
            (#"[[1,"1","1","1","1","-2"]]"#, "klines:1: volume is \"-2\", expected a non-negative decimal number"),
            ("[]", "klines: no data rows"),
        ])
    func binanceErrors(text: String, message: String) throws {
        let value = try json(text)
        let thrown = #expect(throws: MarketDataError.self) { try CandleJSON.parseBinance(value, source: "klines") }
        #expect(thrown?.description == message)
    }

    @Test("Lighter candles {\"r\",\"c\"} with numbers, and the older candlesticks form")
    func lighterCandles() throws {
        let modern = try CandleJSON.parseLighter(
            json(
                """
                {"code":200,"r":"1m","c":[
                  {"t":1767700500000,"o":3236.86,"h":3237.78,"l":3235.36,"c":3235.39,"v":55.1632,"V":178530.793575,"i":779870452,
                   "C":"3024.66","H":"3034.66","L":"3014.66","O":"3024.66"},
                  {"t":1767700560000,"o":"3235.39","h":3236,"l":3235,"c":3235.5}
                ],"message":"string"}
                """), source: "lighter")
        #expect(
            modern.candles == [
                bar(1_767_700_500_000, "3236.86", "3237.78", "3235.36", "3235.39", "55.1632"),
                bar(1_767_700_560_000, "3235.39", "3236", "3235", "3235.5", "0"),  // Lighter omits a zero volume
            ])
        let older = try CandleJSON.parseLighter(
            json(
                #"{"candlesticks":[{"timestamp":1640995200,"open":"8.1","high":"8.3","low":"8.0","close":"8.2","volume0":"12"},"#
                    + #"{"timestamp":1640995260000,"open":"8.2","high":"8.2","low":"8.2","close":"8.2"}]}"#), source: "lighter")
        #expect(
            older.candles == [
                bar(1_640_995_200_000, "8.1", "8.3", "8.0", "8.2", "12"),  // seconds become milliseconds
                bar(1_640_995_260_000, "8.2", "8.2", "8.2", "8.2"),
            ])
    }

    @Test(
        "Lighter candle errors",
        arguments: [
            (#"{"code":200,"message":"ok"}"#, "lighter: expected Lighter candles: an object with a \"c\" or \"candlesticks\" array"),
            (#"[1,2]"#, "lighter: expected Lighter candles: an object with a \"c\" or \"candlesticks\" array"),
            (#"{"r":"1m","c":[{"o":1,"h":1,"l":1,"c":1}]}"#, "lighter:1: t is \"missing\", expected epoch milliseconds"),
            (#"{"r":"1m","c":[{"t":1,"h":1,"l":1,"c":1}]}"#, "lighter:1: open is \"missing\", expected a decimal number"),
            (#"{"r":"1m","c":[]}"#, "lighter: no data rows"),
            (
                #"{"r":"1m","c":[{"t":5,"o":1,"h":1,"l":1,"c":1},{"t":4,"o":1,"h":1,"l":1,"c":1}]}"#,
                "lighter:2: time 1970-01-01T00:00:00.004Z is before the previous row's 1970-01-01T00:00:00.005Z; sort the file by time"
            ),
        ])
    func lighterErrors(text: String, message: String) throws {
        let value = try json(text)
        let thrown = #expect(throws: MarketDataError.self) { try CandleJSON.parseLighter(value, source: "lighter") }
        #expect(thrown?.description == message)
    }

    @Test("CandleBuilder validates one bar at a time and exposes the partial series")
    func builder() throws {
        var builder = CandleBuilder(source: "stream")
        try builder.append(row: 1, time: 60_000, open: "1", high: "2", low: "0.5", close: "1.5", volume: "3")
        #expect(throws: MarketDataError.duplicate(source: "stream", row: 2, time: "1970-01-01T00:01:00Z")) {
            try builder.append(row: 2, time: 60_000, open: "1", high: "2", low: "0.5", close: "1.5", volume: "3")
        }
        #expect(builder.partial.count == 1, "a rejected bar is not kept")
        #expect(try builder.finish().candles == [bar(60_000, "1", "2", "0.5", "1.5", "3")])
        #expect(throws: MarketDataError.empty(source: "none")) { try CandleBuilder(source: "none").finish() }
    }
}
