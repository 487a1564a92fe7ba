import Foundation
import PerpModel
import PerpSignals

/// NMR's ERC-20 `Transfer` logs through any Ethereum JSON-RPC endpoint the user names
/// (`--eth-rpc URL`; issue 16). Standard methods only (Ethereum JSON-RPC specification,
/// ethereum.org/developers/docs/apis/json-rpc): `eth_blockNumber`, `eth_getBlockByNumber`,
/// `eth_getLogs` with the token's address and the `Transfer(address,address,uint256)` topic.
///
/// Providers cap `eth_getLogs` by block range or result count and say so in a JSON-RPC error
/// (Infura: code −32005 "query returned more than 10000 results"; Alchemy: −32602 "Log response
/// size exceeded …", "block range" limits): ``transfers(from:to:chunk:progress:)`` halves its
/// range on such an answer until the provider accepts it, so it works with whatever it allows.
public struct EthereumClient: Sendable {
    /// Numeraire (NMR) on Ethereum mainnet, 18 decimals.
    public static let nmrToken = "0x1776e1f26f98b1a5df9cd347953a26dd3cb46671"
    /// keccak256("Transfer(address,address,uint256)").
    public static let transferTopic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    public static let tokenDecimals = 18

    let http: VenueHTTPClient
    let url: URL
    public let token: String
    let sleeper: @Sendable (Duration) async throws -> Void

    public init(
        url: URL, token: String = EthereumClient.nmrToken, transport: any HTTPTransport = URLSessionTransport(),
        minimumSpacing: Duration = .milliseconds(100),
        sleeper: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.url = url
        self.token = token.lowercased()
        self.sleeper = sleeper
        self.http = VenueHTTPClient(venue: "ethereum", transport: transport, minimumSpacing: minimumSpacing, sleeper: sleeper)
    }

    /// A JSON-RPC error the node answered with.
    public struct RPCError: Error, CustomStringConvertible, Sendable {
        public var method: String
        public var code: Int64?
        public var message: String
        public var description: String { "ethereum \(method): \(message)\(code.map { " (code \($0))" } ?? "")" }

        /// Whether the node refused the size of the query (range or result count), not the query.
        public var isRangeLimit: Bool {
            let text = message.lowercased()
            let words = ["more than", "block range", "range", "too many", "size exceeded", "limit", "exceed", "too large"]
            return method == "eth_getLogs" && (words.contains { text.contains($0) } || code == -32005 || code == -32602)
        }

        /// Whether waiting and asking again may help (rate limits, a busy node).
        public var isRetryable: Bool {
            let text = message.lowercased()
            return !isRangeLimit
                && (code == -32005 || code == 429 || text.contains("rate") || text.contains("busy") || text.contains("timeout"))
        }
    }

    func call(_ method: String, _ params: JSONValue) async throws -> JSONValue {
        let body = JSONValue.object([("jsonrpc", .string("2.0")), ("id", .int(1)), ("method", .string(method)), ("params", params)])
        var attempt = 0
        while true {
            attempt += 1
            let json = try await http.requestJSON(
                method: "POST", url: url, headers: ["Content-Type": "application/json", "Accept": "application/json"],
                body: Array(body.serialized(pretty: false).utf8))
            if let error = json["error"], error != .null {
                let rpc = RPCError(
                    method: method, code: error["code"]?.int64Value,
                    message: SafeText.excerpt(Array((error["message"]?.stringValue ?? "no message").utf8), limit: 200))
                if rpc.isRetryable && attempt < 4 {
                    try await sleeper(.seconds(1 << (attempt - 1)))
                    continue
                }
                throw rpc
            }
            guard let result = json["result"] else {
                throw VenueError(
                    kind: .retryable(retryAfterSeconds: nil), endpoint: "ethereum \(method)", message: "the answer has no result")
            }
            return result
        }
    }

