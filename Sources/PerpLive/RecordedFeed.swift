import Foundation
import PerpModel
import PerpVenues

/// Recorded bars and funding served as a venue publishes them, for `paper --replay` (issue 15:
/// the same runtime on recorded bars, for demos and tests without a network): only the bars that
/// have closed by the ``ReplayClock``'s time, and the settlements due in the span asked for.
public struct RecordedFeed: PaperFeed {
    let bars: [Candle]
    let interval: TimeSpan
    let settlements: [FundingRate]
    let clock: ReplayClock

    public init(bars: [Candle], interval: TimeSpan, funding: [FundingRate], clock: ReplayClock) {
        self.bars = bars
        self.interval = interval
        settlements = funding
        self.clock = clock
    }

    public func bars(from: Timestamp, limit: Int) async throws -> [BinanceUSDMClient.KlineRow] {
        Self.closedRows(bars, from: from, limit: limit, interval: interval, now: clock.now())
    }

    /// The rows of `bars` (sorted by open time) opening at or after `from` that have closed by
    /// `now`, at most `limit`: what a venue publishes. Shared with the synthetic sessions' feed.
    static func closedRows(
        _ bars: [Candle], from: Timestamp, limit: Int, interval: TimeSpan, now: Timestamp
    ) -> [BinanceUSDMClient.KlineRow] {
        var low = 0
        var high = bars.count
        while low < high {
            let middle = (low + high) / 2
            if bars[middle].openTime < from { low = middle + 1 } else { high = middle }
        }
        var rows: [BinanceUSDMClient.KlineRow] = []
        var index = low
        while index < bars.count, rows.count < max(limit, 0), bars[index].openTime + interval <= now {
            rows.append(.bar(bars[index]))
            index += 1
        }
        return rows
    }

    public func funding(from: Timestamp, to: Timestamp) async throws -> [(rate: FundingRate, mark: Price?)] {
        settlements.filter { $0.time >= from && $0.time < to }.prefix(1000).map { ($0, nil) }
    }

    /// A recording has no live mark price or accruing rate: the status line goes without them.
    public func premium() async throws -> BinanceUSDMClient.PremiumIndex {
        throw LiveError.venueSetup("a replay has no live mark price")
    }
}

/// The replay's clock: it jumps to each time the runtime waits for, at once (`speed` `nil`) or
/// after `1/speed` of the real wait (`speed` 60: a minute of bars a second), each wait capped
/// at ``maximumRealWait`` so that a gap in the recording does not stall a demo.
public final class ReplayClock: PaperClock, @unchecked Sendable {
    /// The longest real pause between two polls, whatever the speed.
    public static let maximumRealWait = TimeSpan.seconds(5)

    private let lock = NSLock()
    private var current: Timestamp
    let speed: Double?

    public init(start: Timestamp, speed: Double?) {
        current = start
        self.speed = speed
    }

    public func now() -> Timestamp { lock.withLock { current } }

    public func sleep(until time: Timestamp) async throws {
        let wait = time.milliseconds - now().milliseconds
        if let speed, speed > 0, wait > 0 {
            let real = min(Double(wait) / speed, Double(Self.maximumRealWait.milliseconds))
            if real >= 1 { try await Task.sleep(for: .milliseconds(Int64(real))) }
        }
        try Task.checkCancellation()
        lock.withLock { if time > current { current = time } }
    }
}
