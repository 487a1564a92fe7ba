import PerpModel
import Testing

@testable import PerpMarketData

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Issue 11, "Bounded reads": inputs that are not data are refused in a moment, in one short line.
@Suite struct BoundedReadTests {
    /// A fresh path under /tmp (no Foundation here).
    static func path(_ name: String) -> String {
        "/tmp/nmrperp-bounded-\(getpid())-\(UInt64.random(in: 0...UInt64.max))-\(name)"
    }

    static func write(_ bytes: [UInt8], to path: String) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(descriptor >= 0)
        _ = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
    }

    @Test func excerptsAreShortAndEscaped() {
        #expect(InputLimits.excerpt("abc") == "abc")
        #expect(InputLimits.excerpt("a\0b\tc\u{1B}") == "a\\0b\\tc\\u{1B}")
        let long = InputLimits.excerpt(String(repeating: "x", count: 10_000))
        #expect(long.count == InputLimits.excerptCharacters + 1 && long.hasSuffix("…"))
        #expect(InputLimits.excerpt(String(decoding: [0xFF, 0x41], as: UTF8.self)) == "\\u{FFFD}A")
    }

    @Test func longLinesAndNulBytesAreFoundWithTheirLine() {
        let long = Array("h\n1\n".utf8) + [UInt8](repeating: 0x31, count: InputLimits.maxLineBytes + 1) + [10]
        #expect(throws: MarketDataError.lineTooLong(source: "f", row: 3, limit: InputLimits.maxLineBytes)) {
            try InputLimits.check(long, source: "f")
        }
        let unterminated = Array("h\n".utf8) + [UInt8](repeating: 0x31, count: InputLimits.maxLineBytes + 1)
        #expect(throws: MarketDataError.lineTooLong(source: "f", row: 2, limit: InputLimits.maxLineBytes)) {
            try InputLimits.check(unterminated, source: "f")
        }
        #expect(throws: MarketDataError.binary(source: "f", row: 2)) { try InputLimits.check(Array("h\nab\0\n".utf8), source: "f") }
        #expect(throws: Never.self) { try InputLimits.check(Array("h\n1,2\n3,4".utf8), source: "f") }
        #expect(throws: MarketDataError.binary(source: "f", row: 1)) { try ValueSeriesCSV.parse([0, 0, 0], source: "f") }
    }

    @Test func aPipeAFolderAndAnOversizedFileAreRefusedBeforeReading() throws {
        let fifo = Self.path("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        let pipe = #expect(throws: FileReadError.self) { try MarketDataFiles.loadCandles(fifo) }
        #expect(pipe?.reason.contains("named pipe") == true)
        let folder = #expect(throws: FileReadError.self) { try MarketDataFiles.readBytes("/tmp") }
        #expect(folder?.reason.contains("folder") == true)
        let file = Self.path("small.csv")
        Self.write(Array("time,value\n1,2\n".utf8), to: file)
        defer { unlink(file) }
        let big = #expect(throws: FileReadError.self) { try MarketDataFiles.readBytes(file, limit: 4) }
        #expect(big?.reason == "it is 15 bytes, more than the 4 bytes this input accepts")
        #expect(try MarketDataFiles.loadValueSeries(file).count == 1)
    }

    @Test func theStreamingReaderStopsAtTheFirstLongLine() throws {
        let file = Self.path("long.csv")
        var bytes = Array("open_time_ms,open,high,low,close\n1700000000000,1,1,1,1\n".utf8)
        bytes += [UInt8](repeating: 0x39, count: 4 * InputLimits.maxLineBytes)
        Self.write(bytes, to: file)
        defer { unlink(file) }
        for chunk in [1024, 1 << 20] {
            #expect(throws: MarketDataError.lineTooLong(source: file, row: 3, limit: InputLimits.maxLineBytes)) {
                try MarketDataFiles.streamCandleCSV(file, chunkSize: chunk)
            }
        }
        let zeros = Self.path("zeros.csv")
        Self.write([UInt8](repeating: 0, count: 2 << 20), to: zeros)
        defer { unlink(zeros) }
        #expect(throws: MarketDataError.binary(source: zeros, row: 1)) { try MarketDataFiles.loadCandles(zeros) }
    }
}
