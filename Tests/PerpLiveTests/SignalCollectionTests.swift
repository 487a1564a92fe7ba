import Foundation
import PerpMarketData
import PerpModel
import PerpVenues
import Synchronization
import TestSupport
import Testing

@testable import PerpLive

@Suite("Signal collectors: files, resumption, one source's failure")
struct SignalCollectionTests {
    static let exchange = "0x28c6c06298d514db089934071355e5743bf21d60"
    static let whale = "0x" + String(repeating: "7", count: 40)
    static let hour: Int64 = 3_600_000

    static func folder() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-signals-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    static func rows(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").dropFirst().map(String.init)
    }

    static func ethereum(_ twin: SignalSourcesTwin, labelled: Set<String> = [exchange]) -> EthereumFlowCollector {
        EthereumFlowCollector(
            client: EthereumClient(
                url: URL(string: twin.rpcURL)!, transport: URLSessionTransport(timeout: 5), minimumSpacing: .zero, sleeper: { _ in }),
            labelled: labelled)
    }

    @Test func onChainFlowsAreWrittenHourByHourAndAnOpenHourWaitsForTheNextRun() async throws {
        let twin = try SignalSourcesTwin()
        defer { twin.stop() }
        let genesis = twin.time(ofBlock: 0)
        twin.setTransfers([
            .init(block: 10, from: Self.whale, to: Self.exchange, amount: "100"),  // hour 0
            .init(block: 350, from: Self.exchange, to: Self.whale, amount: "40"),  // hour 1
            .init(block: 950, from: Self.whale, to: Self.exchange, amount: "7000"),  // hour 3, large
        ])
        twin.setHead(1012)  // block 1000 is confirmed: 3 h 20 min after genesis
        let folder = try Self.folder()
        let collection = SignalCollection(folder: folder, collectors: [Self.ethereum(twin)])
        let collector = collection.collectors[0]
        let first = await collection.run(collector, now: Timestamp(milliseconds: genesis + 4 * Self.hour))
        #expect(first.failure == nil, "\(first.failure ?? "")")
        #expect(first.written == ["exchange_netflow": 3, "large_transfers": 3, "transfer_volume": 3])
        #expect(
            try Self.rows(collection.path(of: "exchange_netflow")) == [
                "\(genesis + Self.hour),100", "\(genesis + 2 * Self.hour),-40", "\(genesis + 3 * Self.hour),0",
            ])
        let savedAfterFirst = try Data(contentsOf: URL(fileURLWithPath: collection.statePath(of: "ethereum")))

