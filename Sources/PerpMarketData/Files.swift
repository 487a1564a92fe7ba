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
    /// Opens `path` for reading, refusing up front anything but a regular file of at most
    /// `limit` bytes: a named pipe (which would block, or be read once and gone), a device, a
    /// folder, a socket. The open never blocks (`O_NONBLOCK`, which regular files ignore).
    ///
    /// - Returns: the open descriptor (the caller closes it) and the file's size.
    static func openRegular(_ path: String, limit: Int) throws(FileReadError) -> (descriptor: Int32, size: Int) {
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileReadError(path: path, reason: String(cString: strerror(errno))) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw FileReadError(path: path, reason: reason)
        }
        let kind: String? =
            switch info.st_mode & S_IFMT {
            case S_IFREG: nil
            case S_IFDIR: "a folder, not a file"
            case S_IFIFO: "a named pipe (FIFO), not a regular file"
            case S_IFCHR: "a character device, not a regular file"
            case S_IFBLK: "a block device, not a regular file"
            case S_IFSOCK: "a socket, not a regular file"
            default: "not a regular file"
            }
        if let kind {
            close(descriptor)
            throw FileReadError(path: path, reason: "it is \(kind)")
        }
        let size = Int(info.st_size)
        guard size <= limit else {
            close(descriptor)
            throw FileReadError(path: path, reason: "it is \(byteCount(size)), more than the \(byteCount(limit)) this input accepts")
        }
        return (descriptor, size)
    }

    /// A size for a message: bytes, KiB, MiB or GiB, to one decimal.
    static func byteCount(_ bytes: Int) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes) bytes" }
        let tenths = Int((value * 10).rounded())
        return tenths % 10 == 0 ? "\(tenths / 10) \(units[unit])" : "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }

    /// The whole file as bytes (one `read` loop; no Foundation); a file that is not regular, or
    /// larger than `limit` (default ``InputLimits/maxSeriesBytes``), is refused before reading.
    public static func readBytes(_ path: String, limit: Int = InputLimits.maxSeriesBytes) throws(FileReadError) -> [UInt8] {
        let (descriptor, size) = try openRegular(path, limit: limit)
        defer { close(descriptor) }
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

    /// A value series (`time,value` CSV: a signal, the staked-NMR history), bounded like every
    /// input: a regular file of at most ``InputLimits/maxSeriesBytes``, short lines, no NUL.
    public static func loadValueSeries(_ path: String) throws -> [(time: Int64, value: Double)] {
        try ValueSeriesCSV.parse(readBytes(path, limit: InputLimits.maxSeriesBytes), source: path)
    }

    /// Candles from a CSV file, Binance kline JSON or Lighter candle JSON. A CSV file is read in
    /// chunks of whole lines, so memory stays near the size of the bars rather than the file.
    public static func loadCandles(_ path: String) throws -> CandleSeries {
        if let series = try streamCandleCSV(path) { return series }
        let bytes = try readBytes(path, limit: InputLimits.maxJSONBytes)
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
        let bytes = try readBytes(path, limit: max(InputLimits.maxJSONBytes, InputLimits.maxSeriesBytes))
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

    /// Parses a CSV candle file chunk by chunk; `nil` when the file is not CSV (JSON). A line
    /// longer than ``InputLimits/maxLineBytes``, or a NUL byte near the start, is refused as
    /// soon as it is read, so a file with no line end costs one chunk of memory, not its size.
    static func streamCandleCSV(_ path: String, chunkSize: Int = chunkSize) throws -> CandleSeries? {
        let (descriptor, fileSize) = try openRegular(path, limit: InputLimits.maxCandleCSVBytes)
        defer { close(descriptor) }
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
        // Line ends before the buffer's first byte: the buffer starts at line `linesBefore + 1`.
        var linesBefore = 0
        while true {
            // The part up to the last line end (everything at the end of the file).
            var usable = filled
            if !atEnd {
                guard let lastNewline = buffer[0..<filled].lastIndex(of: 10) else {
                    // A line longer than the buffer: grow it, up to the longest line accepted.
                    guard buffer.count <= InputLimits.maxLineBytes else {
                        if parser == nil {
                            try buffer.withUnsafeBufferPointer { (all) throws(MarketDataError) -> Void in
                                try InputLimits.probeBinary(UnsafeBufferPointer(rebasing: all[0..<filled]), source: path)
                            }
                        }
                        throw MarketDataError.lineTooLong(source: path, row: linesBefore + 1, limit: InputLimits.maxLineBytes)
                    }
                    buffer.append(contentsOf: [UInt8](repeating: 0, count: buffer.count))
                    try fill()
                    continue
                }
                usable = lastNewline + 1
            }
            var consumedHeader = 0
            try buffer.withUnsafeBufferPointer { (all) throws -> Void in
                let chunk = UnsafeBufferPointer(rebasing: all[0..<usable])
                linesBefore += try InputLimits.check(chunk, source: path, firstLine: linesBefore + 1, probeBinary: parser == nil)
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
