import PerpModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A `time_ms,value` history that several writers append to: `stake --record` and the signal
/// collectors (issue 16) write the files `--signals DIR` reads. docs/decisions/0010-output-files.md
/// and 0020-signal-collectors.md:
///
/// - a missing file is created whole (header and rows in a temporary file, linked into place only
///   if no other writer created it first);
/// - writers take turns: each holds an exclusive `flock` on a lock file beside the history
///   (`.NAME.lock`) while it checks and writes, so two cron jobs, a collector and a backfill
///   never interleave, and a backfill can replace the file (``merge(_:into:)``) under the same
///   lock without an appender writing to the file it replaced;
/// - the file must be ours: a `time,value` header and rows the bot's reader (``ValueSeriesCSV``)
///   accepts; a foreign or binary file is refused naming the file and line;
/// - a missing final newline is repaired before the rows;
/// - a row is never written for a time the file already has, or one before its last row, so the
///   file stays sorted, free of duplicates, and a collector that is killed and started again
///   simply writes what is still missing;
/// - the rows of one call are written with one `write` and synced: all of them or none.
public enum SeriesFile {
    public static let header = "time_ms,value"
    /// The time columns ``ValueSeriesCSV`` accepts in the header.
    public static let timeColumns = ["time", "time_ms", "timestamp_ms", "open_time_ms"]

    /// Why a history could not be read or appended to; the text starts with the path.
    public struct Failure: Error, Equatable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// What one append did.
    public struct Appended: Equatable, Sendable {
        /// Rows written.
        public var written: Int
        /// Rows not written because the file already had their time or a later one.
        public var skipped: Int
        /// Whether the file was created by this call.
        public var created: Bool
        /// Whether a missing final newline was added.
        public var repairedNewline: Bool
        /// The time of the file's last row after the call (`nil`: the file has no rows).
        public var last: Int64?
    }

    /// Appends `rows` (sorted by time here; only those after the file's last row, each time once)
    /// to `path`, creating it with its header when missing. The folder must exist.
    @discardableResult
    public static func append(_ rows: [(time: Int64, value: String)], to path: String) throws(Failure) -> Appended {
        let sorted = rows.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
        for row in sorted where !isPlainValue(row.value) {
            throw Failure("\(path): \"\(InputLimits.excerpt(row.value))\" is not a number to record")
        }
        let lock = try Lock(path)
        defer { lock.release() }
        for _ in 0..<3 {
            let descriptor = open(path, O_RDWR | O_APPEND | O_NONBLOCK | O_CLOEXEC)
            if descriptor < 0 {
                guard errno == ENOENT else { throw Failure("\(path): \(String(cString: strerror(errno)))") }
                let fresh = strictlyIncreasing(sorted, after: nil)
                guard !fresh.isEmpty else {
                    return Appended(written: 0, skipped: sorted.count, created: false, repairedNewline: false, last: nil)
                }
                if try create(path, text: header + "\n" + lines(fresh)) {
                    return Appended(
                        written: fresh.count, skipped: sorted.count - fresh.count, created: true, repairedNewline: false,
                        last: fresh.last?.time)
                }
                continue  // another writer created it first: append to theirs
            }
            defer { close(descriptor) }
            return try appendLocked(descriptor, path: path, rows: sorted)
        }
        throw Failure("\(path): the file keeps appearing and disappearing; is another program replacing it?")
    }

