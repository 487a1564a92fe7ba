import Foundation
import PerpModel

/// Numerai tournaments and their GraphQL ids (spec §1 "Stake source").
public enum NumeraiTournament: String, Sendable, CaseIterable {
    case classic
    case signals
    case crypto

    public var id: Int {
        switch self {
        case .classic: return 8
        case .signals: return 11
        case .crypto: return 12
        }
    }
}

/// The public part of Numerai's GraphQL API: a model's stake
/// (`v3UserProfile(model_name:, tournament:) { stakeValue }`, numerapi `stake_get`).
public struct NumeraiClient: Sendable {
    let http: VenueHTTPClient
    let baseURL: URL

    public init(baseURL: URL, transport: any HTTPTransport = URLSessionTransport(), minimumSpacing: Duration = .milliseconds(250)) {
        self.baseURL = baseURL
        self.http = VenueHTTPClient(venue: "numerai", transport: transport, minimumSpacing: minimumSpacing)
    }

    static let stakeQuery = """
        query($model_name: String!, $tournament: Int) {
          v3UserProfile(model_name: $model_name, tournament: $tournament) {
            stakeValue
          }
        }
        """

    /// The NMR staked by `model` (zero when the model exists but has no stake). Throws a
    /// not-retryable ``VenueError`` naming the model when Numerai does not know it.
    public func stake(model: ModelName, tournament: NumeraiTournament = .classic) async throws -> Quantity {
        let body = JSONValue.object([
            ("query", .string(NumeraiClient.stakeQuery)),
            ("variables", .object([("model_name", .string(model.value)), ("tournament", .int(tournament.id))])),
        ])
        let json = try await http.requestJSON(
            method: "POST", url: baseURL, headers: ["Content-Type": "application/json", "Accept": "application/json"],
            body: Array(body.serialized(pretty: false).utf8))
        return try NumeraiClient.parseStake(json, model: model, tournament: tournament)
    }

    /// Reads `data.v3UserProfile.stakeValue`; an `errors` array or a null profile means the
    /// model is unknown in that tournament.
    public static func parseStake(_ json: JSONValue, model: ModelName, tournament: NumeraiTournament) throws -> Quantity {
        let endpoint = "numerai v3UserProfile"
        if let errors = json["errors"]?.arrayValue, !errors.isEmpty {
            let message = errors.first?["message"]?.stringValue ?? "unknown error"
            throw VenueError(
                kind: .notRetryable, endpoint: endpoint,
                message:
                    "no model named \"\(model)\" in the \(tournament.rawValue) tournament (Numerai says: \(message)); check the spelling or pass --tournament"
            )
        }
        guard let profile = json["data"]?["v3UserProfile"], profile != .null else {
            throw VenueError(
                kind: .notRetryable, endpoint: endpoint,
                message: "no model named \"\(model)\" in the \(tournament.rawValue) tournament; check the spelling or pass --tournament")
        }
        guard let value = profile["stakeValue"], value != .null else { return .zero }
        guard let text = value.numericText, let stake = Quantity(text), !stake.isNegative else {
            throw VenueError(
                kind: .notRetryable, endpoint: endpoint, message: "stakeValue \(value.numericText ?? "?") is not a number of NMR")
        }
        return stake
    }
}
