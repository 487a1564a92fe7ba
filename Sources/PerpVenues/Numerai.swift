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

/// The whole tournament's stake, from the public leaderboard (issue 16, "Numerai network").
extension NumeraiClient {
    /// numerapi `get_leaderboard` (numerapi.py), asking only for what the collector uses.
    /// `v2Leaderboard` is ordered by rank, not stake, and lists unstaked models too.
    static let leaderboardQuery = """
        query($limit: Int!, $offset: Int!) {
          v2Leaderboard(limit: $limit, offset: $offset) {
            username
            nmrStaked
          }
        }
        """

    /// One leaderboard entry: a model and its stake (zero when unstaked).
    public struct LeaderboardEntry: Sendable, Equatable {
        public var model: String
        public var stake: Quantity
    }

    /// One page of the classic tournament's leaderboard.
    public func leaderboard(limit: Int, offset: Int) async throws -> [LeaderboardEntry] {
        let body = JSONValue.object([
            ("query", .string(NumeraiClient.leaderboardQuery)),
            ("variables", .object([("limit", .int(limit)), ("offset", .int(offset))])),
        ])
        let json = try await http.requestJSON(
            method: "POST", url: baseURL, headers: ["Content-Type": "application/json", "Accept": "application/json"],
            body: Array(body.serialized(pretty: false).utf8))
        return try NumeraiClient.parseLeaderboard(json)
    }

    /// Every page of the leaderboard (`pageSize` models a page, at most `maxPages` pages).
    /// `progress(models)` after each page.
    public func leaderboard(pageSize: Int = 500, maxPages: Int = 200, progress: (Int) -> Void = { _ in }) async throws -> [LeaderboardEntry]
    {
        var entries: [LeaderboardEntry] = []
        let size = min(max(pageSize, 1), 1000)
        for page in 0..<max(1, maxPages) {
            let batch = try await leaderboard(limit: size, offset: page * size)
            entries += batch
            progress(entries.count)
            if batch.count < size { return entries }
        }
        throw VenueError(
            kind: .notRetryable, endpoint: "numerai v2Leaderboard",
            message: "the leaderboard did not end after \(maxPages) pages of \(size) models; not summing a partial list")
    }

    /// `data.FIELD` of a GraphQL answer as a list; GraphQL's `errors` (Numerai's message quoted)
    /// or an answer without the list are retryable venue errors.
    static func dataList(_ json: JSONValue, field: String, endpoint: String) throws -> [JSONValue] {
        if let errors = json["errors"]?.arrayValue, !errors.isEmpty {
            let message = errors.first?["message"]?.stringValue ?? "unknown error"
            throw VenueError(
                kind: .retryable(retryAfterSeconds: nil), endpoint: endpoint,
                message: "Numerai says: \(SafeText.excerpt(Array(message.utf8), limit: 200))")
        }
        guard let rows = json["data"]?[field]?.arrayValue else {
            throw VenueError(kind: .retryable(retryAfterSeconds: nil), endpoint: endpoint, message: "the answer has no data.\(field) list")
        }
        return rows
    }

    /// Reads `data.v2Leaderboard[]`: `nmrStaked` a decimal string or number, `null` for no stake.
    public static func parseLeaderboard(_ json: JSONValue) throws -> [LeaderboardEntry] {
        let endpoint = "numerai v2Leaderboard"
        let rows = try dataList(json, field: "v2Leaderboard", endpoint: endpoint)
        return try rows.map { row in
            let model = row["username"]?.stringValue ?? "?"
            guard let value = row["nmrStaked"], value != .null else { return LeaderboardEntry(model: model, stake: .zero) }
            guard let text = value.numericText, let stake = Quantity(text), !stake.isNegative else {
                throw VenueError(
                    kind: .notRetryable, endpoint: endpoint,
                    message:
                        "model \(SafeText.excerpt(Array(model.utf8), limit: 40)): nmrStaked \(SafeText.excerpt(Array((value.numericText ?? "?").utf8), limit: 40)) is not a number of NMR"
                )
            }
            return LeaderboardEntry(model: model, stake: stake)
        }
    }
}

/// Numerai's round schedule (issue 16, "Event calendar"): numerapi `list_rounds` /
/// `get_competitions` (base_api.py, numerapi.py) ask `rounds(tournament:)` for each round's
/// `openTime`, `closeStakingTime`, `closeTime`, `scoreTime` and `resolveTime` (ISO 8601 UTC;
/// a round not yet scheduled that far has `null`). Without `number` the API answers every round.
extension NumeraiClient {
    static let roundsQuery = """
        query($tournament: Int!) {
          rounds(tournament: $tournament) {
            number
            openTime
            closeStakingTime
            closeTime
            scoreTime
            resolveTime
          }
        }
        """

    /// The times of one round, `nil` where the API has none.
    public struct RoundTimes: Sendable, Equatable {
        public var number: Int
        public var openTime: Timestamp?
        public var closeStakingTime: Timestamp?
        public var closeTime: Timestamp?
        public var scoreTime: Timestamp?
        public var resolveTime: Timestamp?

        /// The round's moments as calendar events (``CalendarEvent/roundKinds``).
        public var events: [CalendarEvent] {
            let moments: [(String, Timestamp?)] = [
                ("round_open", openTime), ("staking_close", closeStakingTime), ("round_close", closeTime),
                ("scoring_start", scoreTime), ("round_resolve", resolveTime),
            ]
            return moments.compactMap { kind, time in time.map { CalendarEvent(time: $0, kind: kind, note: "round \(number)") } }
        }
    }

    /// Every round of `tournament`.
    public func rounds(tournament: NumeraiTournament = .classic) async throws -> [RoundTimes] {
        let body = JSONValue.object([
            ("query", .string(NumeraiClient.roundsQuery)),
            ("variables", .object([("tournament", .int(Int64(tournament.id)))])),
        ])
        let json = try await http.requestJSON(
            method: "POST", url: baseURL, headers: ["Content-Type": "application/json", "Accept": "application/json"],
            body: Array(body.serialized(pretty: false).utf8))
        return try NumeraiClient.parseRounds(json)
    }

    /// Reads `data.rounds[]`. A round without a number, or a time that is not ISO 8601 UTC, is
    /// refused (the answer is not what the endpoint returns); a `null` time is left out.
    public static func parseRounds(_ json: JSONValue) throws -> [RoundTimes] {
        let endpoint = "numerai rounds"
        let rows = try dataList(json, field: "rounds", endpoint: endpoint)
        return try rows.map { row in
            guard let number = row["number"]?.int64Value, number >= 0, number < 1_000_000 else {
                throw VenueError(kind: .notRetryable, endpoint: endpoint, message: "a round has no number")
            }
            func time(_ field: String) throws -> Timestamp? {
                guard let value = row[field], value != .null else { return nil }
                guard let text = value.stringValue, let stamp = Timestamp(parsing: text) else {
                    throw VenueError(
                        kind: .notRetryable, endpoint: endpoint,
                        message:
                            "round \(number): \(field) is not a UTC time (got \(SafeText.excerpt(Array((value.stringValue ?? "?").utf8), limit: 40)))"
                    )
                }
                return stamp
            }
            return RoundTimes(
                number: Int(number), openTime: try time("openTime"), closeStakingTime: try time("closeStakingTime"),
                closeTime: try time("closeTime"), scoreTime: try time("scoreTime"), resolveTime: try time("resolveTime"))
        }
    }
}
