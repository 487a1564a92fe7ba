import Foundation
import PerpModel

/// The venue's clock, as the live runtime reads it: the local clock plus the offset to the
/// venue's server time (Binance `GET /fapi/v1/time`), measured at the midpoint of the request.
/// Which bars have closed and when a funding settles are the venue's facts, so a live session
/// decides them by the venue's time, not by a local clock that may be seconds off (the same
/// offset the signer uses for `timestamp`, USD-M "Timing security").
public final class VenueSyncedClock: PaperClock, @unchecked Sendable {
    private let local: any PaperClock
    private let serverTime: @Sendable () async throws -> Timestamp
    private let lock = NSLock()
    private var offsetMilliseconds: Int64 = 0

    /// - Parameter serverTime: reads the venue's time (one request).
    public init(local: any PaperClock = SystemPaperClock(), serverTime: @escaping @Sendable () async throws -> Timestamp) {
        self.local = local
        self.serverTime = serverTime
    }

    /// Measures the offset; on failure keeps the last one and throws.
    public func sync() async throws {
        let before = local.now()
        let server = try await serverTime()
        let after = local.now()
        let midpoint = before.milliseconds + (after.milliseconds - before.milliseconds) / 2
        let offset = server.milliseconds &- midpoint
        // A venue clock more than a day away from ours is an answer we cannot trust.
        guard abs(offset) <= 86_400_000 else {
            throw VenueClockError(offsetMilliseconds: offset)
        }
        lock.withLock { offsetMilliseconds = offset }
    }

    public var offset: TimeSpan { TimeSpan(milliseconds: lock.withLock { offsetMilliseconds }) }

    public func now() -> Timestamp { local.now() + offset }

    public func sleep(until time: Timestamp) async throws {
        try await local.sleep(until: time - offset)
    }
}

/// The venue's clock is implausibly far from ours.
public struct VenueClockError: Error, CustomStringConvertible, Sendable {
    public var offsetMilliseconds: Int64
    public var description: String {
        "the venue's server time is \(offsetMilliseconds / 1000) s away from this machine's clock; fix the clock (or the venue address) before trading"
    }
}
