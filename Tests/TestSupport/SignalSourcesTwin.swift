import Foundation
import PerpModel
import Synchronization

/// One loopback server answering as the three sources of the signal collectors (issue 16), each
/// from its documented shapes:
///
/// - `POST /graphql`: Numerai's `v2Leaderboard(limit:, offset:)` (numerapi `get_leaderboard`),
///   `nmrStaked` as a decimal string, `null` when unstaked;
/// - `GET /latest.json?order=created&page=N`: a Discourse topic list, newest created first, 30
///   a page (discourse `category_topics_response.json`);
/// - `POST /rpc`: Ethereum JSON-RPC `eth_blockNumber`, `eth_getBlockByNumber`, `eth_getLogs`
///   (ethereum/execution-apis), a block every 12 s from `genesis`, refusing a range wider than
///   `maxLogRange` as Infura does (−32005 "query returned more than 10000 results").
public final class SignalSourcesTwin: Sendable {
    public struct Topic: Sendable {
        public var created: Int64
        public var title: String
        public var likes: Int
        public var pinned: Bool
        public init(created: Int64, title: String, likes: Int = 0, pinned: Bool = false) {
            self.created = created
            self.title = title
            self.likes = likes
            self.pinned = pinned
        }
    }

    public struct Transfer: Sendable {
        public var block: Int64
        public var from: String
        public var to: String
        /// In NMR (18 decimals on chain).
        public var amount: String
        public init(block: Int64, from: String, to: String, amount: String) {
            self.block = block
            self.from = from
            self.to = to
            self.amount = amount
        }
    }

    struct State {
        var models: [(String, String?)] = []
        var topics: [Topic] = []
        var transfers: [Transfer] = []
        var head: Int64 = 0
        var maxLogRange: Int64 = 10_000
        var includeBlockTimestamp = true
        var failNumerai = false
        /// Rounds as `rounds(tournament:)` answers them (JSON objects, newest first).
        var rounds: [String] = []
        var methods: [String] = []
    }

    public static let token = "0x1776e1f26f98b1a5df9cd347953a26dd3cb46671"
    public static let transferTopic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    /// Block 0's time (epoch seconds); block n is 12·n seconds later.
    public let genesis: Int64
    final class Box: Sendable {
        let mutex = Mutex(State())
    }
    let box = Box()
    let server: LoopbackHTTPServer

    public init(genesis: Int64 = 1_735_689_600) throws {
        self.genesis = genesis
        let box = self.box
        server = try LoopbackHTTPServer { request in SignalSourcesTwin.answer(request, state: box, genesis: genesis) }
    }

    func withState<T>(_ body: (inout State) -> T) -> T { box.mutex.withLock { body(&$0) } }

    public var baseURL: String { server.baseURL }
    public var numeraiURL: String { server.baseURL + "/graphql" }
    public var rpcURL: String { server.baseURL + "/rpc" }
    public var requests: [HTTPRequestRecord] { server.requests }
    public func stop() { server.stop() }

    public func setModels(_ models: [(String, String?)]) { withState { $0.models = models } }
    public func setTopics(_ topics: [Topic]) { withState { $0.topics = topics } }
    public func setTransfers(_ transfers: [Transfer]) { withState { $0.transfers = transfers } }
    public func setHead(_ block: Int64) { withState { $0.head = block } }
    public func setMaxLogRange(_ blocks: Int64) { withState { $0.maxLogRange = blocks } }
    public func setIncludeBlockTimestamp(_ value: Bool) { withState { $0.includeBlockTimestamp = value } }
    public func setNumeraiFailing(_ value: Bool) { withState { $0.failNumerai = value } }
    /// Rounds in numerapi `list_rounds` shape (its test fixture's fields), each given as
    /// (number, open time ISO 8601); the other times follow Numerai's documented schedule.
    public func setRounds(_ rounds: [(Int, String)]) {
        withState {
            $0.rounds = rounds.map { number, open in
                let day = String(open.prefix(10))
                return
                    #"{"number":\#(number),"openTime":"\#(open)","closeTime":"\#(day)T13:00:00Z","closeStakingTime":"\#(day)T13:00:00Z","scoreTime":null,"resolveTime":null,"resolvedGeneral":false,"resolvedStaking":false,"payoutFactor":"0.8"}"#
            }
        }
    }
    /// The JSON-RPC methods called, in order.
    public var rpcMethods: [String] { withState { $0.methods } }
    /// The time of `block` in epoch milliseconds.
    public func time(ofBlock block: Int64) -> Int64 { (genesis + 12 * block) * 1000 }

