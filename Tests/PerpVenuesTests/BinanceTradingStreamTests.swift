import Foundation
import HTTPTypes
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOPosix
import PerpExecution
import PerpModel
import Synchronization
import TestSupport
import Testing

@testable import PerpVenues

/// Every log line, for the canary search.
final class LogLines: Sendable {
    let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
}

struct CapturingLogHandler: LogHandler {
    let sink: LogLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    func log(event: LogEvent) { sink.lines.withLock { $0.append("\(event.message)") } }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
}

/// A WebSocket server on 127.0.0.1 that plays one script per connection, then closes it
/// (the last script stays open until the test ends).
final class UserStreamTwin: Sendable {
    final class State: Sendable {
        let port = Mutex(0)
        let connections = Mutex(0)
        let task = Mutex<Task<Void, any Error>?>(nil)
    }
    let state = State()

    init(scripts: [[String]]) throws {
        let state = self.state
        let builder = HTTPServerBuilder.http1WebSocketUpgrade { request, _, _ in
            guard request.path?.hasPrefix("/ws/") == true else { return .dontUpgrade }
            return .upgrade([:]) { inbound, outbound, _ in
                let index = state.connections.withLock { value in
                    value += 1
                    return value - 1
                }
                for text in scripts[min(index, scripts.count - 1)] { try await outbound.write(.text(text)) }
                if index >= scripts.count - 1 {
                    for try await _ in inbound {}
                }
            }
        }
        var logger = Logger(label: "UserStreamTwin")
        logger.logLevel = .critical
        let server = try builder.buildServer(
            configuration: ServerConfiguration(address: .hostname("127.0.0.1", port: 0)),
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger,
            responder: { _, writer, _ in try await writer.writeResponse(HTTPTypes.HTTPResponse(status: .notFound)) },
            onServerRunning: { channel in state.port.withLock { $0 = channel.localAddress?.port ?? 0 } })
        state.task.withLock { $0 = Task { try await server.run() } }
    }

