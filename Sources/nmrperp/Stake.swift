import ArgumentParser
import Foundation
import PerpModel
import PerpVenues

struct StakeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stake",
        abstract: "The live NMR stake of one or more Numerai models (public GraphQL API).",
        discussion: """
            Examples:
              nmrperp stake --model model_a --model model_b --tournament classic
              nmrperp stake --model model_a \\
                  --record signals/staked.csv  # e.g. hourly from cron

            Numerai serves only the current stake; --record appends it with the time to a time,value \
            CSV, which builds the staked-NMR history that `backtest --strategy nmr-bot --signals DIR` \
            reads (spec §4: a 15 % weekly drop is bearish). `nmrperp paper --stake-model NAME` \
            reads the stake live instead.
            """)

    @Option(name: .customLong("model"), help: "Model name (repeat for several).") var models: [String]
    @Option(help: "classic, signals or crypto.") var tournament: String = "classic"
    @Option(help: "Append `time_ms,total` to this CSV (created with a header when missing).") var record: String?
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if models.isEmpty { throw ValidationError("give at least one --model NAME") }
    }

    static func parse(models: [String], tournament: String) throws -> ([ModelName], NumeraiTournament) {
        guard let tournament = NumeraiTournament(rawValue: tournament.lowercased()) else {
            throw CLIError("--tournament must be classic, signals or crypto (got \"\(tournament)\")")
        }
        let names = try models.map { text -> ModelName in
            guard let name = ModelName(text) else {
                throw CLIError("\"\(text)\" is not a Numerai model name (letters, digits and underscores)")
            }
            return name
        }
        return (names, tournament)
    }

    static func stakes(models: [String], tournament: String) async throws -> [(ModelName, Quantity)] {
        let (names, tournament) = try parse(models: models, tournament: tournament)
        try Environment.requireNetwork("reading a stake from Numerai")
        let client = NumeraiClient(baseURL: VenueEndpoints.fromEnvironment().numerai)
        var result: [(ModelName, Quantity)] = []
        for name in names {
            do { result.append((name, try await client.stake(model: name, tournament: tournament))) } catch {
                throw CLIError(String(describing: error))
            }
        }
        return result
    }

    /// Appends one `time_ms,value` line, writing the header first for a new file; locked,
    /// checked and idempotent (``StakeRecord``). A time the file already has is not written again.
    static func append(total: Quantity, at time: Timestamp, to path: String) throws {
        if case .skipped(let last) = try StakeRecord.append(value: total.description, at: time, to: path) {
            printError("note: \(path) already has a row at \(Timestamp(milliseconds: last).iso8601); not recorded again")
        }
    }

    static func totalStake(models: [String], tournament: String) async throws -> Quantity {
        try await stakes(models: models, tournament: tournament).reduce(Quantity.zero) { $0 + $1.1 }
    }

    func run() async throws {
        if let record { try StakeRecord.precheck(record) }
        let stakes = try await StakeCommand.stakes(models: models, tournament: tournament)
        let total = stakes.reduce(Quantity.zero) { $0 + $1.1 }
        if let record { try StakeCommand.append(total: total, at: Environment.now, to: record) }
        if json {
            emit(
                json: .object([
                    ("models", .array(stakes.map { .object([("model", .string($0.0.value)), ("stake", .exact($0.1))]) })),
                    ("total_stake", .exact(total)),
                ]))
            return
        }
        print(TextTable.grid(["model", "stake (NMR)"], stakes.map { [$0.0.value, $0.1.description] } + [["total", total.description]]))
    }
}

struct MarketCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "market",
        abstract: "A Lighter market's margin fractions and prices (orderBookDetails).",
        discussion: "Example: nmrperp market --market 74")

    @Option(help: "Lighter market id (NMR is 74).") var market: Int = 74
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try Environment.requireNetwork("market")
        let details: LighterMarket
        do { details = try await LighterClient(baseURL: VenueEndpoints.fromEnvironment().lighter).market(id: market) } catch {
            throw CLIError(String(describing: error))
        }
        if json {
            emit(
                json: .object([
                    ("symbol", .string(details.symbol)), ("market_id", .int(details.marketID)),
                    ("maintenance_fraction", .exact(details.maintenanceFraction)),
                    ("min_initial_fraction", .exact(details.minInitialFraction)),
                    ("default_initial_fraction", .exact(details.defaultInitialFraction)),
                    ("mark_price", details.markPrice.map { .exact($0) } ?? .null),
                    ("last_trade_price", details.lastTradePrice.map { .exact($0) } ?? .null),
                ]))
            return
        }
        print(
            TextTable.pairs([
                ("market", "\(details.symbol) (\(details.marketID))"), ("maintenance fraction", details.maintenanceFraction.description),
                (
                    "initial fraction",
                    "min \(details.minInitialFraction) (max \(formatFixed(1 / details.minInitialFraction.doubleValue, 2))x), default \(details.defaultInitialFraction)"
                ),
                ("mark price", details.markPrice?.description ?? "n/a"), ("last trade", details.lastTradePrice?.description ?? "n/a"),
            ]))
    }
}
