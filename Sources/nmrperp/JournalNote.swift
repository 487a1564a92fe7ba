import ArgumentParser
import Foundation
import PerpEngine
import PerpMarketData
import PerpModel
import PerpStore

struct JournalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal", abstract: "Notes of your own in a session's journal.", subcommands: [JournalNoteCommand.self])
}

/// `nmrperp journal note`: a free-text note in a paper, live or hedge session's journal (issue
/// 16; the seeds log their state of mind with every trade).
struct JournalNoteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "note",
        abstract: "Add a note (your reasons, your state of mind) to a paper, live or hedge session's journal, or a backtest run's.",
        discussion: """
            Examples:
              nmrperp journal note --session paper/main "Skipped the long: Numerai round payout day"
              nmrperp journal note --session live/main --trade np-ab12cd34-7e "Stop felt too tight"
              nmrperp journal note --run 1 --time 2025-10-10T21:00:00Z "The crash: stood aside"

            The note is a journal row of its own (event note, with the time and the order it is \
            about), shown in its place by `paper journal`, `live journal`, `hedge journal`, their \
            exports and the dashboard. It can be added while the session runs. --session is \
            KIND/NAME (paper, live or hedge), or a name alone when only one kind has it; --trade \
            takes an order's client id as the journal shows it. --run takes a backtest run of \
            `bot journal` (its number or name) instead, and --time places the note at a moment of \
            the run (default: now); `bot journal --run N` exports it and `bot review` shows it.
            """)

    @Option(help: "The session: paper/NAME, live/NAME, hedge/NAME, or NAME when only one kind has it.") var session: String?
    @Option(help: "A backtest run instead: its number in `bot journal` (3 or #3) or its full name.") var run: String?
    @Option(help: "With --run: the moment the note is about, a UTC time such as 2025-10-10T21:00:00Z (default: now).")
    var time: String?
    @Option(help: "The client id of the order the note is about (as the journal shows it).") var trade: String?
    @Argument(help: "The note (quote it).") var text: String
    @Flag(help: "Print JSON.") var json = false

    static let kinds = ["paper", "live", "hedge"]
    static let maxLength = 2000

    func run() async throws {
        let note = try Self.checked(text)
        if let run {
            try noteOnRun(run, note)
            return
        }
        guard let session else { throw CLIError("say where the note goes: --session KIND/NAME, or --run N for a backtest run") }
        if time != nil { throw CLIError("--time places a note on a backtest run (--run); a session's note is stamped now") }
        let (kind, name, path) = try Self.resolve(session)
        if kind == "paper", PaperFiles.isLegacy(path: path) {
            throw CLIError(
                "paper/\(name) was started by an earlier version of paper, whose journal is replayed and checked: it takes no notes")
        }
        let store: LiveStore
        do { store = try LiveStore(existing: path) } catch { throw CLIError("\(kind)/\(name): \(error)") }
        var clientID: String?
        if let trade {
            let id = trade.trimmingCharacters(in: .whitespaces)
            guard !id.isEmpty, id.count <= 64, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
            else {
                throw CLIError("--trade must be an order's client id as the journal shows it (got \"\(InputLimits.excerpt(trade))\")")
            }
            guard try store.journalMentions(clientID: id) else {
                throw CLIError(
                    "--trade \(id): no order with that client id in \(kind)/\(name)'s journal; `nmrperp \(kind) journal --name \(name)` lists them"
                )
            }
            clientID = id
        }
        let row: LiveJournalRow
        do { row = try store.appendNote(time: Environment.now, text: note, clientID: clientID) } catch {
            throw CLIError("\(kind)/\(name): \(error)")
        }
        let message = "noted in \(kind)/\(name) at \(row.time.iso8601)" + (clientID.map { " about order \($0)" } ?? "")
        announce(
            message, json: json,
            [
                ("session", .string("\(kind)/\(name)")), ("time", .string(row.time.iso8601)),
                ("client_id", clientID.map { .string($0) } ?? .null), ("text", .string(note)),
            ])
    }

    /// A note row on a backtest run of `journal.sqlite`.
    func noteOnRun(_ text: String, _ note: String) throws {
        if session != nil { throw CLIError("--session and --run each name where the note goes; give one") }
        if trade != nil { throw CLIError("--trade names a session's order; a backtest run's rows have no client ids") }
        guard FileManager.default.fileExists(atPath: JournalRuns.path) else {
            throw CLIError("no journal yet at \(JournalRuns.path): run `nmrperp backtest --strategy nmr-bot --data FILE` first")
        }
        let stamp = try time.map { try Parse.timestamp($0, "--time") } ?? Environment.now
        let store = try JournalStore(path: JournalRuns.path)
        let name = try BotJournal.resolve(text, in: try store.runSummaries())
        try store.append([JournalEntry(time: stamp, event: .note, reason: note)], run: name)
        announce(
            "noted on run \"\(name)\" at \(stamp.iso8601)", json: json,
            [("run", .string(name)), ("time", .string(stamp.iso8601)), ("text", .string(note))])
    }

    /// The note as stored: trimmed, not empty, at most 2000 characters, no control characters
    /// but line breaks and tabs (a note is shown in terminals and on the dashboard).
    static func checked(_ text: String) throws -> String {
        let note = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !note.isEmpty else { throw CLIError("the note is empty; write it in quotes after the options") }
        guard note.count <= maxLength else { throw CLIError("the note has \(note.count) characters; at most \(maxLength)") }
        if let bad = note.unicodeScalars.first(where: { $0.properties.generalCategory == .control && $0 != "\n" && $0 != "\t" }) {
            throw CLIError("the note holds a control character (U+\(String(bad.value, radix: 16, uppercase: true))); write plain text")
        }
        return note
    }

    /// `KIND/NAME`, or a bare name found in exactly one kind's folder.
    static func resolve(_ session: String) throws -> (kind: String, name: String, path: String) {
        let parts = session.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 2 {
            guard kinds.contains(parts[0]) else {
                throw CLIError("--session \(InputLimits.excerpt(session)): the kind must be paper, live or hedge")
            }
            let (kind, name) = (parts[0], parts[1])
            let path = try path(kind: kind, name: name)
            guard FileManager.default.fileExists(atPath: path) else {
                throw CLIError("--session \(kind)/\(name): no \(kind) session named \(name) in \(Environment.home)/\(kind)")
            }
            return (parts[0], parts[1], path)
        }
        guard parts.count == 1 else { throw CLIError("--session must be KIND/NAME or NAME (got \"\(InputLimits.excerpt(session))\")") }
        let found = try kinds.compactMap { kind -> (String, String, String)? in
            let path = try path(kind: kind, name: session)
            return FileManager.default.fileExists(atPath: path) ? (kind, session, path) : nil
        }
        if found.count == 1, let only = found.first { return only }
        if found.isEmpty { throw CLIError("--session \(session): no paper, live or hedge session has that name") }
        throw CLIError(
            "--session \(session): \(found.map { "\($0.0)/\($0.1)" }.joined(separator: " and ")) both exist; say which, e.g. --session \(found[0].0)/\(session)"
        )
    }

    static func path(kind: String, name: String) throws -> String {
        do {
            switch kind {
            case "paper": return try PaperFiles.path(name: name)
            case "live": return try SessionFiles.live.path(name: name)
            default: return try SessionFiles.hedge.path(name: name)
            }
        } catch {
            throw CLIError("--session: the name must be 1–64 letters, digits, '-' or '_' (got \"\(InputLimits.excerpt(name))\")")
        }
    }
}
