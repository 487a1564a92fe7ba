#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import PerpModel

/// Why a file could not be read.
public struct FileReadError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "cannot read \(path): \(reason)" }
}

/// Reads market data files of any supported format, chosen by content.
public enum MarketDataFiles {
    /// The whole file as bytes (one `read` loop; no Foundation).
    public static func readBytes(_ path: String) throws(FileReadError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw FileReadError(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw FileReadError(path: path, reason: String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw FileReadError(path: path, reason: "not a regular file") }
        let size = Int(info.st_size)
        var failure: String?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var offset = 0
            while offset < size {
                let count = read(descriptor, buffer.baseAddress! + offset, size - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    break
                }
                if count == 0 { break }
                offset += count
            }
            initialized = offset
        }
        if let failure { throw FileReadError(path: path, reason: failure) }
        return bytes
    }

    /// Candles from a CSV file, Binance kline JSON or Lighter candle JSON.
    public static func loadCandles(_ path: String) throws -> CandleSeries {
        let bytes = try readBytes(path)
        guard let first = bytes.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) else {
            throw MarketDataError.empty(source: path)
        }
        if first == UInt8(ascii: "[") || first == UInt8(ascii: "{") {
            let json: JSONValue
            do { json = try JSONParser.parse(bytes) } catch { throw MarketDataError.invalidJSON(source: path, detail: error.description) }
            if json.arrayValue != nil {
                if let firstRow = json.arrayValue?.first, firstRow["fundingRate"] != nil {
                    throw MarketDataError.unrecognisedFormat(source: path, detail: "this is a funding history; candles are needed here")
                }
                return try CandleJSON.parseBinance(json, source: path)
            }
            if json["fundings"] != nil {
                throw MarketDataError.unrecognisedFormat(source: path, detail: "this is a funding history; candles are needed here")
            }
            return try CandleJSON.parseLighter(json, source: path)
        }
        return try CandleCSV.parse(bytes, source: path)
    }

    /// Funding from a CSV file, Binance `fundingRate` JSON or Lighter `fundings` JSON.
    public static func loadFunding(_ path: String, defaultInterval: TimeSpan = .hours(8)) throws -> [FundingRate] {
        let bytes = try readBytes(path)
        guard let first = bytes.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) else {
            throw MarketDataError.empty(source: path)
        }
        if first == UInt8(ascii: "[") || first == UInt8(ascii: "{") {
            let json: JSONValue
            do { json = try JSONParser.parse(bytes) } catch { throw MarketDataError.invalidJSON(source: path, detail: error.description) }
            if json.arrayValue != nil { return try FundingFormats.parseBinance(json, source: path, defaultInterval: defaultInterval) }
            return try FundingFormats.parseLighter(json, source: path)
        }
        return try FundingFormats.parseCSV(bytes, source: path, defaultInterval: defaultInterval)
    }
}
