import Foundation
import PerpMarketData
import PerpModel

/// Parses inline CSV text as candles.
func candles(_ text: String, source: String = "fixture.csv") throws(MarketDataError) -> CandleSeries {
    try CandleCSV.parse(Array(text.utf8), source: source)
}

/// Parses inline CSV text as funding.
func funding(_ text: String, source: String = "funding.csv", defaultInterval: TimeSpan = .hours(8)) throws(MarketDataError)
    -> [FundingRate]
{
    try FundingFormats.parseCSV(Array(text.utf8), source: source, defaultInterval: defaultInterval)
}

/// Parses inline JSON (a fixture that must be valid JSON).
func json(_ text: String) throws -> JSONValue { try JSONParser.parse(text) }

/// One bar from decimal text.
func bar(_ ms: Int64, _ open: String, _ high: String, _ low: String, _ close: String, _ volume: String = "0") -> Candle {
    Candle(
        openTime: Timestamp(milliseconds: ms), open: Price(open)!, high: Price(high)!, low: Price(low)!, close: Price(close)!,
        volume: Quantity(volume)!)
}

/// The project's shared data folder: `$NMRPERP_SHARED/data`, else `../shared/data` beside the
/// folder holding Package.swift (found by walking up from this file), else `nil`.
let sharedDataFolder: String? = {
    let fileManager = FileManager.default
    func isFolder(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return fileManager.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
    if let override = ProcessInfo.processInfo.environment["NMRPERP_SHARED"], !override.isEmpty {
        let data = (override as NSString).appendingPathComponent("data")
        return isFolder(data) ? data : nil
    }
    var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    for _ in 0..<32 {
        if fileManager.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
            let data = directory.deletingLastPathComponent().appendingPathComponent("shared/data").standardizedFileURL.path
            return isFolder(data) ? data : nil
        }
        let parent = directory.deletingLastPathComponent()
        if parent.path == directory.path { break }
        directory = parent
    }
    return nil
}()

/// Whether the real data files are on this machine. Tests that read them are disabled (shown as
/// skipped, with the reason) when they are not: set NMRPERP_SHARED to the shared folder.
let sharedDataAvailable = sharedDataFolder != nil

/// Number of newline bytes, as `wc -l` counts lines.
func lineCount(_ bytes: [UInt8]) -> Int { bytes.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) } }