    /// The bound port; throws when the server did not start within 5 s.
    func waitForPort() async throws -> Int {
        for _ in 0..<500 {
            let value = state.port.withLock { $0 }
            if value != 0 { return value }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw CancellationError()
    }

    func stop() { state.task.withLock { $0?.cancel() } }
}

func orderUpdate(status: String, execution: String, trade: Int, last: String, cumulative: String, time: Int64) -> String {
    #"{"e":"ORDER_TRADE_UPDATE","T":\#(time),"E":\#(time),"o":{"s":"NMRUSDT","c":"np-abc123-1e","S":"BUY","o":"MARKET","q":"3","ap":"8.25","sp":"0","x":"\#(execution)","X":"\#(status)","i":123456,"l":"\#(last)","z":"\#(cumulative)","L":"8.25","n":"0.001","N":"USDT","t":\#(trade),"rp":"0","R":false}}"#
}

@Suite("BinanceTrading user data stream")
struct BinanceTradingUserStreamTests {
    @Test func repeatedAndReorderedEventsThenAReconnect() async throws {
        let first = [
            orderUpdate(status: "NEW", execution: "NEW", trade: 0, last: "0", cumulative: "0", time: venueTime),
            orderUpdate(status: "PARTIALLY_FILLED", execution: "TRADE", trade: 1, last: "1", cumulative: "1", time: venueTime + 1),
            orderUpdate(status: "PARTIALLY_FILLED", execution: "TRADE", trade: 1, last: "1", cumulative: "1", time: venueTime + 1),
            #"{"e":"ORDER_TRADE_UPDATE","T":1,"o":{"s":"NMRUSDT","c":"np-abc123-1e","q":"NaN"}}"#,
            "not json at all",
            orderUpdate(status: "FILLED", execution: "TRADE", trade: 3, last: "1", cumulative: "3", time: venueTime + 3),
            orderUpdate(status: "PARTIALLY_FILLED", execution: "TRADE", trade: 2, last: "1", cumulative: "2", time: venueTime + 2),
        ]
        let second = [
            #"{"e":"ACCOUNT_UPDATE","T":1700000000600,"a":{"m":"ORDER","B":[{"a":"USDT","wb":"100.1","cw":"95.0"}],"P":[{"s":"NMRUSDT","pa":"3","ep":"8.25","iw":"2.5","ps":"BOTH"}]}}"#
        ]
        let webSocket = try UserStreamTwin(scripts: [first, second])
        defer { webSocket.stop() }
        let port = try await webSocket.waitForPort()
        let twin = try TradingLoopback()
        twin.on("POST", "/fapi/v1/listenKey", .json(#"{"listenKey":"fakeListenKey0123"}"#))
        let sink = LogLines()
        let trader = BinanceUSDMTrader(
            baseURL: URL(string: twin.server.baseURL)!, credentials: BinanceCredentials(apiKey: fakeKey, secret: canarySecret),
            symbol: "NMRUSDT", transport: URLSessionTransport(timeout: 5), clock: FakeClock().read,
            logger: Logger(label: "test") { _ in CapturingLogHandler(sink: sink) }, webSocketBase: "ws://127.0.0.1:\(port)")
        let stream = try #require(await trader.events())
        let collected = try await withThrowingTaskGroup(of: [VenueEvent]?.self) { group in
            group.addTask {
                var events: [VenueEvent] = []
                for await event in stream {
                    events.append(event)
                    if case .balance = event { break }
                }
                return events
            }
            group.addTask {
                // Generous: the suite shares two cores with tests that block threads waiting
                // on child processes, and a stalled pool must not read as a lost event.
                try await Task.sleep(for: .seconds(150))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        let events = try #require(collected, "the stream did not deliver the second connection's ACCOUNT_UPDATE within 150 s")
        let fills = events.compactMap { event -> String? in
            if case .fill(let fill) = event { return fill.tradeID }
            return nil
        }
        #expect(fills == ["1", "1", "3", "2"])  // repeated and reordered as sent: the engine dedupes by trade id
        let markers = events.compactMap { event -> String? in
            switch event {
            case .streamLost: return "lost"
            case .streamRestored: return "restored"
            case .balance: return "balance"
            default: return nil
            }
        }
        #expect(markers == ["lost", "restored", "balance"])
        #expect(sink.all.filter { $0.contains("skipped a message") }.count == 2)
        #expect(twin.requests("POST", "/fapi/v1/listenKey").count == 2)
        #expect(
            twin.requests("POST", "/fapi/v1/listenKey").allSatisfy { $0.header("x-mbx-apikey") == fakeKey && $0.query["signature"] == nil })
    }

    @Test func logsNeverCarryTheSecretKeyOrSignature() async throws {
        let twin = try TradingLoopback()
        twin.on("POST", "/fapi/v1/order", binanceError(-1021, "Timestamp outside recvWindow."), .drop)
        twin.on("GET", "/fapi/v1/order", .json(orderJSON()))
        let sink = LogLines()
        let trader = BinanceUSDMTrader(
            baseURL: URL(string: twin.server.baseURL)!, credentials: BinanceCredentials(apiKey: fakeKey, secret: canarySecret),
            symbol: "NMRUSDT", transport: URLSessionTransport(timeout: 5), clock: FakeClock().read,
            logger: Logger(label: "test") { _ in CapturingLogHandler(sink: sink) })
        let outcome = await trader.submit(intent())
        _ = await trader.lookup(clientID: "np-abc123-1e", kind: .market)
        let signatures = twin.server.requests.compactMap { $0.query["signature"] }
        #expect(!sink.all.isEmpty && !signatures.isEmpty)
        for line in sink.all + [String(describing: outcome)] {
            #expect(!line.contains(canarySecret) && !line.contains(fakeKey) && !line.contains("signature="), "\(line)")
            for signature in signatures { #expect(!line.contains(signature)) }
        }
    }
}
