import PerpModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How much of an input file the readers accept, so that a wrong file (a disk image, a device,
/// gigabytes of NUL bytes with no line end) is refused in a moment with one short line instead
/// of filling memory or the terminal (issue 11, "Bounded reads"; docs/decisions/0010).
public enum InputLimits {
    /// The longest CSV line accepted, in bytes. A real bar or funding row is under 200 bytes.
    public static let maxLineBytes = 64 << 10
    /// The largest candle CSV accepted (read in chunks, so memory stays near the bars' size).
    public static let maxCandleCSVBytes = 2 << 30
    /// The largest JSON file (candles or funding) accepted: it is parsed whole, at several times
    /// its size in memory.
    public static let maxJSONBytes = 256 << 20
    /// The largest funding or value-series (signal, stake history) file accepted.
    public static let maxSeriesBytes = 256 << 20
    /// The largest configuration file (the bot's YAML) accepted.
    public static let maxConfigBytes = 1 << 20
    /// How many bytes at the start of a file are searched for a NUL byte (the mark of a binary file).
    public static let binaryProbeBytes = 64 << 10
    /// The longest excerpt of a file's content quoted in an error message, in characters.
    public static let excerptCharacters = 60

    /// Checks that `buffer` (text starting at line `firstLine`) holds no line longer than
    /// ``maxLineBytes``, and, when `probeBinary`, no NUL byte in its first ``binaryProbeBytes``.
    ///
    /// - Returns: the number of line ends in `buffer`.
    /// - Throws: ``MarketDataError/lineTooLong(source:row:limit:)`` or
    ///   ``MarketDataError/binary(source:row:)``.
    @discardableResult
    public static func check(
        _ buffer: UnsafeBufferPointer<UInt8>, source: String, firstLine: Int = 1, probeBinary: Bool = true
    ) throws(MarketDataError) -> Int {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return 0 }
        if probeBinary { try self.probeBinary(buffer, source: source, firstLine: firstLine) }
        var start = 0
        var lines = 0
        while start < buffer.count {
            let remaining = buffer.count - start
            guard let found = memchr(base + start, 10, remaining) else {
                if remaining > maxLineBytes { throw .lineTooLong(source: source, row: firstLine + lines, limit: maxLineBytes) }
                break
            }
            let end = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
            if end - start > maxLineBytes { throw .lineTooLong(source: source, row: firstLine + lines, limit: maxLineBytes) }
            lines += 1
            start = end + 1
        }
        return lines
    }

    /// Throws ``MarketDataError/binary(source:row:)`` when the first ``binaryProbeBytes`` of
    /// `buffer` (text starting at line `firstLine`) hold a NUL byte.
    public static func probeBinary(_ buffer: UnsafeBufferPointer<UInt8>, source: String, firstLine: Int = 1) throws(MarketDataError) {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        guard let found = memchr(base, 0, min(buffer.count, binaryProbeBytes)) else { return }
        let offset = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
        let line = firstLine + UnsafeBufferPointer(rebasing: buffer[0..<offset]).reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
        throw .binary(source: source, row: line)
    }

    /// ``check(_:source:firstLine:probeBinary:)`` over a whole file's bytes.
    public static func check(_ bytes: [UInt8], source: String) throws(MarketDataError) {
        try bytes.withUnsafeBufferPointer { (buffer) throws(MarketDataError) -> Void in try check(buffer, source: source) }
    }

    /// `text` as it may appear in a one-line message: at most ``excerptCharacters`` characters
    /// (then `…`), with control characters, NUL and invalid UTF-8 escaped (`\0`, `\t`, `\u{1B}`).
    public static func excerpt(_ text: String) -> String {
        var result = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count >= excerptCharacters {
                result += "…"
                break
            }
            switch scalar {
            case "\0": result += "\\0"
            case "\t": result += "\\t"
            case "\r": result += "\\r"
            case "\n": result += "\\n"
            case "\u{FFFD}": result += "\\u{FFFD}"
            default:
                if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.properties.generalCategory == .format {
                    result += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
            count += 1
        }
        return result
    }
}

/// Text distance for did-you-mean suggestions (configuration keys, flags, sweep keys).
public enum TextDistance {
    /// Levenshtein edit distance.
    public static func levenshtein(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
