import Foundation
import TestSupport
import Testing

/// Issue 16, "Journal notes": `nmrperp journal note` on a paper session replayed from recorded
/// bars, shown by the journal's export in its place.
@Suite(.serialized) struct JournalNoteCLITests {
    @Test func aNoteIsJournalledInPlaceAndBadNotesAreRefused() async throws {
        try await offPool {
            let data = try ConfigurationCLITests.bars()
            let home = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-note-\(UUID().uuidString)").path
            let environment = ["NMRPERP_HOME": home]
            let replay = try CLI.run(["paper", "--replay", data, "--to", "2025-01-06"], environment: environment, timeout: 120)
            #expect(replay.status == 0, "\(replay.stderr)")
            let before = try CLI.run(["paper", "journal", "--name", "replay"], environment: environment)
            let clientID = try #require(before.stdout.firstMatch(of: /"client_id":"([a-z0-9-]+)"/)?.1).description

            let note = try CLI.run(
                ["journal", "note", "--session", "replay", "--trade", clientID, "--json", "Entered early: \"FOMO\" again"],
                environment: environment)
            #expect(note.status == 0, "\(note.stderr)")
            let json = try note.json()
            #expect(json["session"] as? String == "paper/replay" && json["client_id"] as? String == clientID)
            let plain = try CLI.run(["journal", "note", "--session", "paper/replay", "Patient today"], environment: environment)
            #expect(plain.status == 0 && plain.stdout.contains("noted in paper/replay"), "\(plain.stderr)")

            let after = try CLI.run(["paper", "journal", "--name", "replay"], environment: environment)
            let lines = after.stdout.split(separator: "\n")
            #expect(lines.count == before.stdout.split(separator: "\n").count + 2)
            let notes = try lines.suffix(2).map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
            #expect(notes[0]["event"] as? String == "note" && notes[0]["text"] as? String == "Entered early: \"FOMO\" again")
            #expect(notes[0]["client_id"] as? String == clientID && notes[1]["client_id"] is NSNull)

            let cases: [([String], String)] = [
                (["journal", "note", "--session", "replay", "   "], "empty"),
                (["journal", "note", "--session", "replay", String(repeating: "x", count: 2001)], "at most 2000"),
                (["journal", "note", "--session", "replay", "bell\u{7}"], "control character"),
                (["journal", "note", "--session", "replay", "--trade", "np-nothing-1e", "x"], "no order with that client id"),
                (["journal", "note", "--session", "replay", "--trade", "'; DROP TABLE", "x"], "--trade"),
                (["journal", "note", "--session", "nobody", "x"], "no paper, live or hedge session"),
                (["journal", "note", "--session", "pool/replay", "x"], "paper, live or hedge"),
                (["journal", "note", "--session", "live/replay", "x"], "no live session named replay"),
                (["journal", "note", "--session", "paper/../../x", "x"], "--session"),
                (["journal", "note", "--session", "replay"], "Missing expected argument"),
            ]
            for (arguments, needle) in cases {
                let result = try CLI.run(arguments, environment: environment)
                #expect(result.status != 0, "\(arguments) should fail")
                #expect(result.stderr.contains(needle), "\(arguments): \(result.stderr)")
                #expect(!result.stderr.contains("Fatal error"))
            }
            let unchanged = try CLI.run(["paper", "journal", "--name", "replay"], environment: environment)
            #expect(unchanged.stdout == after.stdout, "refused notes leave the journal as it was")
        }
    }
}
