import Foundation
import PerpMarketData
import PerpModel
import Testing

/// Issue 16, "Event calendar": `calendar.csv`, read strictly, merged without repeats.
@Suite struct CalendarFileTests {
    static func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-calendar-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func parsesTimesKindsAndNotesWithCommas() throws {
        let text =
            "time,kind,note\n2025-10-10T20:00:00Z,news,tariffs, again\n1760097600000,round_close,round 1100\n# a comment\n\n2025-10-09,unlock,\n"
        let events = try CalendarFile.parse(Array(text.utf8), source: "c.csv")
        #expect(events.map(\.kind) == ["unlock", "round_close", "news"])
        #expect(events[2].note == "tariffs, again")
        #expect(events[0].time.iso8601 == "2025-10-09T00:00:00Z")
    }

    @Test func refusesWhatIsNotACalendarNamingTheLine() {
        let cases: [(String, String)] = [
            ("time_ms,value\n1,2\n", "header"),
            ("time,kind,note\nyesterday,news,x\n", "line 2"),
            ("time,kind,note\n2025-10-10,News,x\n", "not a kind"),
            ("time,kind,note\n2025-10-10\n", "expected time,kind,note"),
            ("time,kind,note\n1760,news,x\n", "not a UTC time"),
            ("time,kind,note\n99999999999999999999,news,x\n", "not a UTC time"),
        ]
        for (text, needle) in cases {
            #expect(throws: SeriesFile.Failure.self) { try CalendarFile.parse(Array(text.utf8), source: "c.csv") }
            do {
                _ = try CalendarFile.parse(Array(text.utf8), source: "c.csv")
            } catch {
                #expect(error.description.contains(needle), "\(text): \(error)")
            }
        }
    }

    @Test func mergeAddsOnlyWhatIsMissingAndKeepsHandWrittenRows() throws {
        let folder = try Self.folder()
        let path = folder + "/calendar.csv"
        try "time,kind,note\n2025-10-10T20:00:00Z,news,written by hand\n".write(toFile: path, atomically: true, encoding: .utf8)
        let events = [
            CalendarEvent(time: Timestamp(parsing: "2025-10-10T20:00:00Z")!, kind: "news", note: "the collector's"),
            CalendarEvent(time: Timestamp(parsing: "2025-10-07T13:00:00Z")!, kind: "round_close", note: "round 1099\nwith a break"),
        ]
        #expect(try CalendarFile.merge(events, into: path) == 1)
        #expect(try CalendarFile.merge(events, into: path) == 0, "a second run adds nothing")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(
            text == "time,kind,note\n2025-10-07T13:00:00Z,round_close,round 1099 with a break\n2025-10-10T20:00:00Z,news,written by hand\n")
        // A file that is not a calendar is left alone.
        try "time_ms,value\n1,2\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: SeriesFile.Failure.self) { try CalendarFile.merge(events, into: path) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "time_ms,value\n1,2\n")
    }
}