    /// Adds `rows` to the history at `path` wherever they fall in time: rows at times the file
    /// lacks are inserted, rows at times it has are left out (the file's value stands). Used by a
    /// backfill, which fills the past that an append never writes. The merged file replaces the
    /// old one whole (a temporary file renamed into place), under the writers' lock.
    @discardableResult
    public static func merge(_ rows: [(time: Int64, value: String)], into path: String) throws(Failure) -> Appended {
        for row in rows where !isPlainValue(row.value) {
            throw Failure("\(path): \"\(InputLimits.excerpt(row.value))\" is not a number to record")
        }
        let lock = try Lock(path)
        defer { lock.release() }
        var info = stat()
        let exists = stat(path, &info) == 0
        if !exists && errno != ENOENT { throw Failure("\(path): \(String(cString: strerror(errno)))") }
        if exists && (info.st_mode & S_IFMT) != S_IFREG { throw Failure("\(path): not a regular file; give a CSV file to append to") }
        var existing: [(time: Int64, value: String)] = []
        if exists {
            let bytes: [UInt8]
            do { bytes = try MarketDataFiles.readBytes(path, limit: InputLimits.maxSeriesBytes) } catch {
                throw Failure("\(path): \(error.reason)")
            }
            _ = try check(bytes, path: path)
            existing = try rowsKeepingText(bytes, path: path)
        }
        let have = Set(existing.map(\.time))
        var added: [(time: Int64, value: String)] = []
        for row in rows.sorted(by: { $0.time < $1.time }) where !have.contains(row.time) && added.last?.time != row.time {
            added.append(row)
        }
        guard !added.isEmpty else {
            return Appended(written: 0, skipped: rows.count, created: false, repairedNewline: false, last: existing.last?.time)
        }
        let merged = (existing + added).sorted { $0.time < $1.time }
        let temporary = try stage(header + "\n" + lines(merged), beside: path)
        defer { unlink(temporary) }
        guard rename(temporary, path) == 0 else { throw Failure("\(path): replacing the file: \(String(cString: strerror(errno)))") }
        syncFolder(of: path)
        return Appended(
            written: added.count, skipped: rows.count - added.count, created: !exists, repairedNewline: false, last: merged.last?.time)
    }

    /// The rows of a checked history with each value as the file writes it.
    static func rowsKeepingText(_ bytes: [UInt8], path: String) throws(Failure) -> [(time: Int64, value: String)] {
        let points: [(time: Int64, value: Double)]
        do { points = try ValueSeriesCSV.parse(bytes, source: path) } catch .empty { return [] } catch { throw Failure(error.description) }
        var texts: [String] = []
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropFirst() {
            var row = Substring(line)
            if row.hasSuffix("\r") { row = row.dropLast() }
            if row.isEmpty { continue }
            texts.append(row.split(separator: ",", maxSplits: 1).dropFirst().first.map { String($0).trimmedOfSpaces } ?? "")
        }
        var rows: [(time: Int64, value: String)] = []
        rows.reserveCapacity(points.count)
        for (index, point) in points.enumerated() {
            // A value written another way (`1e3`, ` 5`) is rewritten as a plain decimal of the same
            // number; one that has none is refused, never changed.
            let text = index < texts.count && texts.count == points.count ? texts[index] : ""
            if isPlainValue(text) {
                rows.append((point.time, text))
            } else if let plain = format(point.value, places: 9), Double(plain) == point.value {
                rows.append((point.time, plain))
            } else {
                throw Failure(
                    "\(path): the value \(point.value) at \(Timestamp(milliseconds: point.time).iso8601) has no plain decimal form to write back; the file is left as it is"
                )
            }
        }
        return rows
    }

    /// The exclusive lock every writer of `path` holds while it writes: `flock` on `.NAME.lock`
    /// beside it (created when missing, never removed: removing it would let two writers lock
    /// two different files).
    struct Lock {
        let descriptor: Int32

        init(_ path: String) throws(Failure) {
            let folder = SeriesFile.folder(of: path)
            var info = stat()
            guard stat(folder, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
                throw Failure("\(path): the folder \(folder) does not exist")
            }
            var base = path.split(separator: "/").last.map(String.init) ?? "series"
            while base.utf8.count > 200 { base.removeLast() }
            let lockPath = "\(folder)/.\(base).lock"
            let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
            guard descriptor >= 0 else {
                throw Failure("\(path): cannot open the lock file \(lockPath): \(String(cString: strerror(errno)))")
            }
            while flock(descriptor, LOCK_EX) != 0 {
                guard errno == EINTR else {
                    close(descriptor)
                    throw Failure("\(path): cannot lock \(lockPath): \(String(cString: strerror(errno)))")
                }
            }
            self.descriptor = descriptor
        }

