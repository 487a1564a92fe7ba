import ArgumentParser
import Foundation
import PerpEngine
import PerpModel

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
        subcommands: [BotInit.self, BotCheck.self])
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
        if !force && FileManager.default.fileExists(atPath: out) {
            throw CLIError("\(out) already exists; pass --force to overwrite it, or --out another path")
        }
        try writeAtomically(BotConfigFile.defaultYAML(), to: out)
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
        if !problems.isEmpty { throw BotConfigFile.error(path: config, problems) }
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
