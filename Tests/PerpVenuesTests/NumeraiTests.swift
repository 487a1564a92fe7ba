import Foundation
import PerpModel
import TestSupport
import Testing

@testable import PerpVenues

@Suite("Numerai stake over loopback")
struct NumeraiTests {
    static let queries = "numerai/graphql_queries.json"

    static func client(_ server: LoopbackHTTPServer) -> NumeraiClient {
        NumeraiClient(baseURL: server.root, transport: URLSessionTransport(timeout: 5), minimumSpacing: .zero)
    }

    static let model = ModelName("uuazed")!

    @Test func stakeIsAPostOfTheQueryAndVariables() async throws {
        let server = try LoopbackHTTPServer { _ in .json(Fixture.numeraiStake) }
        defer { server.stop() }

        let stake = try await Self.client(server).stake(model: Self.model)

        #expect(stake == Quantity("14.63")!)
        let request = try #require(server.requests.first)
        #expect(server.requests.count == 1)
        #expect(request.method == "POST")
        #expect(request.path == "/")
        #expect(request.header("content-type") == "application/json")
        #expect(request.header("accept") == "application/json")
        let body = try JSONParser.parse(request.body)
        let query = try #require(body["query"]?.stringValue)
        #expect(query == NumeraiClient.stakeQuery)
        #expect(query.contains("v3UserProfile(model_name: $model_name, tournament: $tournament)"))
        #expect(query.contains("stakeValue"))
        #expect(body["variables"]?["model_name"] == .string("uuazed"))
        #expect(body["variables"]?["tournament"]?.int64Value == 8)
    }

    @Test(arguments: [(NumeraiTournament.classic, Int64(8)), (.signals, 11), (.crypto, 12)])
    func tournamentIDIsSent(tournament: NumeraiTournament, id: Int64) async throws {
        let server = try LoopbackHTTPServer { _ in .json(Fixture.numeraiStake) }
        defer { server.stop() }

        _ = try await Self.client(server).stake(model: Self.model, tournament: tournament)

        let body = try JSONParser.parse(try #require(server.requests.first).body)
        #expect(body["variables"]?["tournament"]?.int64Value == id)
    }

    @Test func modelNamesAreSentLowerCased() async throws {
        let server = try LoopbackHTTPServer { _ in .json(Fixture.numeraiStake) }
        defer { server.stop() }

        _ = try await Self.client(server).stake(model: try #require(ModelName("My_Model_2")))

        let body = try JSONParser.parse(try #require(server.requests.first).body)
        #expect(body["variables"]?["model_name"] == .string("my_model_2"))
    }

    @Test func aNullStakeIsZero() async throws {
        let server = try LoopbackHTTPServer { _ in .json(Fixture.numeraiNullStake) }
        defer { server.stop() }

        #expect(try await Self.client(server).stake(model: Self.model) == .zero)
    }

    @Test func aNumericStakeIsAccepted() async throws {
        let server = try LoopbackHTTPServer { _ in .json(#"{"data":{"v3UserProfile":{"stakeValue":250.5}}}"#) }
        defer { server.stop() }

        #expect(try await Self.client(server).stake(model: Self.model) == Quantity("250.5")!)
    }

    @Test(arguments: [Fixture.numeraiModelNotFound, Fixture.numeraiNullProfile])
    func anUnknownModelIsNotRetryableAndNamesIt(answer: String) async throws {
        let server = try LoopbackHTTPServer { _ in .json(answer) }
        defer { server.stop() }

        let error = try await #require(throws: VenueError.self) {
            try await Self.client(server).stake(model: try #require(ModelName("no_such_model")))
        }
        #expect(error.kind == .notRetryable)
        #expect(error.description.contains("no_such_model"))
        #expect(error.description.contains("classic"))
        #expect(server.requests.count == 1)
    }

    @Test func theGraphQLMessageIsKept() async throws {
        let server = try LoopbackHTTPServer { _ in .json(Fixture.numeraiModelNotFound) }
        defer { server.stop() }

        let error = try await #require(throws: VenueError.self) { try await Self.client(server).stake(model: Self.model) }
        #expect(error.description.contains("Model not found"))
    }

    @Test func aNegativeStakeIsRejected() async throws {
        let server = try LoopbackHTTPServer { _ in .json(#"{"data":{"v3UserProfile":{"stakeValue":"-1"}}}"#) }
        defer { server.stop() }

        let error = try await #require(throws: VenueError.self) { try await Self.client(server).stake(model: Self.model) }
        #expect(error.kind == .notRetryable)
    }

    // MARK: The recorded numerapi shapes

    static func recorded() throws -> JSONValue { try JSONParser.parse(try #require(sharedPayload(queries))) }

    @Test(.enabled(if: hasSharedPayload(queries), "../shared/data/api/\(queries) is absent"))
    func recordedStakeGetShapeRoundTrips() async throws {
        let recorded = try Self.recorded()
        let stakeGet = try #require(recorded["queries"]?.arrayValue?.first { $0["name"] == .string("stake_get") })
        let answer = try #require(stakeGet["response_shape"]).serialized(pretty: false)
        let server = try LoopbackHTTPServer { _ in .json(answer) }
        defer { server.stop() }
        let modelName = try #require(stakeGet["variables"]?["model_name"]?.stringValue)

        let stake = try await Self.client(server).stake(model: try #require(ModelName(modelName)))

        #expect(stake == Quantity("14.63")!)
        // We send the same variables numerapi sends.
        let sent = try JSONParser.parse(try #require(server.requests.first).body)
        #expect(sent["variables"]?["model_name"] == stakeGet["variables"]?["model_name"])
        #expect(sent["variables"]?["tournament"]?.int64Value == stakeGet["variables"]?["tournament"]?.int64Value)
        #expect(recorded["tournament_ids"]?["classic"]?.int64Value == Int64(NumeraiTournament.classic.id))
        #expect(recorded["tournament_ids"]?["signals"]?.int64Value == Int64(NumeraiTournament.signals.id))
        #expect(recorded["tournament_ids"]?["crypto"]?.int64Value == Int64(NumeraiTournament.crypto.id))
    }

    @Test(.enabled(if: hasSharedPayload(queries), "../shared/data/api/\(queries) is absent"))
    func recordedErrorShapeIsAnUnknownModel() async throws {
        let errorShape = try #require(try Self.recorded()["error_shape"])
        let answer = errorShape.serialized(pretty: false)
        let server = try LoopbackHTTPServer { _ in .json(answer) }
        defer { server.stop() }

        let error = try await #require(throws: VenueError.self) { try await Self.client(server).stake(model: Self.model) }
        #expect(error.kind == .notRetryable)
        #expect(error.description.contains("uuazed"))
    }
}
