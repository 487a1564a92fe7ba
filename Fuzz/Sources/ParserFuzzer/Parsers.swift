import PerpMarketData
import PerpModel

/// libFuzzer's entry point: the first byte picks a parser, the rest is its input. Every parser
/// must return a value or throw its typed error for any bytes; a trap is a finding. Where a
/// parsed value has an exact printed form, printing and parsing it again must give it back.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let selector = data[0]
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let text = String(decoding: bytes, as: UTF8.self)
    switch selector % 12 {
    case 0:
        // Raw decimal parsing at every scale the units use (0…18 decimals).
        let decimals = Int(selector / 12) % 19
        _ = bytes.withUnsafeBufferPointer { DecimalParser.parse($0, decimals: decimals) }
        _ = bytes.withUnsafeBufferPointer { DecimalParser.parse($0, decimals: decimals, rule: .up) }
    case 1:
        if let price = Price(text) { precondition(Price(price.description) == price, "Price round trip: \(text)") }
        if let rate = Rate(text) { precondition(Rate(rate.description) == rate, "Rate round trip: \(text)") }
        if let quantity = Quantity(text, rounding: .towardZero) {
            precondition(Quantity(quantity.description) == quantity, "Quantity round trip: \(text)")
            _ = quantity.formatted(places: Int(selector / 12) % 19)
        }
    case 2:
        if let span = TimeSpan(parsing: text) { _ = span.description }
    case 3:
        if let time = Timestamp(parsing: text) {
            _ = time.description
            _ = time.isoDate
        }
    case 4:
        if let series = try? CandleCSV.parse(bytes, source: "fuzz") { _ = series.gaps() }
    case 5:
        if let json = try? JSONParser.parse(bytes), let series = try? CandleJSON.parseBinance(json, source: "fuzz") {
            _ = series.gaps()
        }
    case 6:
        if let json = try? JSONParser.parse(bytes), let series = try? CandleJSON.parseLighter(json, source: "fuzz") {
            _ = series.gaps()
        }
    case 7:
        if let rates = try? FundingFormats.parseCSV(bytes, source: "fuzz") { _ = rates.count }
    case 8:
        if let json = try? JSONParser.parse(bytes) { _ = try? FundingFormats.parseBinance(json, source: "fuzz") }
    case 9:
        if let json = try? JSONParser.parse(bytes) { _ = try? FundingFormats.parseLighter(json, source: "fuzz") }
    case 10:
        _ = try? ValueSeriesCSV.parse(bytes, source: "fuzz")
    default:
        _ = try? JSONParser.parse(text)
    }
    return 0
}
