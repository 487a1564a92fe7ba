import Foundation
import PerpModel

/// The calendar of dated events (issue 16, docs/decisions/0021): `calendar.csv` in the signals
/// folder, `time,kind,note` with a header. `time` is ISO 8601 UTC (`2025-10-10T12:00:00Z`, or a
/// day) or epoch milliseconds; `kind` a lowercase word (``CalendarEvent/isValidKind(_:)``);
/// `note` the rest of the line (commas included), plain text. The collector merges Numerai's
/// round schedule into it and `nmrperp signals event` adds the user's dates; a row is one
/// (time, kind), so running either again adds nothing twice, and rows written by hand stay.
public enum CalendarFile {
    public static let name = "calendar.csv"
    public static let header = "time,kind,note"
    /// The most rows a calendar may hold (decades of daily rounds, five kinds each).
    public static let maximumRows = 200_000
    /// The longest note kept (longer ones are cut).
    public static let maximumNote = 200

    /// The events of a calendar file, in time order. Every problem names the file and line.
    public static func parse(_ bytes: [UInt8], source: String) throws(SeriesFile.Failure) -> [CalendarEvent] {
        var events: [CalendarEvent] = []
        var lineNumber = 0
        for raw in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Substring(raw)
            if line.hasSuffix("\r") { line = line.dropLast() }
            if line.trimmingCharacters(in: .whitespaces).isEmpty || line.hasPrefix("#") { continue }
            if lineNumber == 1 {
                let columns = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                guard columns.count >= 2, columns[0] == "time", columns[1] == "kind" else {
                    throw SeriesFile.Failure(
                        "\(source) line 1: a calendar starts with the header \(header) (got \"\(InputLimits.excerpt(String(line)))\")")
                }
                continue
            }
            guard line.utf8.count <= InputLimits.maxLineBytes else {
                throw SeriesFile.Failure("\(source) line \(lineNumber): longer than \(InputLimits.maxLineBytes) bytes")
            }
            let fields = line.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count >= 2 else {
                throw SeriesFile.Failure(
                    "\(source) line \(lineNumber): expected time,kind,note (got \"\(InputLimits.excerpt(String(line)))\")")
            }
            let timeText = fields[0].trimmingCharacters(in: .whitespaces)
            guard let time = Self.time(timeText) else {
                throw SeriesFile.Failure(
                    "\(source) line \(lineNumber): \"\(InputLimits.excerpt(timeText))\" is not a UTC time (write 2025-10-10T12:00:00Z, a day, or epoch milliseconds)"
                )
            }
            let kind = fields[1].trimmingCharacters(in: .whitespaces)
            guard CalendarEvent.isValidKind(kind) else {
                throw SeriesFile.Failure(
                    "\(source) line \(lineNumber): \"\(InputLimits.excerpt(kind))\" is not a kind (a lowercase word of letters, digits and _, such as round_close or news)"
                )
            }
            let note = fields.count > 2 ? cleanNote(String(fields[2])) : ""
            events.append(CalendarEvent(time: time, kind: kind, note: note))
            guard events.count <= maximumRows else {
                throw SeriesFile.Failure("\(source): more than \(maximumRows) events; this is not a calendar")
            }
        }
        return sorted(events)
    }

    /// Epoch milliseconds or an ISO 8601 UTC date or time, within the years the tool carries.
    static func time(_ text: String) -> Timestamp? {
        if let milliseconds = Int64(text) {
            // Plain numbers below 1e11 are seconds elsewhere; a calendar asks for milliseconds.
            guard milliseconds >= 100_000_000_000, milliseconds <= 4_102_444_800_000 else { return nil }
            return Timestamp(milliseconds: milliseconds)
        }
        return Timestamp(parsing: text)
    }

    /// A note as kept: one line, no control characters, at most ``maximumNote`` characters.
    public static func cleanNote(_ text: String) -> String {
        var kept = String(String.UnicodeScalarView(text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : $0 }))
        kept = kept.trimmingCharacters(in: .whitespaces)
        if kept.count > maximumNote { kept = String(kept.prefix(maximumNote)) }
        return kept
    }

    /// Events in time order, then kind; one per (time, kind), the first kept.
    static func sorted(_ events: [CalendarEvent]) -> [CalendarEvent] {
        var seen = Set<String>()
        var kept: [CalendarEvent] = []
        for event in events.enumerated().sorted(by: {
            ($0.element.time, $0.element.kind, $0.offset) < ($1.element.time, $1.element.kind, $1.offset)
        }).map(\.element)
        where seen.insert("\(event.time.milliseconds) \(event.kind)").inserted {
            kept.append(event)
        }
        return kept
    }

    /// Adds `events` to the calendar at `path` (created when missing): events whose (time,
    /// kind) the file lacks are added, the file's own rows are kept as they are. Written whole
    /// to a temporary file renamed into place, under the lock every series writer holds.
    /// Returns how many were added.
    @discardableResult
    public static func merge(_ events: [CalendarEvent], into path: String) throws(SeriesFile.Failure) -> Int {
        let lock = try SeriesFile.Lock(path)
        defer { lock.release() }
        var info = stat()
        let exists = stat(path, &info) == 0
        if !exists && errno != ENOENT { throw SeriesFile.Failure("\(path): \(String(cString: strerror(errno)))") }
        if exists && (info.st_mode & S_IFMT) != S_IFREG { throw SeriesFile.Failure("\(path): not a regular file") }
        var existing: [CalendarEvent] = []
        if exists {
            let bytes: [UInt8]
            do { bytes = try MarketDataFiles.readBytes(path, limit: InputLimits.maxSeriesBytes) } catch {
                throw SeriesFile.Failure("\(path): \(error.reason)")
            }
            existing = try parse(bytes, source: path)
        }
        let have = Set(existing.map { "\($0.time.milliseconds) \($0.kind)" })
        let added = sorted(events).filter { !have.contains("\($0.time.milliseconds) \($0.kind)") }
        guard !added.isEmpty else { return 0 }
        let all = sorted(existing + added)
        guard all.count <= maximumRows else { throw SeriesFile.Failure("\(path): more than \(maximumRows) events") }
        let text = header + "\n" + all.map { "\($0.time.iso8601),\($0.kind),\(cleanNote($0.note))\n" }.joined()
        let temporary = try SeriesFile.stage(text, beside: path)
        defer { unlink(temporary) }
        guard rename(temporary, path) == 0 else {
            throw SeriesFile.Failure("\(path): replacing the file: \(String(cString: strerror(errno)))")
        }
        SeriesFile.syncFolder(of: path)
        return added.count
    }
}