    /// The latest block's number.
    public func blockNumber() async throws -> Int64 {
        let result = try await call("eth_blockNumber", .array([]))
        guard let number = Self.quantity(result), number >= 0 else { throw Self.bad("eth_blockNumber", "block number \(result)") }
        return number
    }

    /// The time of `block` in epoch milliseconds.
    public func blockTime(_ block: Int64) async throws -> Int64 {
        let result = try await call("eth_getBlockByNumber", .array([.string(Self.hex(block)), .bool(false)]))
        guard result != .null else { throw Self.bad("eth_getBlockByNumber", "block \(block) is unknown to the node") }
        guard let seconds = result["timestamp"].flatMap(Self.quantity), let time = Self.milliseconds(seconds) else {
            throw Self.bad("eth_getBlockByNumber", "block \(block) has no valid timestamp")
        }
        return time
    }

    /// The first block at or after `time` (a binary search over block times), at most `latest`.
    public func block(atOrAfter time: Int64, latest: Int64) async throws -> Int64 {
        var low: Int64 = 0
        var high = latest
        for _ in 0..<64 where low < high {
            let middle = low + (high - low) / 2
            if try await blockTime(middle) < time { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// One `Transfer` log as the node sent it, checked.
    public struct TransferLog: Sendable, Equatable {
        public var block: Int64
        public var logIndex: Int64
        public var from: String
        public var to: String
        public var amount: Quantity
        /// The block's time when the node includes it in the log (`blockTimestamp`), else `nil`.
        public var time: Int64?
    }

    /// The token's `Transfer` logs of blocks `from...to`; a ``RPCError`` with
    /// ``RPCError/isRangeLimit`` when the node refuses the range.
    public func transferLogs(from: Int64, to: Int64) async throws -> [TransferLog] {
        let filter = JSONValue.object([
            ("address", .string(token)), ("fromBlock", .string(Self.hex(from))), ("toBlock", .string(Self.hex(to))),
            ("topics", .array([.string(Self.transferTopic)])),
        ])
        let result = try await call("eth_getLogs", .array([filter]))
        guard let logs = result.arrayValue else { throw Self.bad("eth_getLogs", "the result is not a list of logs") }
        return try logs.compactMap { try Self.parseLog($0, token: token, from: from, to: to) }
    }

    /// Reads one log: `nil` for one that is not an ERC-20 transfer of the token (removed by a
    /// reorganisation, another event, an ERC-721 shape); throws for one that cannot be a log
    /// of the range asked for.
    static func parseLog(_ log: JSONValue, token: String, from: Int64, to: Int64) throws -> TransferLog? {
        if log["removed"] == .bool(true) { return nil }
        guard let block = log["blockNumber"].flatMap(quantity), block >= from, block <= to else {
            throw bad("eth_getLogs", "a log's blockNumber is missing or outside \(from)…\(to)")
        }
        guard let index = log["logIndex"].flatMap(quantity), index >= 0 else { throw bad("eth_getLogs", "a log has no logIndex") }
        guard log["address"]?.stringValue?.lowercased() == token, let topics = log["topics"]?.arrayValue?.compactMap(\.stringValue),
            topics.count == 3, topics[0].lowercased() == transferTopic, let sender = address(topic: topics[1]),
            let receiver = address(topic: topics[2]), let data = log["data"]?.stringValue, let amount = amount(data: data)
        else { return nil }
        let time = log["blockTimestamp"].flatMap(quantity).flatMap(milliseconds)
        return TransferLog(block: block, logIndex: index, from: sender, to: receiver, amount: amount, time: time)
    }

    /// The transfers of blocks `from...to` with their blocks' times, in chunks the node accepts
    /// (starting at `chunk` blocks, halved on each range refusal down to one block and never
    /// grown back past a size the node refused). `progress(block)` is told the last block done.
    public func transfers(
        from: Int64, to: Int64, chunk: Int64 = 2000, progress: (Int64) -> Void = { _ in }
    ) async throws -> [TokenTransfer] {
        guard from <= to else { return [] }
        var size = max(1, min(chunk, 100_000))
        var start = from
        var logs: [TransferLog] = []
        while start <= to {
            let end = min(to, start + size - 1)
            do {
                logs += try await transferLogs(from: start, to: end)
                progress(end)
                start = end + 1
            } catch let error as RPCError where error.isRangeLimit && size > 1 {
                size = max(1, size / 2)
            }
        }
        var times: [Int64: Int64] = [:]
        for log in logs { if let time = log.time { times[log.block] = time } }
        var result: [TokenTransfer] = []
        result.reserveCapacity(logs.count)
        for log in logs {
            let time: Int64
            if let known = times[log.block] {
                time = known
            } else {
                time = try await blockTime(log.block)
                times[log.block] = time
            }
            result.append(
                TokenTransfer(time: time, block: log.block, logIndex: log.logIndex, from: log.from, to: log.to, amount: log.amount))
        }
        return result.sorted { ($0.block, $0.logIndex) < ($1.block, $1.logIndex) }
    }

    // MARK: - Hex quantities and data (JSON-RPC "QUANTITY" and "DATA" encodings)

    static func hex(_ value: Int64) -> String { "0x" + String(value, radix: 16) }

    /// A `0x`-prefixed hex quantity that fits an `Int64`.
    static func quantity(_ json: JSONValue) -> Int64? {
        guard let text = json.stringValue, text.hasPrefix("0x") || text.hasPrefix("0X") else { return nil }
        let digits = text.dropFirst(2)
        guard !digits.isEmpty, digits.count <= 16 else { return nil }
        guard let value = UInt64(digits, radix: 16), value <= UInt64(Int64.max) else { return nil }
        return Int64(value)
    }

    /// Epoch seconds to milliseconds, for times between 2015 (the chain's start) and 2100.
    static func milliseconds(_ seconds: Int64) -> Int64? {
        guard seconds >= 1_420_070_400, seconds <= 4_102_444_800 else { return nil }
        return seconds * 1000
    }

    /// `text` as an address the logs are compared with (`0x` and 40 lower-case hex digits), `nil`
    /// when it is not one.
    public static func address(_ text: String) -> String? {
        let lowered = text.lowercased()
        guard lowered.hasPrefix("0x"), lowered.utf8.count == 42, isHex(lowered.dropFirst(2)) else { return nil }
        return lowered
    }

    /// The address in a 32-byte topic: 24 zero digits, then 40 hex digits.
    static func address(topic: String) -> String? {
        let text = topic.lowercased()
        guard text.hasPrefix("0x"), text.utf8.count == 66, isHex(text.dropFirst(2)) else { return nil }
        let digits = text.dropFirst(2)
        guard digits.prefix(24).allSatisfy({ $0 == "0" }) else { return nil }
        return "0x" + digits.suffix(40)
    }

    /// A 32-byte `uint256` amount of an 18-decimal token as NMR (to 10⁻⁸, rounded down); `nil`
    /// beyond what a ``Quantity`` holds (no NMR transfer comes near it: the supply is 11 million).
    static func amount(data: String) -> Quantity? {
        let text = data.lowercased()
        guard text.hasPrefix("0x"), text.utf8.count == 66, isHex(text.dropFirst(2)) else { return nil }
        let digits = text.dropFirst(2)
        guard digits.prefix(32).allSatisfy({ $0 == "0" }), let wei = UInt128(digits.suffix(32), radix: 16) else { return nil }
        let raw = wei / 10_000_000_000  // 18 decimals to Quantity's 8
        guard raw <= UInt128(Int64.max) else { return nil }
        return Quantity(raw: Int64(raw))
    }

    static func isHex(_ text: Substring) -> Bool {
        text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    static func bad(_ method: String, _ problem: String) -> VenueError {
        VenueError(kind: .retryable(retryAfterSeconds: nil), endpoint: "ethereum \(method)", message: problem)
    }
}
