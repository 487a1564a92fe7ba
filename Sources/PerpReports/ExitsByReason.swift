import PerpModel
import PerpSimulation

/// The closed trades that ended for one reason: one row of the "exits by reason" table of the
/// backtest report (spec §4 "Journal": every trade with its exit and reason).
///
/// A trade's reason is that of the fill that closed it (``TradeRecord/exitReason``): `stop`,
/// `target`, `time_exit`, `circuit_breaker`, `kill_switch`, `liquidation`, `end` (the end of
/// the data, when the run closes what is open), `signal` (a plain strategy's own close), `limit`.
/// Trades still open at the end are not counted (``PerformanceMetrics/openTrades``).
public struct ExitReasonSummary: Sendable, Hashable {
    public var reason: FillReason
    /// Closed trades with this exit reason.
    public var trades: Int
    /// Of these, trades with net PnL > 0.
    public var wins: Int
    /// Sum of their net PnL (`gross − fees − funding`, exact).
    public var netPnL: Notional

    public init(reason: FillReason, trades: Int, wins: Int, netPnL: Notional) {
        self.reason = reason
        self.trades = trades
        self.wins = wins
        self.netPnL = netPnL
    }

    /// One row per exit reason that closed at least one trade, in ``FillReason``'s order; the
    /// rows' trades add up to the closed trades and their net PnL to the closed trades' net PnL.
    public static func table(_ trades: [TradeRecord]) -> [ExitReasonSummary] {
        var rows: [FillReason: ExitReasonSummary] = [:]
        for trade in trades {
            guard trade.exitTime != nil, let reason = trade.exitReason else { continue }
            var row = rows[reason] ?? ExitReasonSummary(reason: reason, trades: 0, wins: 0, netPnL: .zero)
            let net = trade.netPnL
            row.trades += 1
            if net.isPositive { row.wins += 1 }
            row.netPnL += net
            rows[reason] = row
        }
        return FillReason.allCases.compactMap { rows[$0] }
    }

    /// The reason in words for tables: `time exit`, `circuit breaker`, `end of data`.
    public var label: String { Self.label(reason) }

    public static func label(_ reason: FillReason) -> String {
        switch reason {
        case .timeExit: return "time exit"
        case .circuitBreaker: return "circuit breaker"
        case .killSwitch: return "kill switch"
        case .end: return "end of data"
        case .signal, .limit, .stop, .target, .liquidation, .rebalance: return reason.rawValue
        }
    }

    /// The rows as a JSON object keyed by the reason's name (`time_exit`), each
    /// `{"trades", "wins", "net_pnl"}` with exact money, in the rows' order.
    public static func json(_ rows: [ExitReasonSummary]) -> JSONValue {
        .object(
            rows.map { row in
                (row.reason.rawValue, .object([("trades", .int(row.trades)), ("wins", .int(row.wins)), ("net_pnl", .exact(row.netPnL))]))
            })
    }
}
