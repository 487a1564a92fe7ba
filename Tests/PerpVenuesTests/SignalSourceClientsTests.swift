import Foundation
import PerpModel
import PerpSignals
import TestSupport
import Testing

@testable import PerpVenues

@Suite("Signal sources over loopback: Ethereum JSON-RPC, the forum, Numerai's leaderboard")
struct SignalSourceClientsTests {
    static let exchange = "0x28c6c06298d514db089934071355e5743bf21d60"
    static let whale = "0x" + String(repeating: "7", count: 40)

    static func ethereum(_ twin: SignalSourcesTwin) -> EthereumClient {
        EthereumClient(url: URL(string: twin.rpcURL)!, transport: URLSessionTransport(timeout: 5), minimumSpacing: .zero, sleeper: { _ in })
    }

    @Test func transfersAreReadInChunksTheNodeAcceptsWithTheirBlocksTimes() async throws {
        let twin = try SignalSourcesTwin()
        defer { twin.stop() }
        twin.setHead(10_000)
        twin.setMaxLogRange(300)  // the client starts at 2000 blocks and halves to 250
        twin.setTransfers([
            .init(block: 5, from: Self.whale, to: Self.exchange, amount: "12500.5"),
            .init(block: 999, from: Self.exchange, to: Self.whale, amount: "0.000000000000000001"),
            .init(block: 4000, from: Self.whale, to: Self.exchange, amount: "3"),
        ])
        let client = Self.ethereum(twin)
        #expect(try await client.blockNumber() == 10_000)
        #expect(try await client.blockTime(7) == twin.time(ofBlock: 7))
        var done: [Int64] = []
        let transfers = try await client.transfers(from: 0, to: 4999, chunk: 2000) { done.append($0) }
        #expect(transfers.map(\.block) == [5, 999, 4000])
        #expect(transfers[0].amount == Quantity("12500.5")! && transfers[0].from == Self.whale && transfers[0].to == Self.exchange)
        #expect(transfers[1].amount == .zero, "one wei is below 10⁻⁸ NMR")
        #expect(transfers.map(\.time) == [5, 999, 4000].map { twin.time(ofBlock: $0) })
        #expect(done.last == 4999 && done == done.sorted())
        // The node refused 2000, 1000 and 500 blocks, then took 250 twenty times.
        #expect(twin.rpcMethods.filter { $0 == "eth_getLogs" }.count == 23)
    }

    @Test func withoutBlockTimestampEachBlocksTimeIsAskedOnce() async throws {
        let twin = try SignalSourcesTwin()
        defer { twin.stop() }
        twin.setHead(100)
        twin.setIncludeBlockTimestamp(false)
        twin.setTransfers([
            .init(block: 10, from: Self.whale, to: Self.exchange, amount: "1"),
            .init(block: 10, from: Self.whale, to: Self.exchange, amount: "2"),
            .init(block: 20, from: Self.whale, to: Self.exchange, amount: "3"),
        ])
        let transfers = try await Self.ethereum(twin).transfers(from: 0, to: 100)
        #expect(transfers.map(\.time) == [10, 10, 20].map { twin.time(ofBlock: $0) })
        #expect(twin.rpcMethods.filter { $0 == "eth_getBlockByNumber" }.count == 2)
    }

    @Test func theFirstBlockAtATimeIsFoundByItsTimes() async throws {
        let twin = try SignalSourcesTwin()
        defer { twin.stop() }
        twin.setHead(50_000)
        let client = Self.ethereum(twin)
        #expect(try await client.block(atOrAfter: twin.time(ofBlock: 12_345), latest: 50_000) == 12_345)
        #expect(try await client.block(atOrAfter: twin.time(ofBlock: 12_345) - 1, latest: 50_000) == 12_345)
        #expect(try await client.block(atOrAfter: 0, latest: 50_000) == 0)
        #expect(try await client.block(atOrAfter: twin.time(ofBlock: 60_000), latest: 50_000) == 50_000)
    }

    @Test func aNodeThatRefusesEvenOneBlockIsAnErrorNotALoop() async throws {
        let twin = try SignalSourcesTwin()
        defer { twin.stop() }
        twin.setHead(100)
        twin.setMaxLogRange(0)
        let error = try await #require(throws: EthereumClient.RPCError.self) { try await Self.ethereum(twin).transfers(from: 0, to: 100) }
        #expect(error.isRangeLimit && error.description.contains("more than 10000 results"))
    }

