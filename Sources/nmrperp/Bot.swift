import ArgumentParser
import Foundation
import PerpConfig
import PerpEngine
import PerpModel
import PerpStore

struct BotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bot",
        abstract: "The NMR trading bot's rules: write a commented config file and check one.",
        discussion: """
            The bot blends price, network and sentiment signals (spec §4: weights 40/35/25 %), enters only when several agree, \
            and enforces fixed risk rules before any order: at most 3x leverage and 40 % of equity in open positions (2x and \
            25 % in high volatility), a 2.5 % stop and a target set at entry, a 6 h time exit, a circuit breaker on 8 % moves \
            within 15 min, and no entries 02:00-06:00 UTC. Every rule is a key in a YAML file.

            Start with `nmrperp bot init`, edit bot.yaml, then `nmrperp bot check --config bot.yaml`.
            """,
        subcommands: [BotInit.self, BotCheck.self, BotJournal.self])
}

/// `nmrperp bot init`: writes the commented default configuration.
struct BotInit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a commented config with every rule at its default (spec §4).",
        discussion: "Example: nmrperp bot init --out bot.yaml")

    @Option(help: "Where to write the file.") var out: String = "bot.yaml"
    @Flag(help: "Overwrite the file if it exists.") var force = false

    func run() async throws {
        let outputs = try OutputFiles([("--out", out)], force: force)
        try outputs.write { _ in BotConfigFile.defaultYAML() }
        print("wrote the default bot configuration to \(out); check it with: nmrperp bot check --config \(out)")
    }
}

/// `nmrperp bot check`: loads a configuration, reports every problem, prints the effective rules.
struct BotCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a bot config and print the rules it gives (every problem listed at once).",
        discussion: "Example: nmrperp bot check --config bot.yaml")

    @Option(help: "The YAML config file (make one with `nmrperp bot init`).") var config: String
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let (settings, problems) = try BotConfigFile.read(path: config)
        let rows = BotConfigFile.rows(settings)
        let changed = rows.filter { $0.value != $0.defaultValue }.map(\.key)
        if json {
            var members: [(String, JSONValue)] = [("config", .string(config)), ("valid", .bool(problems.isEmpty))]
            if problems.isEmpty {
                members += [("settings", BotConfigFile.json(settings)), ("changed", .array(changed.map { .string($0) }))]
            } else {
                members.append(("problems", .array(problems.map(\.json))))
            }
            emit(json: .object(members))
        }
        if !problems.isEmpty { throw BotConfigFile.error(path: config, problems, shown: nil) }
        if json { return }
        let summary =
            changed.isEmpty
            ? "all \(rows.count) settings at their defaults"
            : "\(changed.count) of \(rows.count) settings differ from the defaults"
        print("\(config): valid; \(summary)\n")
        let width = rows.map(\.value.count).max() ?? 0
        print(
            TextTable.pairs(
                rows.map { row in
                    let value = row.value.padding(toLength: width, withPad: " ", startingAt: 0)
                    return (row.key, row.value == row.defaultValue ? row.value : "\(value)  (default \(row.defaultValue))")
                }))
    }
}

/// Where backtests keep their journals: one SQLite file, one run per backtest.
enum JournalRuns {
    static var path: String { Environment.home + "/journal.sqlite" }

    /// Stores `entries` as a new run named after the time and the data file; returns the name.
    static func record(_ entries: [JournalEntry], source: String) throws -> String {
        let store = try JournalStore(path: path)
        let base = URL(fileURLWithPath: source).lastPathComponent
        // Chosen and stored in one transaction: two backtests in the same millisecond get `… #2`.
        return try store.appendNewRun(entries, base: "backtest \(Environment.now.iso8601) \(base)")
    }
}

/// `nmrperp bot journal`: the journals backtests stored in SQLite.
struct BotJournal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal",
        abstract: "List the backtest journals kept in $NMRPERP_HOME/journal.sqlite, or export one as JSON Lines.",
        discussion: """
            Every `nmrperp backtest --strategy nmr-bot` stores its journal (entries, exits, stops, time exits, \
            circuit-breaker trips, risk denials, funding, with signals, prices, sizes, fees and P&L) as a run. \
            Paper sessions keep theirs in their own file: `nmrperp paper journal`.

            Examples:
              nmrperp bot journal
              nmrperp bot journal --run "backtest 2026-11-22T10:00:00.000Z nmr_15m.csv" \\
                  --out run.jsonl
            """)

    @Option(help: "Export this run (default: list the runs).") var run: String?
    @Option(help: "Write the export here instead of standard output.") var out: String?
    @Flag(help: "Replace output files that already exist.") var force = false

    func run() async throws {
        let outputs = try OutputFiles([("--out", out)], force: force)
        guard FileManager.default.fileExists(atPath: JournalRuns.path) else {
            throw CLIError("no journal yet at \(JournalRuns.path): run `nmrperp backtest --strategy nmr-bot --data FILE` first")
        }
        let store = try JournalStore(path: JournalRuns.path)
        try store.checkIntegrity()
        let runs = try store.runs()
        guard let run else {
            for name in runs { print(name) }
            return
        }
        guard runs.contains(run) else {
            throw CLIError("no run \"\(run)\" in \(JournalRuns.path); `nmrperp bot journal` lists them")
        }
        let text = JournalJSONL.render(try store.entries(run: run))
        if outputs.isEmpty { print(text, terminator: "") } else { try outputs.write { _ in text } }
    }
}