        twin.setHead(1312)  // hour 3 is over
        let second = await collection.run(collector, now: Timestamp(milliseconds: genesis + 5 * Self.hour))
        #expect(second.written == ["exchange_netflow": 1, "large_transfers": 1, "transfer_volume": 1], "\(second)")
        #expect(try Self.rows(collection.path(of: "exchange_netflow")).last == "\(genesis + 4 * Self.hour),7000")
        #expect(
            try Self.rows(collection.path(of: "large_transfers"))
                == ["0", "0", "0", "1"].enumerated().map { "\(genesis + Int64($0.offset + 1) * Self.hour),\($0.element)" })
        let files = try ["exchange_netflow", "large_transfers", "transfer_volume"].map { try Self.rows(collection.path(of: $0)) }

        // Killed after the rows were written but before the state was saved: the next run
        // starts from the old state, finds the same hours, and writes nothing twice.
        try savedAfterFirst.write(to: URL(fileURLWithPath: collection.statePath(of: "ethereum")))
        let again = await collection.run(collector, now: Timestamp(milliseconds: genesis + 5 * Self.hour))
        #expect(again.failure == nil && again.written.values.allSatisfy { $0 == 0 }, "\(again)")
        #expect(try ["exchange_netflow", "large_transfers", "transfer_volume"].map { try Self.rows(collection.path(of: $0)) } == files)
        // The bot reads what was written.
        let points = try ValueSeriesCSV.parse(MarketDataFiles.readBytes(collection.path(of: "exchange_netflow")), source: "x")
        #expect(points.map(\.value) == [100, -40, 0, 7000])
    }

    @Test func withoutExchangeAddressesThereIsNoNetFlowFile() async throws {
        let twin = try SignalSourcesTwin()
        defer { twin.stop() }
        twin.setHead(1012)
        let folder = try Self.folder()
        let collection = SignalCollection(folder: folder, collectors: [Self.ethereum(twin, labelled: [])])
        let outcome = await collection.run(collection.collectors[0], now: Timestamp(milliseconds: twin.time(ofBlock: 1012)))
        #expect(outcome.failure == nil && outcome.written["exchange_netflow"] == nil)
        #expect(!FileManager.default.fileExists(atPath: collection.path(of: "exchange_netflow")))
        #expect(try Self.rows(collection.path(of: "transfer_volume")).count == 3)
    }

    @Test func aBackfillFillsThePastBeforeTheRowsAlreadyCollected() async throws {
        let twin = try SignalSourcesTwin()
        defer { twin.stop() }
        let genesis = twin.time(ofBlock: 0)
        twin.setTransfers([.init(block: 400, from: Self.whale, to: Self.exchange, amount: "5")])
        twin.setHead(20 * 300 + 12)  // twenty hours of blocks
        let folder = try Self.folder()
        let collection = SignalCollection(folder: folder, collectors: [Self.ethereum(twin)])
        let path = collection.path(of: "exchange_netflow")
        // Rows already collected for hours 15 to 20.
        try SeriesFile.append((16...20).map { (genesis + Int64($0) * Self.hour, "0") }, to: path)
        let lines = Lines()
        let outcome = await collection.run(
            collection.collectors[0], now: Timestamp(milliseconds: genesis + 21 * Self.hour), from: Timestamp(milliseconds: genesis)
        ) { line in lines.mutex.withLock { $0.append(line) } }
        #expect(outcome.failure == nil, "\(outcome.failure ?? "")")
        let rows = try Self.rows(path)
        #expect(rows.count == 20 && rows[1] == "\(genesis + 2 * Self.hour),5", "\(rows)")
        #expect(outcome.written["exchange_netflow"] == 15)
        let shown = lines.mutex.withLock { $0 }
        #expect(shown.contains { $0.contains("finding the first block") } && shown.contains { $0.contains("%") })
    }

    @Test func forumSentimentIsOneRowPerEndedDay() async throws {
        let twin = try SignalSourcesTwin()
        defer { twin.stop() }
        let day: Int64 = 86_400_000
        let start: Int64 = 1_735_689_600_000
        twin.setTopics([
            .init(created: start + 1000, title: "Great payouts this round", likes: 1),
            .init(created: start + 2000, title: "Another burn", likes: 0),
            .init(created: start + day + 1000, title: "Bad drawdown, big burn"),
            .init(created: start + 2 * day + 1000, title: "Good news"),  // today: not over yet
        ])
        let client = ForumClient(baseURL: URL(string: twin.baseURL)!, transport: URLSessionTransport(timeout: 5), minimumSpacing: .zero)
        let folder = try Self.folder()
        let collection = SignalCollection(folder: folder, collectors: [ForumSentimentCollector(client: client)])
        let now = Timestamp(milliseconds: start + 2 * day + 5000)
        let first = await collection.run(collection.collectors[0], now: now, from: Timestamp(milliseconds: start))
        #expect(first.written == ["sentiment": 2], "\(first)")
        #expect(try Self.rows(collection.path(of: "sentiment")) == ["\(start + day),0.333333", "\(start + 2 * day),-1"])
        // The next day, only the new day is added.
        let later = await collection.run(collection.collectors[0], now: Timestamp(milliseconds: start + 3 * day + 1))
        #expect(later.written == ["sentiment": 1], "\(later)")
        #expect(try Self.rows(collection.path(of: "sentiment")).last == "\(start + 3 * day),1")
    }

    @Test func theNetworksStakeAndStakersAreStampedAfterTheyWereRead() async throws {
        let twin = try SignalSourcesTwin()
        defer { twin.stop() }
        twin.setModels([("a", "10.5"), ("b", nil), ("c", "0"), ("d", "1000")])
        let client = NumeraiClient(
            baseURL: URL(string: twin.numeraiURL)!, transport: URLSessionTransport(timeout: 5), minimumSpacing: .zero)
        let folder = try Self.folder()
        let collection = SignalCollection(folder: folder, collectors: [NumeraiNetworkCollector(client: client)])
        let now = Timestamp(milliseconds: 1_735_689_600_000 + 30_500)
        let outcome = await collection.run(collection.collectors[0], now: now)
        #expect(outcome.failure == nil)
        #expect(try Self.rows(collection.path(of: "staked")) == ["1735689660000,1010.5"])
        #expect(try Self.rows(collection.path(of: "activity")) == ["1735689660000,2"])
        // The same minute again: nothing written twice.
        let again = await collection.run(collection.collectors[0], now: now + .seconds(10))
        #expect(again.written == ["staked": 0, "activity": 0])
    }

    @Test func oneSourcesFailureLeavesTheOthersAndItsFilesAlone() async throws {
        let twin = try SignalSourcesTwin()
        defer { twin.stop() }
        twin.setNumeraiFailing(true)
        twin.setHead(1012)
        let numerai = NumeraiNetworkCollector(
            client: NumeraiClient(baseURL: URL(string: twin.numeraiURL)!, transport: URLSessionTransport(timeout: 5), minimumSpacing: .zero)
        )
        let folder = try Self.folder()
        try SeriesFile.append([(1000, "5")], to: folder + "/staked.csv")
        let collection = SignalCollection(folder: folder, collectors: [numerai, Self.ethereum(twin)])
        var outcomes: [CollectOutcome] = []
        for collector in collection.collectors {
            outcomes.append(await collection.run(collector, now: Timestamp(milliseconds: twin.time(ofBlock: 1012))))
        }
        #expect(outcomes[0].failure?.contains("HTTP 500") == true, "\(outcomes[0])")
        #expect(outcomes[1].failure == nil)
        #expect(try Self.rows(folder + "/staked.csv") == ["1000,5"])
        #expect(try Self.rows(collection.path(of: "transfer_volume")).count == 3)
    }

    @Test func aNodeClaimingAnEndlessChainIsRefusedNotScanned() async throws {
        let twin = try SignalSourcesTwin()
        defer { twin.stop() }
        twin.setHead(2_000_000_000)
        let folder = try Self.folder()
        let collection = SignalCollection(folder: folder, collectors: [Self.ethereum(twin)])
        let outcome = await collection.run(collection.collectors[0], now: Timestamp(milliseconds: twin.time(ofBlock: 0)))
        #expect(outcome.failure?.contains("not Ethereum mainnet") == true, "\(outcome)")
        #expect(twin.rpcMethods == ["eth_blockNumber"])
    }

    @Test func aStateFileThatIsNotOursStartsAfresh() async throws {
        let twin = try SignalSourcesTwin()
        defer { twin.stop() }
        twin.setHead(1012)
        let folder = try Self.folder()
        let collection = SignalCollection(folder: folder, collectors: [Self.ethereum(twin)])
        try FileManager.default.createDirectory(atPath: folder + "/.collect", withIntermediateDirectories: true)
        for garbage in [
            "{", #"{"next_block":"x"}"#, #"{"next_block":5,"span_from":1735689600000,"pending":[{"time":"?"}]}"#, "\u{0}\u{1}",
            #"{"next_block":5,"span_from":-9223372036854775808,"pending":[]}"#,
        ] {
            try Data(garbage.utf8).write(to: URL(fileURLWithPath: collection.statePath(of: "ethereum")))
            let outcome = await collection.run(collection.collectors[0], now: Timestamp(milliseconds: twin.time(ofBlock: 1012)))
            #expect(outcome.failure == nil, "\(garbage): \(outcome.failure ?? "")")
        }
        #expect(try Self.rows(collection.path(of: "transfer_volume")).count == 3)
    }

    /// Numerai's round schedule becomes calendar rows (issue 16, "Event calendar"), merged: a
    /// second run adds nothing, a row written by hand stays.
    @Test func theRoundScheduleIsMergedIntoTheCalendar() async throws {
        let twin = try SignalSourcesTwin()
        defer { twin.stop() }
        twin.setRounds([(1101, "2025-10-08T12:00:00Z"), (1100, "2025-10-07T12:00:00Z")])
        let folder = try Self.folder()
        try "time,kind,note\n2025-10-10T20:00:00Z,news,mine\n".write(toFile: folder + "/calendar.csv", atomically: true, encoding: .utf8)
        let collector = NumeraiCalendarCollector(
            client: NumeraiClient(baseURL: URL(string: twin.numeraiURL)!, transport: URLSessionTransport(timeout: 5), minimumSpacing: .zero)
        )
        let collection = SignalCollection(folder: folder, collectors: [collector])
        let first = await collection.run(collector, now: Timestamp(parsing: "2025-10-09T00:00:00Z")!)
        #expect(first.failure == nil, "\(first.failure ?? "")")
        #expect(first.written["calendar"] == 6, "open, staking close and close of each round; no score or resolve time yet")
        let second = await collection.run(collector, now: Timestamp(parsing: "2025-10-09T01:00:00Z")!)
        #expect(second.written["calendar"] == 0)
        let events = try CalendarFile.parse(MarketDataFiles.readBytes(folder + "/calendar.csv"), source: "calendar.csv")
        #expect(events.count == 7 && events.last?.note == "mine")
        #expect(events.first == CalendarEvent(time: Timestamp(parsing: "2025-10-07T12:00:00Z")!, kind: "round_open", note: "round 1100"))
        twin.setNumeraiFailing(true)
        let failing = await collection.run(collector, now: Timestamp(parsing: "2025-10-09T02:00:00Z")!)
        #expect(failing.failure != nil)
    }
}

/// Progress lines a collector reported.
final class Lines: Sendable {
    let mutex = Mutex<[String]>([])
}