        func release() {
            _ = flock(descriptor, LOCK_UN)
            close(descriptor)
        }
    }

    /// The time of the last row of `path`, `nil` when the file is missing or has no rows; a file
    /// that is not a history is refused as ``append(_:to:)`` would refuse it.
    public static func lastTime(_ path: String) throws(Failure) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            guard errno == ENOENT else { throw Failure("\(path): \(String(cString: strerror(errno)))") }
            return nil
        }
        let bytes: [UInt8]
        do { bytes = try MarketDataFiles.readBytes(path, limit: InputLimits.maxSeriesBytes) } catch {
            throw Failure("\(path): \(error.reason)")
        }
        return try check(bytes, path: path)
    }

    /// Checks `path` before anything is fetched: an existing file must be a history that can be
    /// appended to, a new one's folder must exist. ``append(_:to:)`` checks again under the lock.
    public static func precheck(_ path: String) throws(Failure) {
        var info = stat()
        if stat(path, &info) != 0 {
            guard errno == ENOENT else { throw Failure("\(path): \(String(cString: strerror(errno)))") }
            let folder = folder(of: path)
            guard stat(folder, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
                throw Failure("\(path): the folder \(folder) does not exist")
            }
            return
        }
        _ = try lastTime(path)
    }

    /// Checks that `bytes` are a history this type writes (or one like it); returns the time of
    /// its last row, `nil` when it has none.
    public static func check(_ bytes: [UInt8], path: String) throws(Failure) -> Int64? {
        guard !bytes.isEmpty else { return nil }
        func foreign(_ line: Int, _ why: String) -> Failure {
            Failure("\(path):\(line): \(why); not appending to a file that is not a time,value history")
        }
        do { try InputLimits.check(bytes, source: path) } catch { throw Failure(error.description) }
        guard String(validating: bytes, as: UTF8.self) != nil else { throw foreign(1, "the file is not UTF-8 text") }
        var headerEnd = bytes.firstIndex(of: 10) ?? bytes.count
        if headerEnd > 0, bytes[headerEnd - 1] == 13 { headerEnd -= 1 }
        var start = 0
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { start = 3 }
        let headerText = String(decoding: bytes[min(start, headerEnd)..<headerEnd], as: UTF8.self)
        let names = headerText.split(separator: ",", omittingEmptySubsequences: false).map {
            String($0).trimmedOfSpaces.lowercased()
        }
        guard names.count == 2, timeColumns.contains(names[0]), names[1] == "value" else {
            throw foreign(1, "the header is \"\(InputLimits.excerpt(headerText))\", not \(header)")
        }
        do {
            return try ValueSeriesCSV.parse(bytes, source: path).last?.time
        } catch .empty {
            return nil
        } catch {
            throw Failure("\(error.description); not appending to it")
        }
    }

    /// The folder holding `path` (`.` for a bare name).
    public static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// A value as the file holds it: a plain decimal (`-0.25`, `1234.5`), never an exponent,
    /// `nan` or a comma, so every reader (ours, a spreadsheet) reads the same number.
    static func isPlainValue(_ text: String) -> Bool {
        var digits = 0
        var dots = 0
        for (index, byte) in text.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "-") where index == 0: continue
            case UInt8(ascii: "."): dots += 1
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits += 1
            default: return false
            }
        }
        return digits > 0 && dots <= 1 && text.utf8.count <= 40
    }

    /// `value` written with at most `places` decimals, trailing zeros dropped (`0.1250` → `0.125`);
    /// `nil` for a value that is not finite.
    public static func format(_ value: Double, places: Int = 6) -> String? {
        let places = min(max(places, 0), 9)
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        // Scaled, the value must fit a UInt64 (1.8·10¹⁹): 10⁹ at nine places, 10¹³ at six.
        guard value.isFinite, abs(value) * scale < 9e18 else { return nil }
        let scaled = (value * scale).rounded(.toNearestOrEven)
        let negative = scaled < 0
        let magnitude = UInt64(abs(scaled))
        var unit: UInt64 = 1
        for _ in 0..<places { unit *= 10 }
        let whole = magnitude / unit
        var fraction = places > 0 ? String(magnitude % unit) : ""
        if places > 0 {
            fraction = String(repeating: "0", count: places - fraction.count) + fraction
            while fraction.hasSuffix("0") { fraction.removeLast() }
        }
        let text = fraction.isEmpty ? "\(whole)" : "\(whole).\(fraction)"
        return negative && magnitude > 0 ? "-" + text : text
    }

    private static func strictlyIncreasing(_ rows: [(time: Int64, value: String)], after last: Int64?) -> [(time: Int64, value: String)] {
        var result: [(time: Int64, value: String)] = []
        var previous = last
        for row in rows where previous.map({ row.time > $0 }) ?? true {
            result.append(row)
            previous = row.time
        }
        return result
    }

    private static func lines(_ rows: [(time: Int64, value: String)]) -> String {
        rows.map { "\($0.time),\($0.value)\n" }.joined()
    }

    /// Creates `path` holding `text`, whole or not at all; `false` when it already exists.
    private static func create(_ path: String, text: String) throws(Failure) -> Bool {
        let temporary = try stage(text, beside: path)
        defer { unlink(temporary) }
        // link(2) never replaces: exactly one of several creators wins.
        if link(temporary, path) == 0 {
            syncFolder(of: path)
            return true
        }
        if errno == EEXIST { return false }
        throw Failure("\(path): \(String(cString: strerror(errno)))")
    }

    /// Writes `text` to a new synced temporary file beside `path`; returns its path.
    static func stage(_ text: String, beside path: String) throws(Failure) -> String {
        let folder = folder(of: path)
        guard let (descriptor, temporary) = DurableWrite.temporaryFile(beside: path, folder: folder) else {
            throw Failure("\(path): creating a temporary file in \(folder): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        do throws(Failure) {
            try writeAll(text, to: descriptor, path: path)
            guard fsync(descriptor) == 0 else { throw Failure("\(path): syncing: \(String(cString: strerror(errno)))") }
        } catch {
            unlink(temporary)
            throw error
        }
        return temporary
    }

    /// Makes a link or rename durable.
    static func syncFolder(of path: String) { DurableWrite.syncFolder(folder(of: path)) }

    private static func appendLocked(_ descriptor: Int32, path: String, rows: [(time: Int64, value: String)]) throws(Failure) -> Appended {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw Failure("\(path): \(String(cString: strerror(errno)))") }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw Failure("\(path): not a regular file; give a CSV file to append to")
        }
        let flags = fcntl(descriptor, F_GETFL)
        if flags >= 0 { _ = fcntl(descriptor, F_SETFL, flags & ~O_NONBLOCK) }
        let bytes: [UInt8]
        do { bytes = try MarketDataFiles.readBytes(path, limit: InputLimits.maxSeriesBytes) } catch {
            throw Failure("\(path): \(error.reason)")
        }
        let last = try check(bytes, path: path)
        let fresh = strictlyIncreasing(rows, after: last)
        let repair = !bytes.isEmpty && bytes.last != 10
        guard !fresh.isEmpty else {
            return Appended(written: 0, skipped: rows.count, created: false, repairedNewline: false, last: last)
        }
        var text = bytes.isEmpty ? header + "\n" : ""
        if repair { text += "\n" }
        text += lines(fresh)
        try writeAll(text, to: descriptor, path: path)
        guard fsync(descriptor) == 0 else { throw Failure("\(path): syncing: \(String(cString: strerror(errno)))") }
        return Appended(
            written: fresh.count, skipped: rows.count - fresh.count, created: bytes.isEmpty, repairedNewline: repair, last: fresh.last?.time
        )
    }

    private static func writeAll(_ text: String, to descriptor: Int32, path: String) throws(Failure) {
        if let code = DurableWrite.all(text, to: descriptor) { throw Failure("\(path): writing: \(String(cString: strerror(code)))") }
    }
}

extension String {
    fileprivate var trimmedOfSpaces: String {
        var text = Substring(self)
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        return String(text)
    }
}
