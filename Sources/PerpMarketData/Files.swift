import PerpModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

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

    /// Candles from a CSV file, Binance kline JSON or Lighter candle JSON. A CSV file is read in
    /// chunks of whole lines, so memory stays near the size of the bars rather than the file.
    public static func loadCandles(_ path: String) throws -> CandleSeries {
        if let series = try streamCandleCSV(path) { return series }
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

    /// Chunk size of the streaming CSV reader.
    static let chunkSize = 8 << 20

    /// Parses a CSV candle file chunk by chunk; `nil` when the file is not CSV (JSON).
    static func streamCandleCSV(_ path: String, chunkSize: Int = chunkSize) throws -> CandleSeries? {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw FileReadError(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw FileReadError(path: path, reason: String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw FileReadError(path: path, reason: "not a regular file") }
        let fileSize = Int(info.st_size)
        var buffer = [UInt8](repeating: 0, count: max(16, chunkSize))
        var filled = 0
        var atEnd = false
        func fill() throws {
            while filled < buffer.count && !atEnd {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
                if count < 0 {
                    if errno == EINTR { continue }
                    throw FileReadError(path: path, reason: String(cString: strerror(errno)))
                }
                if count == 0 { atEnd = true }
                filled += count
            }
        }
        try fill()
        guard let first = buffer[0..<filled].first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) else {
            throw MarketDataError.empty(source: path)
        }
        if first == UInt8(ascii: "[") || first == UInt8(ascii: "{") { return nil }
        var parser: CandleCSVParser?
        while true {
            // The part up to the last line end (everything at the end of the file).
            var usable = filled
            if !atEnd {
                guard let lastNewline = buffer[0..<filled].lastIndex(of: 10) else {
                    // A line longer than the buffer: grow it.
                    buffer.append(contentsOf: [UInt8](repeating: 0, count: buffer.count))
                    try fill()
                    continue
                }
                usable = lastNewline + 1
            }
            var consumedHeader = 0
            try buffer.withUnsafeBufferPointer { (all) throws -> Void in
                let chunk = UnsafeBufferPointer(rebasing: all[0..<usable])
                if parser == nil {
                    var reader = CSVReader(buffer: chunk)
                    guard let header = reader.header() else { throw MarketDataError.empty(source: path) }
                    var fresh = try CandleCSVParser(header: header, source: path, expectedRows: fileSize / 48 + 16)
                    fresh.line = reader.line
                    parser = fresh
                    consumedHeader = reader.position
                }
                try parser!.consume(UnsafeBufferPointer(rebasing: chunk[min(consumedHeader, usable)...]))
            }
            if atEnd { break }
            // Keep the partial last line at the front and read more after it.
            let remainder = filled - usable
            if remainder > 0 {
                buffer.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: $0.baseAddress! + usable, count: remainder) }
            }
            filled = remainder
            try fill()
        }
        guard let parser else { throw MarketDataError.empty(source: path) }
        return try parser.finish()
    }
}
