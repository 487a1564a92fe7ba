import Foundation
import PerpLive
import PerpModel

/// A bot configuration and a price path for live-trading tests: the bot trades often on
/// one-minute bars (momentum alone, tight exits), so a few dozen bars exercise entries, stops,
/// targets and time exits. The synthetic session's own (``SyntheticSession``).
public enum LiveFixtures {
    public static let fastConfig = SyntheticSession.botText

    /// Runs of twelve rising then twelve falling one-minute bars from `start`, prices on a
    /// 0.001 tick (falling a little faster than the synthetic session's).
    public static func zigzag(from start: Timestamp, count: Int) -> [Candle] {
        SyntheticSession.bars(count: count, start: start, fall: 0.0045)
    }
}
