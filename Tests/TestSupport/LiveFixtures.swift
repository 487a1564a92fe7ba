import Foundation
import PerpModel

/// A bot configuration and a price path for live-trading tests: the bot trades often on
/// one-minute bars (momentum alone, tight exits), so a few dozen bars exercise entries, stops,
/// targets and time exits.
public enum LiveFixtures {
    public static let fastConfig = """
        min_agreeing_signals: 1
        entry_threshold: 0.05
        signals:
          momentum_window: 5m
          momentum_full_scale: 0.01
          mean_reversion_window: 30m
        risk:
          volatility_window: 30m
          stop_loss: 0.01
          take_profit: 0.012
          time_exit: 3m
          quiet_start_hour: 0
          quiet_end_hour: 0
          circuit_move: 0.5
        """

    /// Runs of twelve rising then twelve falling one-minute bars from `start`, prices on a
    /// 0.001 tick.
    public static func zigzag(from start: Timestamp, count: Int) -> [Candle] {
        var price = 8.0
        var bars: [Candle] = []
        for index in 0..<count {
            let step = (index / 12) % 2 == 0 ? 0.004 : -0.0045
            let open = price
            price *= 1 + step
            func exact(_ value: Double) -> Price { Price(String(format: "%.3f", value)) ?? Price(8) }
            bars.append(
                Candle(
                    openTime: start + TimeSpan.minutes(Int64(index)), open: exact(open), high: exact(max(open, price) * 1.001),
                    low: exact(min(open, price) * 0.999), close: exact(price), volume: Quantity(2000)))
        }
        return bars
    }
}