    @Test(arguments: [
        // Not this token's ERC-20 transfer: skipped.
        (#"{"removed":true,"blockNumber":"0x5","logIndex":"0x0"}"#, "skipped"),
        (
            #"{"address":"0x0000000000000000000000000000000000000001","topics":["T","F","R"],"data":"D","blockNumber":"0x5","logIndex":"0x0"}"#,
            "skipped"
        ),
        (#"{"address":"TOKEN","topics":["T","F","R","0x01"],"data":"D","blockNumber":"0x5","logIndex":"0x0"}"#, "skipped"),
        (#"{"address":"TOKEN","topics":["T","F","R"],"data":"0x01","blockNumber":"0x5","logIndex":"0x0"}"#, "skipped"),
        (
            #"{"address":"TOKEN","topics":["T","F","R"],"data":"0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff","blockNumber":"0x5","logIndex":"0x0"}"#,
            "skipped"
        ),
        (
            #"{"address":"TOKEN","topics":["T","0x1111111111111111111111111111111111111111111111111111111111111111","R"],"data":"D","blockNumber":"0x5","logIndex":"0x0"}"#,
            "skipped"
        ),
        // Not a log of the range asked: refused.
        (#"{"address":"TOKEN","topics":["T","F","R"],"data":"D","blockNumber":"0x500","logIndex":"0x0"}"#, "refused"),
        (#"{"address":"TOKEN","topics":["T","F","R"],"data":"D","blockNumber":"0xffffffffffffffffff","logIndex":"0x0"}"#, "refused"),
        (#"{"address":"TOKEN","topics":["T","F","R"],"data":"D","blockNumber":"5","logIndex":"0x0"}"#, "refused"),
        (#"{"address":"TOKEN","topics":["T","F","R"],"data":"D","blockNumber":"0x5"}"#, "refused"),
        (#"{"address":"TOKEN","topics":["T","F","R"],"data":"D","blockNumber":"0x5","logIndex":"0x0"}"#, "read"),
    ])
    func hostileLogsNeverTrapAndAreNeverAccepted(template: String, outcome: String) throws {
        let padded = "0x" + String(repeating: "0", count: 24) + String(repeating: "a", count: 40)
        let data = "0x" + String(repeating: "0", count: 48) + "0de0b6b3a7640000"  // 10¹⁸: 1 NMR
        let text = template.replacingOccurrences(of: "TOKEN", with: EthereumClient.nmrToken)
            .replacingOccurrences(of: "\"T\"", with: "\"\(EthereumClient.transferTopic)\"")
            .replacingOccurrences(of: "\"F\"", with: "\"\(padded)\"").replacingOccurrences(of: "\"R\"", with: "\"\(padded)\"")
            .replacingOccurrences(of: "\"D\"", with: "\"\(data)\"")
        let log = try JSONParser.parse(text)
        switch outcome {
        case "skipped": #expect(try EthereumClient.parseLog(log, token: EthereumClient.nmrToken, from: 0, to: 100) == nil)
        case "refused":
            #expect(throws: VenueError.self) { try EthereumClient.parseLog(log, token: EthereumClient.nmrToken, from: 0, to: 100) }
        default: #expect(try EthereumClient.parseLog(log, token: EthereumClient.nmrToken, from: 0, to: 100)?.amount == Quantity(1))
        }
    }

    @Test func forumTopicsArePagedBackToTheDateAskedForWithoutPinnedNotices() async throws {
        let twin = try SignalSourcesTwin()
        defer { twin.stop() }
        let start: Int64 = 1_735_689_600_000
        var topics = (0..<75).map {
            SignalSourcesTwin.Topic(created: start + Int64($0) * 3_600_000, title: "Round \($0) payouts are great", likes: $0)
        }
        topics.append(.init(created: start + 500 * 3_600_000, title: "Welcome, read the rules", pinned: true))
        twin.setTopics(topics)
        let client = ForumClient(baseURL: URL(string: twin.baseURL)!, transport: URLSessionTransport(timeout: 5), minimumSpacing: .zero)
        var pages: [Int] = []
        let since = start + 20 * 3_600_000
        let texts = try await client.topics(since: since) { page, _ in pages.append(page) }
        #expect(texts.count == 55 && texts.first?.time == since && texts.last?.likes == 74)
        #expect(pages == [1, 2], "75 topics: the second page reaches back past the date; the third is never asked for")
        #expect(!texts.contains { $0.text.contains("Welcome") })
        let request = try #require(twin.requests.first)
        #expect(request.path == "/latest.json" && request.query["order"] == "created" && request.query["page"] == "0")
        #expect(throws: VenueError.self) { try ForumClient.parseTopics(try JSONParser.parse(#"{"users":[]}"#)) }
    }

    @Test func theLeaderboardIsReadPageByPageAndSummed() async throws {
        let twin = try SignalSourcesTwin()
        defer { twin.stop() }
        var models: [(String, String?)] = (0..<1203).map { ("model_\($0)", $0 % 3 == 0 ? nil : "1.500000000000000000") }
        models.append(("whale", "25000.123456789"))
        twin.setModels(models)
        let client = NumeraiClient(
            baseURL: URL(string: twin.numeraiURL)!, transport: URLSessionTransport(timeout: 5), minimumSpacing: .zero)
        var progress: [Int] = []
        let entries = try await client.leaderboard(pageSize: 500) { progress.append($0) }
        #expect(entries.count == 1204 && progress == [500, 1000, 1204])
        #expect(entries.last == NumeraiClient.LeaderboardEntry(model: "whale", stake: Quantity("25000.12345679")!))
        #expect(entries.filter { $0.stake.isPositive }.count == 803)
        let body = try JSONParser.parse(try #require(twin.requests.last).body)
        #expect(body["query"]?.stringValue == NumeraiClient.leaderboardQuery)
        #expect(body["variables"]?["offset"]?.int64Value == 1000 && body["variables"]?["limit"]?.int64Value == 500)
    }

    @Test(arguments: [
        #"{"errors":[{"message":"Cannot query field \"v2Leaderboard\""}],"data":null}"#, #"{"data":{}}"#,
        #"{"data":{"v2Leaderboard":[{"username":"a","nmrStaked":"lots"}]}}"#,
        #"{"data":{"v2Leaderboard":[{"username":"a","nmrStaked":"-5"}]}}"#,
        #"{"data":{"v2Leaderboard":[{"username":"a","nmrStaked":"1e400"}]}}"#,
    ])
    func aLeaderboardAnswerThatIsNotOneIsRefused(answer: String) throws {
        #expect(throws: VenueError.self) { try NumeraiClient.parseLeaderboard(try JSONParser.parse(answer)) }
    }

    /// numerapi's `list_rounds` test fixture (tests/test_base_api.py), the fields the calendar reads.
    @Test func roundsReadTheScheduleAndLeaveUnscheduledTimesOut() throws {
        let answer = #"""
            {"data":{"rounds":[{"id":"round-1","tournament":11,"number":123,"target":"main",
             "closeTime":"2026-03-27T00:00:00Z","closeStakingTime":"2026-03-26T12:00:00Z",
             "openTime":"2026-03-20T00:00:00Z","scoreTime":"2026-03-29T00:00:00Z","resolveTime":"2026-04-01T00:00:00Z",
             "resolvedGeneral":false,"resolvedStaking":false,"payoutFactor":"0.8","stakeThreshold":0.1,
             "dataDatestamp":20260320},{"number":124,"openTime":"2026-03-21T00:00:00Z","closeTime":null}]}}
            """#
        let rounds = try NumeraiClient.parseRounds(try JSONParser.parse(answer))
        #expect(rounds.count == 2)
        #expect(rounds[0].events.map(\.kind) == CalendarEvent.roundKinds)
        #expect(
            rounds[0].events[4]
                == CalendarEvent(time: Timestamp(parsing: "2026-04-01T00:00:00Z")!, kind: "round_resolve", note: "round 123"))
        #expect(rounds[1].events.map(\.kind) == ["round_open"])
    }

    @Test(arguments: [
        #"{"errors":[{"message":"Current round not open for submissions"}]}"#, #"{"data":{}}"#,
        #"{"data":{"rounds":[{"openTime":"2026-03-20T00:00:00Z"}]}}"#,
        #"{"data":{"rounds":[{"number":1,"openTime":"next tuesday"}]}}"#,
        #"{"data":{"rounds":[{"number":-1}]}}"#,
    ])
    func aRoundsAnswerThatIsNotOneIsRefused(answer: String) throws {
        #expect(throws: VenueError.self) { try NumeraiClient.parseRounds(try JSONParser.parse(answer)) }
    }
}
