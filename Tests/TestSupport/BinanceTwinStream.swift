// The Binance USD-M twin's user data stream: `/ws/<listenKey>` sockets (HummingbirdWebSocket)
// that receive every event the book produces (ORDER_TRADE_UPDATE, ALGO_UPDATE, ACCOUNT_UPDATE,
// listenKeyExpired), with the stream faults applied in one place: repeat, reorder, disconnect.

import Foundation
import HummingbirdWebSocket

final class TwinStreamHub: @unchecked Sendable {
    private let lock = NSLock()
    private var subscribers: [Int: (key: String, continuation: AsyncStream<String>.Continuation)] = [:]
    private var nextID = 0
    private var held: String?
    private var sentSinceArmed = 0
    private var closed = false

    /// A session for an upgraded socket: forwards events until the stream finishes (a disconnect
    /// fault, the key's expiry, shutdown) or the client goes away.
    func session(for key: String) -> LoopbackHTTPServer.WebSocketSession {
        { [self] _, outbound in
            let (stream, continuation) = AsyncStream<String>.makeStream()
            let id = lock.withLock { () -> Int? in
                guard !closed else { return nil }
                nextID += 1
                subscribers[nextID] = (key, continuation)
                return nextID
            }
            guard let id else { return }
            defer { _ = lock.withLock { subscribers.removeValue(forKey: id) } }
            for await text in stream {
                try await outbound.write(.text(text))
            }
        }
    }

    var connectedCount: Int { lock.withLock { subscribers.count } }

    /// Publishes events in order, applying (and counting down) the stream faults.
    func publish(_ events: [String], faults: inout TwinFaults) {
        lock.lock()
        defer { lock.unlock() }
        for event in events {
            var out: [String] = []
            if let first = held {
                held = nil
                out = [event, first]
            } else if faults.streamReorderNextPairs > 0 {
                faults.streamReorderNextPairs -= 1
                held = event
                continue
            } else {
                out = [event]
            }
            if faults.streamRepeatNext > 0 {
                faults.streamRepeatNext -= 1
                out.insert(out[0], at: 1)
            }
            for text in out { send(text, faults: &faults) }
        }
    }

    /// Sends a held (reordered) event that no later event came to release.
    func flush(faults: inout TwinFaults) {
        lock.lock()
        defer { lock.unlock() }
        if let first = held {
            held = nil
            send(first, faults: &faults)
        }
    }

    private func send(_ text: String, faults: inout TwinFaults) {
        for subscriber in subscribers.values { subscriber.continuation.yield(text) }
        if let limit = faults.streamDisconnectAfterEvents {
            sentSinceArmed += 1
            if sentSinceArmed >= limit {
                faults.streamDisconnectAfterEvents = nil
                sentSinceArmed = 0
                for subscriber in subscribers.values { subscriber.continuation.finish() }
            }
        } else {
            sentSinceArmed = 0
        }
    }

    /// Sends `listenKeyExpired` to the key's sockets and closes them.
    func expire(key: String, event: String) {
        lock.withLock {
            for subscriber in subscribers.values where subscriber.key == key {
                subscriber.continuation.yield(event)
                subscriber.continuation.finish()
            }
        }
    }

    func closeAll() {
        lock.withLock {
            closed = true
            for subscriber in subscribers.values { subscriber.continuation.finish() }
        }
    }
}
