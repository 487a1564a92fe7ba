import HummingbirdWSClient
import Logging
import PerpExecution
import PerpModel
import Synchronization

/// The user data stream (Binance USD-M "User Data Streams"): `POST /fapi/v1/listenKey` (API key
/// header only), a WebSocket at `<wsBase>/ws/<listenKey>`, `PUT /fapi/v1/listenKey` every 30
/// minutes (a key lives 60), a new key after `listenKeyExpired`, and reconnection with a bounded
/// back-off (1 s doubling to 60 s). Binance also closes every connection after 24 hours.
extension BinanceUSDMTrader {
    /// How often the listen key is kept alive.
    static let keepAliveInterval: Duration = .seconds(30 * 60)
    /// The longest wait between reconnection attempts.
    static let maxReconnectWaitMilliseconds: Int64 = 60_000
    /// The largest stream message read.
    static let maxStreamMessageBytes = 1 << 20

    /// `POST /fapi/v1/listenKey`: the account's key (the same one while it is alive).
    func createListenKey() async throws -> String {
        let json = try await json("POST", "/fapi/v1/listenKey", [], security: .apiKey)
        guard let key = json["listenKey"]?.stringValue, (1...256).contains(key.utf8.count),
            key.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) })
        else {
            throw VenueError.badResponse(
                endpoint: "\(name) POST /fapi/v1/listenKey", body: Array(json.serialized(pretty: false).utf8),
                problem: "no alphanumeric listenKey")
        }
        return key
    }

    /// `PUT /fapi/v1/listenKey`: extends the key's life by 60 minutes.
    func keepListenKeyAlive() async throws {
        _ = try await json("PUT", "/fapi/v1/listenKey", [], security: .apiKey)
    }

    public func events() async -> AsyncStream<VenueEvent>? {
        let (stream, continuation) = AsyncStream.makeStream(of: VenueEvent.self, bufferingPolicy: .bufferingNewest(10_000))
        let task = Task { await self.runUserStream(continuation) }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Connects, reads, reconnects until the consumer stops listening (the task is cancelled).
    func runUserStream(_ continuation: AsyncStream<VenueEvent>.Continuation) async {
        let state = StreamState()
        var failures = 0
        while !Task.isCancelled {
            var reason = "the stream closed"
            do {
                let key = try await createListenKey()
                let url = webSocketBase + "/ws/" + key
                let closed = try await connect(url: url, continuation: continuation, state: state)
                if let closed { reason = "the stream closed (\(closed))" }
            } catch {
                reason = VenueError.excerpt(Array(String(describing: error).utf8), limit: 160)
            }
            if Task.isCancelled { break }
            if state.opened.withLock({ value in
                let was = value
                value = false
                return was
            }) {
                failures = 0
            }
            if !state.lost.withLock({ $0 }) {
                state.lost.withLock { $0 = true }
                continuation.yield(.streamLost(reason: reason))
            }
            logger.warning("binance-usdm user stream: \(reason); reconnecting")
            failures += 1
            let wait = min(Self.maxReconnectWaitMilliseconds, Int64(1000) << Int64(min(failures - 1, 6)))
            do { try await Task.sleep(for: .milliseconds(wait)) } catch { break }
        }
        continuation.finish()
    }

    /// One connection: yields its events until it closes, the key expires, or the task is
    /// cancelled. Returns the close frame's description when the server sent one.
    private func connect(url: String, continuation: AsyncStream<VenueEvent>.Continuation, state: StreamState) async throws
        -> String?
    {
        let symbol = self.symbol
        let logger = self.logger
        var quiet = logger
        quiet.logLevel = .error
        let keepAlive: @Sendable () async throws -> Void = { [self] in try await self.keepListenKeyAlive() }
        let close = try await WebSocketClient.connect(
            url: url, configuration: WebSocketClientConfiguration(maxFrameSize: Self.maxStreamMessageBytes), logger: quiet
        ) { inbound, _, _ in
            state.opened.withLock { $0 = true }
            if state.lost.withLock({ value in
                let was = value
                value = false
                return was
            }) {
                continuation.yield(.streamRestored)
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    while true {
                        try await Task.sleep(for: Self.keepAliveInterval)
                        try await keepAlive()
                    }
                }
                group.addTask {
                    for try await message in inbound.messages(maxSize: Self.maxStreamMessageBytes) {
                        guard case .text(let text) = message else { continue }
                        switch Self.decode(text, symbol: symbol) {
                        case .events(let events): for event in events { continuation.yield(event) }
                        case .ignored: continue
                        case .listenKeyExpired:
                            logger.notice("binance-usdm user stream: listenKeyExpired; getting a new key")
                            return
                        case .malformed(let why):
                            logger.warning("binance-usdm user stream: skipped a message: \(why)")
                        }
                    }
                }
                // Whichever ends first (the stream closed, the key expired, a keep-alive failed) ends the connection.
                defer { group.cancelAll() }
                _ = try await group.next()
            }
        }
        return close.map { "code \($0.closeCode)" }
    }

    /// One text message, parsed.
    static func decode(_ text: String, symbol: String) -> BinanceWire.StreamMessage {
        guard let json = try? JSONParser.parse(Array(text.utf8)) else {
            return .malformed("not JSON: \(VenueError.excerpt(Array(text.utf8)))")
        }
        return BinanceWire.streamMessage(json, symbol: symbol)
    }
}

/// Flags shared between the reconnect loop and a connection's handler.
final class StreamState: Sendable {
    /// The current connection reached its handler.
    let opened = Mutex(false)
    /// `.streamLost` was emitted and `.streamRestored` not yet.
    let lost = Mutex(false)
}