    static func answer(_ request: HTTPRequestRecord, state: Box, genesis: Int64) -> HTTPResponseSpec {
        switch request.path {
        case "/graphql": return numerai(request, state: state)
        case "/latest.json": return forum(request, state: state)
        case "/rpc": return rpc(request, state: state, genesis: genesis)
        default: return .json(#"{"error":"no route"}"#, status: 404)
        }
    }

    static func numerai(_ request: HTTPRequestRecord, state: Box) -> HTTPResponseSpec {
        if let body = try? JSONParser.parse(request.body), let query = body["query"]?.stringValue, query.contains("rounds(") {
            let (rounds, failing) = state.mutex.withLock { ($0.rounds, $0.failNumerai) }
            if failing { return .json(#"{"errors":[{"message":"internal error"}]}"#, status: 500) }
            return .json(#"{"data":{"rounds":[\#(rounds.joined(separator: ","))]}}"#)
        }
        guard let body = try? JSONParser.parse(request.body), let query = body["query"]?.stringValue, query.contains("v2Leaderboard"),
            let limit = body["variables"]?["limit"]?.int64Value, let offset = body["variables"]?["offset"]?.int64Value
        else { return .json(#"{"errors":[{"message":"Cannot query field"}],"data":null}"#) }
        let (models, failing) = state.mutex.withLock { ($0.models, $0.failNumerai) }
        if failing { return .json(#"{"errors":[{"message":"internal error"}]}"#, status: 500) }
        let page = models.dropFirst(Int(offset)).prefix(Int(limit))
        let rows = page.map { model, stake in
            #"{"username":"\#(model)","nmrStaked":\#(stake.map { "\"\($0)\"" } ?? "null"),"rank":1,"corr20Rep":0.01}"#
        }
        return .json(#"{"data":{"v2Leaderboard":[\#(rows.joined(separator: ","))]}}"#)
    }

    static func forum(_ request: HTTPRequestRecord, state: Box) -> HTTPResponseSpec {
        let page = Int(request.query["page"] ?? "0") ?? 0
        let topics = state.mutex.withLock { $0.topics }.sorted { $0.created > $1.created }
        let slice = topics.dropFirst(page * 30).prefix(30)
        let rows = slice.enumerated().map { index, topic in
            let created = Timestamp(milliseconds: topic.created).iso8601
            return
                #"{"id":\#(page * 30 + index + 1),"title":\#(JSONValue.string(topic.title).serialized(pretty: false)),"fancy_title":"x","slug":"x","posts_count":3,"reply_count":2,"created_at":"\#(created)","last_posted_at":"\#(created)","bumped":true,"bumped_at":"\#(created)","pinned":\#(topic.pinned),"like_count":\#(topic.likes),"views":10,"category_id":1}"#
        }
        let more = topics.count > (page + 1) * 30 ? #","more_topics_url":"/latest?order=created&page=\#(page + 1)""# : ""
        return .json(
            #"{"users":[],"topic_list":{"can_create_topic":false,"per_page":30\#(more),"topics":[\#(rows.joined(separator: ","))]}}"#)
    }

    static func hex(_ value: Int64) -> String { "0x" + String(value, radix: 16) }

    static func padded(_ address: String) -> String { "0x" + String(repeating: "0", count: 24) + address.dropFirst(2).lowercased() }

    /// `amount` NMR as a 32-byte uint256 of 18 decimals.
    static func uint256(_ amount: String) -> String {
        let parts = amount.split(separator: ".", omittingEmptySubsequences: false)
        let whole = String(parts[0])
        var fraction = parts.count > 1 ? String(parts[1]) : ""
        fraction += String(repeating: "0", count: max(0, 18 - fraction.count))
        let wei = UInt128(whole + fraction.prefix(18)) ?? 0
        let digits = String(wei, radix: 16)
        return "0x" + String(repeating: "0", count: 64 - digits.count) + digits
    }

    static func rpc(_ request: HTTPRequestRecord, state: Box, genesis: Int64) -> HTTPResponseSpec {
        guard let body = try? JSONParser.parse(request.body), let method = body["method"]?.stringValue else {
            return .json(#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#)
        }
        let snapshot = state.mutex.withLock { state -> State in
            state.methods.append(method)
            return state
        }
        func result(_ json: String) -> HTTPResponseSpec { .json(#"{"jsonrpc":"2.0","id":1,"result":\#(json)}"#) }
        func number(_ json: JSONValue?) -> Int64? {
            guard let text = json?.stringValue, text.hasPrefix("0x") else { return nil }
            return Int64(text.dropFirst(2), radix: 16)
        }
        switch method {
        case "eth_blockNumber":
            return result("\"\(hex(snapshot.head))\"")
        case "eth_getBlockByNumber":
            guard let block = number(body["params"]?.arrayValue?.first), block <= snapshot.head else { return result("null") }
            return result(
                #"{"number":"\#(hex(block))","hash":"0x\#(String(repeating: "ab", count: 32))","timestamp":"\#(hex(genesis + 12 * block))","transactions":[]}"#
            )
        case "eth_getLogs":
            guard let filter = body["params"]?.arrayValue?.first, let from = number(filter["fromBlock"]), let to = number(filter["toBlock"])
            else {
                return .json(#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"invalid argument 0"}}"#)
            }
            if to - from + 1 > snapshot.maxLogRange {
                return .json(#"{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"query returned more than 10000 results"}}"#)
            }
            guard filter["address"]?.stringValue?.lowercased() == token,
                filter["topics"]?.arrayValue?.first?.stringValue == transferTopic
            else { return result("[]") }
            var logs: [String] = []
            for (index, transfer) in snapshot.transfers.enumerated() where transfer.block >= from && transfer.block <= to {
                let stamp = snapshot.includeBlockTimestamp ? #","blockTimestamp":"\#(hex(genesis + 12 * transfer.block))""# : ""
                logs.append(
                    #"{"address":"\#(token)","topics":["\#(transferTopic)","\#(padded(transfer.from))","\#(padded(transfer.to))"],"data":"\#(uint256(transfer.amount))","blockNumber":"\#(hex(transfer.block))","transactionHash":"0x\#(String(repeating: "cd", count: 32))","transactionIndex":"0x0","blockHash":"0x\#(String(repeating: "ab", count: 32))","logIndex":"\#(hex(Int64(index)))","removed":false\#(stamp)}"#
                )
            }
            return result("[" + logs.joined(separator: ",") + "]")
        default:
            return .json(#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"the method \#(method) does not exist"}}"#)
        }
    }
}
