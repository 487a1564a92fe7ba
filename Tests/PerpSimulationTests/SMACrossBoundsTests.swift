import PerpModel
import PerpSimulation
import Testing

/// Issue 11: sma-cross windows are checked before anything is allocated, and its sums never
/// overflow, whatever the window and the price.
@Suite struct SMACrossBoundsTests {
    @Test(
        "the windows' problems name the flag and the limit",
        arguments: [
            (0, 200, "--fast must be a positive number of bars (got 0)"),
            (-5, 200, "--fast must be a positive number of bars (got -5)"),
            (50, 99_999_999_999, "--slow must be at most 10000000 bars (got 99999999999)"),
            (50, Int.max, "--slow must be at most 10000000 bars (got 9223372036854775807)"),
            (50, 50, "--slow must be greater than --fast (got --fast 50, --slow 50)"),
            (Int.max, 200, "--slow must be greater than --fast (got --fast 9223372036854775807, --slow 200)"),
        ])
    func problems(fast: Int, slow: Int, message: String) {
        #expect(SMACross.problem(fast: fast, slow: slow) == message)
    }

    @Test func theLargestWindowsAreAccepted() {
        #expect(SMACross.problem(fast: 1, slow: CarryLimit.bars) == nil)
        #expect(SMACross.problem(fast: CarryLimit.bars - 1, slow: CarryLimit.bars) == nil)
    }

    /// 110,000 closes of 900,000 USDC sum to 9.9 × 10¹⁸ raw, past `Int64` (and `slow × Σfast`
    /// long before): the 128-bit sums and products carry them, and the fall at the end is still
    /// seen as a cross down.
    @Test func sumsBeyondInt64DoNotOverflow() {
        let slow = 110_000
        let bars = Array(repeating: Bar.flat("900000"), count: slow + 5) + Array(repeating: Bar.flat("450000"), count: 3)
        var tester = Backtester(strategy: SMACross(fast: 2, slow: slow, leverage: Rate(1)), config: venue(), initialCapital: usd("1000"))
        let result = tester.run(series(bars))
        #expect(result.halt == nil)
        #expect(result.fills.first?.bar == slow + 5)
        #expect(result.fills.first?.side == .short)
    }
}
