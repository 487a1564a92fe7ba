import ArgumentParser
import PerpModel
import PerpVenues

struct StakeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stake",
        abstract: "The live NMR stake of one or more Numerai models (public GraphQL API).",
        discussion: "Example: nmrperp stake --model model_a --model model_b --tournament classic")

    @Option(name: .customLong("model"), help: "Model name (repeat for several).") var models: [String]
    @Option(help: "classic, signals or crypto.") var tournament: String = "classic"
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

    static func totalStake(models: [String], tournament: String) async throws -> Quantity {
        try await stakes(models: models, tournament: tournament).reduce(Quantity.zero) { $0 + $1.1 }
    }

    func run() async throws {
        let stakes = try await StakeCommand.stakes(models: models, tournament: tournament)
        let total = stakes.reduce(Quantity.zero) { $0 + $1.1 }
        if json {
            emit(
                json: .object([
                    ("models", .array(stakes.map { .object([("model", .string($0.0.value)), ("stake_nmr", .exact($0.1))]) })),
                    ("total_nmr", .exact(total)),
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
