import Foundation
import PerpMarketData
import PerpModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `stake --record FILE`: appends one `time_ms,value` row to the staked-NMR history, safely
/// (issue 11; docs/decisions/0010-output-files.md):
///
/// - a missing file is created whole (header and row in a temporary file, linked into place
///   only if no other writer created it first);
/// - an existing file is locked (`flock`, exclusive) while it is checked and appended to, so
///   concurrent writers (two cron jobs) take turns;
/// - the file must be ours: a `time,value` header and rows the bot's `--signals` reader
///   accepts; a foreign or binary file is refused with one line naming the file and line;
/// - a missing final newline is repaired before the row;
/// - a row is never written for a time the file already has (or one before its last row), so
///   the file stays sorted and readable.
enum StakeRecord {
    static let header = "time_ms,value"
    /// The time columns the bot's reader (``ValueSeriesCSV``) accepts in the header.
    static let timeColumns = ["time", "time_ms", "timestamp_ms", "open_time_ms"]

    enum Outcome: Equatable {
        case created
        case appended(repairedNewline: Bool)
        /// Not written: the file already has a row at `last`, at or after the new row's time.
        case skipped(last: Int64)
    }

    /// Appends `time_ms,value` for `value` at `time` to `path`.
    static func append(value: String, at time: Timestamp, to path: String) throws -> Outcome {
        let row = "\(time.milliseconds),\(value)\n"
        for _ in 0..<3 {
            let descriptor = open(path, O_RDWR | O_APPEND | O_NONBLOCK | O_CLOEXEC)
            if descriptor < 0 {
                guard errno == ENOENT else { throw CLIError("--record \(path): \(String(cString: strerror(errno)))") }
                if try create(path, text: header + "\n" + row) { return .created }
                continue  // another writer created it first: append to theirs
            }
            defer { close(descriptor) }
            return try appendLocked(descriptor, path: path, row: row, time: time.milliseconds)
        }
        throw CLIError("--record \(path): the file keeps appearing and disappearing; is another program replacing it?")
    }

    /// Checks `path` before the stake is fetched: an existing file must be a history this command
    /// can append to, a new one's folder must exist. ``append(value:at:to:)`` checks again under
    /// the lock.
    static func precheck(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            guard errno == ENOENT else { throw CLIError("--record \(path): \(String(cString: strerror(errno)))") }
            let folder = OutputFiles.folder(of: path)
            guard stat(folder, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
                throw CLIError("--record \(path): the folder \(folder) does not exist")
            }
            return
        }
        let bytes: [UInt8]
        do { bytes = try MarketDataFiles.readBytes(path, limit: InputLimits.maxSeriesBytes) } catch {
            throw CLIError("--record \(path): \(error.reason)")
        }
        _ = try check(bytes, path: path)
    }

    /// Creates `path` holding `text`, whole or not at all; `false` when it already exists.
    private static func create(_ path: String, text: String) throws -> Bool {
        let folder = OutputFiles.folder(of: path)
        var info = stat()
        guard stat(folder, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw CLIError("--record \(path): the folder \(folder) does not exist")
        }
        let staging = OutputFiles.Destination(flag: "--record", path: path, target: path, kind: .create)
        let temporary: String
        do { temporary = try OutputFiles.stage(text, for: staging) } catch { throw CLIError("--record \(path): \(error)") }
        defer { unlink(temporary) }
        // link(2) never replaces: exactly one of several creators wins.
        if link(temporary, path) == 0 {
            OutputFiles.syncFolder(folder)
            return true
        }
        if errno == EEXIST { return false }
        throw CLIError("--record \(path): \(String(cString: strerror(errno)))")
    }

    private static func appendLocked(_ descriptor: Int32, path: String, row: String, time: Int64) throws -> Outcome {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw CLIError("--record \(path): \(String(cString: strerror(errno)))") }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw CLIError("--record \(path): not a regular file; give a CSV file to append to")
        }
        let flags = fcntl(descriptor, F_GETFL)
        if flags >= 0 { _ = fcntl(descriptor, F_SETFL, flags & ~O_NONBLOCK) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw CLIError("--record \(path): cannot lock the file: \(String(cString: strerror(errno)))") }
        }
        defer { _ = flock(descriptor, LOCK_UN) }
        let bytes: [UInt8]
        do { bytes = try MarketDataFiles.readBytes(path, limit: InputLimits.maxSeriesBytes) } catch {
            throw CLIError("--record \(path): \(error.reason)")
        }
        let last = try check(bytes, path: path)
        if let last, time <= last { return .skipped(last: last) }
        var text = ""
        if bytes.isEmpty { text = header + "\n" }
        let repair = !bytes.isEmpty && bytes.last != 10
        if repair { text += "\n" }
        text += row
        do {
            try OutputFiles.writeAll(text, to: descriptor)
            guard fsync(descriptor) == 0 else { throw OutputFiles.IOFailure.failed("syncing") }
        } catch {
            throw CLIError("--record \(path): \(error)")
        }
        return bytes.isEmpty ? .created : .appended(repairedNewline: repair)
    }

    /// Checks that `bytes` are a history this command wrote (or one like it); returns the time of
    /// its last row, `nil` when it has none.
    static func check(_ bytes: [UInt8], path: String) throws -> Int64? {
        guard !bytes.isEmpty else { return nil }
        func foreign(_ line: Int, _ why: String) -> CLIError {
            CLIError("--record \(path):\(line): \(why); not appending to a file that is not a time,value history")
        }
        do { try InputLimits.check(bytes, source: path) } catch { throw CLIError("--record \(error.description)") }
        guard String(validating: bytes, as: UTF8.self) != nil else { throw foreign(1, "the file is not UTF-8 text") }
        var headerEnd = bytes.firstIndex(of: 10) ?? bytes.count
        if headerEnd > 0, bytes[headerEnd - 1] == 13 { headerEnd -= 1 }
        var start = 0
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { start = 3 }
        let headerText = String(decoding: bytes[min(start, headerEnd)..<headerEnd], as: UTF8.self)
        let names = headerText.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
        guard names.count == 2, timeColumns.contains(names[0]), names[1] == "value" else {
            throw foreign(1, "the header is \"\(InputLimits.excerpt(headerText))\", not \(header)")
        }
        do {
            return try ValueSeriesCSV.parse(bytes, source: path).last?.time
        } catch .empty {
            return nil
        } catch {
            throw CLIError("--record \(error.description); not appending to it")
        }
    }
}
