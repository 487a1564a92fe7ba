import Foundation
import HummingbirdWSClient
import Logging
import PerpExecution
import PerpModel
import Synchronization

/// Lighter's account stream (lighter-live.md §5.2): a WebSocket at `/stream`, subscribed to
/// `account_all_orders/{account}` and `account_all_trades/{account}` with an auth token; the
/// server's `{"type":"ping"}` answered with `{"type":"pong"}`; frames `subscribed/<channel>` (a
/// snapshot) and `update/<channel>` (changes). A dropped connection yields `.streamLost` (the
/// runtimes fall back to REST snapshots) and is reconnected with a bounded back-off (1 s
/// doubling to 60 s); the first frame of a new connection yields `.streamRestored`, after which
/// the runtimes reconcile what they may have missed.
extension LighterTrader {
    static let maxStreamMessageBytes = 1 << 20
    static let maxReconnectWaitMilliseconds: Int64 = 60_000

    /// `ws(s)://host/stream` for the REST base, unless `NMRPERP_LIGHTER_WS_URL` says otherwise.
    nonisolated var streamURL: String {
        if let stream = streamOverride { return stream }
        var text = baseURL.absoluteString
        if text.hasSuffix("/") { text.removeLast() }
        if text.hasPrefix("https://") {
            text = "wss://" + text.dropFirst("https://".count)
        } else if text.hasPrefix("http://") {
            text = "ws://" + text.dropFirst("http://".count)
        }
        return text + "/stream"
    }

    public func events() async -> AsyncStream<VenueEvent>? {
        let (stream, continuation) = AsyncStream.makeStream(of: VenueEvent.self, bufferingPolicy: .bufferingNewest(10_000))
        let task = Task { await self.runAccountStream(continuation) }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Connects, reads, reconnects until the consumer stops listening.
    func runAccountStream(_ continuation: AsyncStream<VenueEvent>.Continuation) async {
        let state = StreamState()
        var failures = 0
        while !Task.isCancelled {
            var reason = "the stream closed"
            do {
                if let closed = try await connectStream(continuation: continuation, state: state) {
                    reason = "the stream closed (\(closed))"
                }
            } catch {
                reason = SafeText.excerpt(Array(String(describing: error).utf8), limit: 160)
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
            logger.warning("\(name) account stream: \(reason); reconnecting")
            failures += 1
            let wait = min(Self.maxReconnectWaitMilliseconds, Int64(1000) << Int64(min(failures - 1, 6)))
            do { try await sleeper(.milliseconds(wait)) } catch { break }
        }
        continuation.finish()
    }

    /// The subscription frames, with a fresh auth token.
    func subscriptions() throws -> [String] {
        let token: String
        do { token = try streamToken() } catch { throw VenueError(kind: .fatal, endpoint: "\(name) stream", message: "\(error)") }
        return ["account_all_orders/\(accountIndex)", "account_all_trades/\(accountIndex)"].map {
            JSONValue.object([("type", .string("subscribe")), ("channel", .string($0)), ("auth", .string(token))]).serialized(
                pretty: false)
        }
    }

    private func connectStream(continuation: AsyncStream<VenueEvent>.Continuation, state: StreamState) async throws -> String? {
        _ = try await ensureScale()
        let frames = try subscriptions()
        var quiet = logger
        quiet.logLevel = .error
        let close = try await WebSocketClient.connect(
            url: streamURL, configuration: WebSocketClientConfiguration(maxFrameSize: Self.maxStreamMessageBytes), logger: quiet
        ) { [self] inbound, outbound, _ in
            for frame in frames { try await outbound.write(.text(frame)) }
            for try await message in inbound.messages(maxSize: Self.maxStreamMessageBytes) {
                guard case .text(let text) = message, let json = try? JSONParser.parse(Array(text.utf8)) else { continue }
                let type = json["type"]?.stringValue ?? ""
                if type == "ping" {
                    try await outbound.write(.text(#"{"type":"pong"}"#))
                    continue
                }
                if state.opened.withLock({ value in
                    let was = value
                    value = true
                    return was
                }) == false,
                    state.lost.withLock({ value in
                        let was = value
                        value = false
                        return was
                    })
                {
                    continuation.yield(.streamRestored)
                }
                for event in await self.streamEvents(json) { continuation.yield(event) }
            }
        }
        return close.map { "code \($0.closeCode)" }
    }

    /// The venue events in one frame: orders of `account_all_orders` (a map from market to
    /// orders, or a list) and trades of `account_all_trades`, for this adapter's market.
    func streamEvents(_ json: JSONValue) -> [VenueEvent] {
        guard let scale else { return [] }
        func rows(_ value: JSONValue?) -> [JSONValue] {
            guard let value else { return [] }
            if let list = value.arrayValue { return list }
            if case .object(let members) = value {
                return members.filter { $0.0 == String(market) }.flatMap { $0.1.arrayValue ?? [] }
            }
            return []
        }
        var events: [VenueEvent] = []
        for row in rows(json["orders"]) {
            let id = clientIDName(row["client_order_index"]?.int64Value)
            if let order = LighterWire.order(row, clientID: id, scale: scale) { events.append(.order(order)) }
        }
        for row in rows(json["trades"]) {
            if let fill = LighterWire.trade(row, account: accountIndex, scale: scale, clientID: { self.knownClientID($0) }) {
                events.append(.fill(fill))
            }
        }
        return events
    }
}
