import Foundation
import PerpMarketData
import PerpModel
import Testing

@testable import PerpMarketData

/// The CSV loader reads ordinary rows in one pass and hands anything unusual to the general
/// parser; both must give exactly the values `Price(String)` gives, and the same errors.
@Suite struct CandleCSVFastPathTests {
    @Test func mixedFormattingGivesExactValues() throws {
        var state: UInt64 = 42
        func next(_ bound: UInt64) -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (state >> 33) % bound
        }
        let styles: [(String) -> String] = [
            { $0 },  // plain
            { "\"\($0)\"" },  // quoted
            { $0 + "000000000003" },  // more decimals than the unit holds
            { $0.contains(".") ? $0 : $0 + ".0" },
        ]
        var text = "extra,open_time_ms,open,high,low,close,volume\n"
        var expected: [(Int64, String, String, String, String, String)] = []
        var time: Int64 = 1_600_000_000_000
        for row in 0..<400 {
            time += 60_000 * Int64(1 + next(3))
            let low = 1 + next(50_000)
            let raws: [UInt64] = [low + next(1000), low + 1000 + next(1000), low, low + next(1000)]
            let values: [String] = raws.map { (raw: UInt64) -> String in
                let fraction = String(raw % 1000)
                return "\(raw / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
            }
            let volume = "\(next(100_000)).\(next(100))"
            let style = styles[Int(next(UInt64(styles.count)))]
            let formatted = values.map(style)
            let end = row % 7 == 0 ? "\r\n" : "\n"
            text += "x\(row),\(time),\(formatted[0]),\(formatted[1]),\(formatted[2]),\(formatted[3]),\(volume)\(end)"
            expected.append((time, formatted[0], formatted[1], formatted[2], formatted[3], volume))
        }
        let series = try CandleCSV.parse(Array(text.utf8), source: "mixed.csv")
        #expect(series.count == expected.count)
        for (index, row) in expected.enumerated() {
            let unquote = { (text: String) -> String in text.filter { $0 != "\"" } }
            #expect(series.openTimes[index] == row.0)
            #expect(series.opens[index] == Price(unquote(row.1))!.raw)
            #expect(series.highs[index] == Price(unquote(row.2))!.raw)
            #expect(series.lows[index] == Price(unquote(row.3))!.raw)
            #expect(series.closes[index] == Price(unquote(row.4))!.raw)
            #expect(series.volumes[index] == Quantity(row.5)!.raw)
        }
    }

    @Test(arguments: [
        ("2,1,1,1,1,0", "bad.csv:3", "duplicate"),  // same time as the row before
        ("1,1,1,1,1,0", "bad.csv:3", "before"),  // out of order
        ("3,0,1,1,1,0", "bad.csv:3", "greater than zero"),
        ("3,1,1,2,1,0", "bad.csv:3", "below low"),
        ("3,1,1,1,1,-4", "bad.csv:3", "volume"),
        ("3,1,1,1,1", "bad.csv:3", "fields"),
        ("3,99999999999,99999999999,1,1,0", "bad.csv:3", "open"),
    ])
    func errorsAfterFastRowsNameTheLine(row: String, location: String, mentions: String) {
        let text = "open_time_ms,open,high,low,close,volume\n2,1,1,1,1,0\n\(row)\n4,1,1,1,1,0\n"
        #expect {
            _ = try CandleCSV.parse(Array(text.utf8), source: "bad.csv")
        } throws: { error in
            let message = String(describing: error)
            return message.contains(location) && message.contains(mentions)
        }
    }

    @Test func timeInSecondsIsScaled() throws {
        let series = try CandleCSV.parse(Array("time,open,high,low,close\n1700000000,1,1,1,1\n1700000060,1,1,1,1\n".utf8), source: "s.csv")
        #expect(series.openTimes == [1_700_000_000_000, 1_700_000_060_000])
    }
}

@Suite struct StreamingLoadTests {
    @Test(arguments: [16, 61, 1000, 1 << 20])
    func chunkedReadEqualsWholeRead(chunk: Int) throws {
        var text = "open_time_ms,open_time_utc,open,high,low,close,volume\r\n"
        for index in 0..<500 {
            text +=
                "\(1_600_000_000_000 + Int64(index) * 60_000),x,8.\(index % 97),9.5,7.25,8.125,\(index).5\(index % 3 == 0 ? "\r\n" : "\n")"
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(chunk)-\(UUID().uuidString).csv")
        try Data(text.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let whole = try CandleCSV.parse(Array(text.utf8), source: url.path)
        let streamed = try #require(try MarketDataFiles.streamCandleCSV(url.path, chunkSize: chunk))
        #expect(streamed == whole)
        #expect(streamed.count == 500)
    }

    @Test func chunkedErrorsKeepTheirLineNumbers() throws {
        var text = "open_time_ms,open,high,low,close\n"
        for index in 0..<300 { text += "\(index * 60_000),1,2,1,1\n" }
        text += "0,1,2,1,1\n"  // line 302: out of order
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("stream-error-\(UUID().uuidString).csv")
        try Data(text.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect {
            _ = try MarketDataFiles.streamCandleCSV(url.path, chunkSize: 100)
        } throws: { error in
            String(describing: error).contains("\(url.path):302")
        }
    }
}
