import ArgumentParser
import Foundation
import PerpConfig
import PerpEngine
import PerpMarketData
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
        subcommands: [BotInit.self, BotCheck.self, BotJournal.self, BotReview.self])
}

/// `nmrperp bot init`: writes the commented default configuration.
struct BotInit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a commented config with every rule at its default (spec §4).",
        discussion: "Example: nmrperp bot init --out bot.yaml")

    @Option(help: "Where to write the file.") var out: String = "bot.yaml"
    @Flag(help: "Overwrite the file if it exists.") var force = false
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let outputs = try OutputFiles([("--out", out)], force: force)
        try outputs.write { _ in BotConfigFile.defaultYAML() }
        announce(
            "wrote the default bot configuration to \(out); check it with: nmrperp bot check --config \(out)", json: json,
            [("file", .string(out))])
    }
}

/// `nmrperp bot check`: loads a configuration, reports every problem, prints the effective rules.
struct BotCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a bot config and print the rules it gives (every problem listed at once).",
        discussion: """
            The file holds the bot's rules and the account and venue it trades (account: and venue:), \
            shared by backtest, paper and the dashboard. --show prints every effective value with where \
            it came from: the file and line, a flag, the market preset (binance-usdm or lighter) or the \
            default; the account and venue flags override the file as they do in backtest and paper.

            Examples:
              nmrperp bot check --config bot.yaml
              nmrperp bot check --config bot.yaml --show --capital 5000
              nmrperp bot check --show --market lighter
            """)

    @Option(help: "The YAML config file (make one with `nmrperp bot init`); --show without it shows the defaults.") var config: String?
    @Flag(help: "Print the effective configuration, every value with its source.") var show = false
    @OptionGroup(title: "Account and venue (with --show: override the file as in backtest and paper)") var trading: TradingOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        guard config != nil || show else {
            throw CLIError("Missing expected argument '--config <config>' (or add --show to see the defaults)")
        }
        if !show, let flag = trading.given.first?.flag {
            throw CLIError("\(flag) overrides the file for --show; add --show to see the effective configuration")
        }
        var (file, problems) = try config.map { try BotConfigFile.readFile(path: $0) } ?? (ConfigFile(), [])
        let name = config ?? "(defaults)"
        if problems.isEmpty { try trading.apply(to: &file) }
        let settings = file.bot
        let rows = BotConfigFile.rows(settings)
        let changed = rows.filter { $0.value != $0.defaultValue }.map(\.key)
        let beyond = settings.beyondSpec()
        if json {
            var members: [(String, JSONValue)] = [("config", config.map { .string($0) } ?? .null), ("valid", .bool(problems.isEmpty))]
            if problems.isEmpty {
                members += [
                    ("settings", file.json), ("changed", .array(changed.map { .string($0) })),
                    ("beyond_spec", .array(beyond.map { .string($0) })),
                ]
                if show { members.append(("sources", .object(file.rows.map { ($0.key, .string($0.source)) }))) }
            } else {
                members.append(("problems", .array(problems.map(\.json))))
            }
            emit(json: .object(members))
        }
        if !problems.isEmpty { throw BotConfigFile.error(path: name, problems, shown: nil) }
        if json { return }
        if show {
            print("\(name): the effective configuration (\(file.trading.market.label))\n")
            print(TextTable.grid(["key", "value", "from"], file.rows.map { [$0.key, $0.value, $0.source] }, leftAligned: 3))
        } else {
            let summary =
                changed.isEmpty
                ? "all \(rows.count) rules at their defaults"
                : "\(changed.count) of \(rows.count) rules differ from the defaults"
            print("\(name): valid; \(summary); trades \(file.trading.market.label) (`--show` lists every value and its source)\n")
            let width = rows.map(\.value.count).max() ?? 0
            print(
                TextTable.pairs(
                    rows.map { row in
                        let value = row.value.padding(toLength: width, withPad: " ", startingAt: 0)
                        return (row.key, row.value == row.defaultValue ? row.value : "\(value)  (default \(row.defaultValue))")
                    }))
            print("\naccount and venue: " + file.trading.summary)
        }
        if !beyond.isEmpty {
            print("\nbeyond the spec's risk limits (allowed; backtest reports and paper sessions say so too):")
            for line in beyond { print("  - " + line) }
        }
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
        abstract: "List the backtest journals kept in $NMRPERP_HOME/journal.sqlite with their key figures, export one, or delete runs.",
        discussion: """
            Every `nmrperp backtest --strategy nmr-bot` stores its journal (entries, exits, stops, time exits, \
            circuit-breaker trips, risk denials, funding, with signals, prices, sizes, fees and P&L) as a run. \
            The list numbers the runs (#1 is the oldest) and shows each one's trades, win rate (closes \
            with a realized profit), realized P&L of its closes, fees, funding paid and net P&L (realized \
            less fees and funding); --run and --delete take the number or the full name. \
            Paper sessions keep theirs in their own file: `nmrperp paper journal`.

            Examples:
              nmrperp bot journal
              nmrperp bot journal --run 3 --out run.jsonl
              nmrperp bot journal --delete 1 --delete 2
            """)

    @Option(help: "Export this run: its number in the list (3 or #3) or its full name.") var run: String?
    @Option(help: "Delete this run (its number or full name); repeat for several.") var delete: [String] = []
    @Option(help: "Write the export here instead of standard output.") var out: String?
    @Flag(help: "Replace output files that already exist.") var force = false
    @Flag(help: "Print JSON: the list, a run's rows, or what was deleted.") var json = false

    func run() async throws {
        if run != nil && !delete.isEmpty { throw CLIError("give either --run (export) or --delete, not both") }
        if out != nil && run == nil { throw CLIError("--out writes one run's export; name it with --run") }
        let outputs = try OutputFiles([("--out", out)], force: force)
        guard FileManager.default.fileExists(atPath: JournalRuns.path) else {
            throw CLIError("no journal yet at \(JournalRuns.path): run `nmrperp backtest --strategy nmr-bot --data FILE` first")
        }
        let store = try JournalStore(path: JournalRuns.path)
        try store.checkIntegrity()
        let summaries = try store.runSummaries()
        if !delete.isEmpty {
            let names = try delete.map { try Self.resolve($0, in: summaries) }
            var deleted: [JSONValue] = []
            for name in Set(names).sorted() {
                let rows = try store.deleteRun(name)
                if json {
                    deleted.append(.object([("name", .string(name)), ("journal_rows", .int(rows))]))
                } else {
                    print("deleted \"\(name)\" (\(rows) rows)")
                }
            }
            if json { emit(json: .object([("journal", .string(JournalRuns.path)), ("deleted", .array(deleted))])) }
            return
        }
        guard let run else {
            if json {
                emit(
                    json: .object([
                        ("journal", .string(JournalRuns.path)),
                        ("runs", .array(summaries.enumerated().map { Self.json($1, number: $0 + 1) })),
                    ]))
            } else if summaries.isEmpty {
                print("no runs in \(JournalRuns.path)")
            } else {
                print(Self.table(summaries))
            }
            return
        }
        let name = try Self.resolve(run, in: summaries)
        let lines = try store.entries(run: name).map { $0.json.serialized(pretty: false) }
        try exportJournalLines(name: name, lines: lines, out: outputs.isEmpty ? nil : out, force: force, json: json)
    }

    /// A run by its number in the list (`3`, `#3`) or its full name.
    static func resolve(_ text: String, in summaries: [JournalStore.RunSummary]) throws -> String {
        if let exact = summaries.first(where: { $0.name == text }) { return exact.name }
        let digits = text.hasPrefix("#") ? String(text.dropFirst()) : text
        if let number = Int(digits), number >= 1, number <= summaries.count { return summaries[number - 1].name }
        let range = summaries.isEmpty ? "there are none" : "#1 to #\(summaries.count)"
        throw CLIError("no run \"\(InputLimits.excerpt(text))\" in \(JournalRuns.path) (\(range)); `nmrperp bot journal` lists them")
    }

    /// "2026-11-22 10:00 nmr_15m.csv" for "backtest 2026-11-22T10:00:00.000Z nmr_15m.csv".
    static func shortName(_ name: String) -> String {
        let parts = name.split(separator: " ", maxSplits: 2).map(String.init)
        guard parts.count == 3, parts[0] == "backtest", parts[1].count >= 16 else { return name }
        let stamp = parts[1].prefix(16).replacingOccurrences(of: "T", with: " ")
        return "\(stamp) \(parts[2])"
    }

    static func table(_ summaries: [JournalStore.RunSummary]) -> String {
        let rows = summaries.enumerated().map { index, run -> [String] in
            let name = shortName(run.name)
            return [
                "#\(index + 1)", name.count > 30 ? String(name.prefix(29)) + "…" : name, String(run.closes),
                run.closes > 0 ? percent(Double(run.wins) / Double(run.closes), places: 1) : "n/a", run.netPnL.money, run.fees.money,
                run.funding.money, Self.net(run)?.money ?? "overflow",
            ]
        }
        return TextTable.grid(["#", "run", "trades", "win rate", "realized", "fees", "funding", "net P&L"], rows, leftAligned: 2)
    }

    /// A run's net P&L: its closes' realized P&L less every fee and the funding paid (`nil`
    /// past what the ledger holds, which only a damaged file reaches).
    static func net(_ run: JournalStore.RunSummary) -> Notional? {
        let afterFees = run.netPnL.raw.subtractingReportingOverflow(run.fees.raw)
        let net = afterFees.partialValue.subtractingReportingOverflow(run.funding.raw)
        return afterFees.overflow || net.overflow ? nil : Notional(raw: net.partialValue)
    }

    static func json(_ run: JournalStore.RunSummary, number: Int) -> JSONValue {
        .object([
            ("number", .int(number)), ("name", .string(run.name)), ("journal_rows", .int(run.rows)),
            ("start", run.first.map { .string($0.iso8601) } ?? .null), ("end", run.last.map { .string($0.iso8601) } ?? .null),
            ("entries", .int(run.entries)), ("trades", .int(run.closes)), ("wins", .int(run.wins)),
            ("realized_pnl", .exact(run.netPnL)), ("fees", .exact(run.fees)), ("funding_paid", .exact(run.funding)),
            ("net_pnl", Self.net(run).map { .exact($0) } ?? .null),
        ])
    }
}
