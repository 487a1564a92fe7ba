import PerpModel
import PerpSimulation

/// The trade list as CSV: a header row, then one row per trade in the given order, `\n` line
/// ends. Times are ISO 8601 UTC, amounts exact decimals (shortest form, no exponent). A trade
/// still open at the end has empty `exit_time`, `exit_price` and `exit_reason`.
public enum TradeCSV {
    public static let header = [
        "side", "entry_time", "entry_price", "quantity", "exit_time", "exit_price", "exit_reason", "gross_pnl", "fees", "funding_paid",
        "net_pnl",
    ]

    public static func render(_ trades: [TradeRecord]) -> String {
        var text = header.joined(separator: ",") + "\n"
        text.reserveCapacity(trades.count * 120 + 100)
        for trade in trades {
            let fields = [
                trade.side.rawValue,
                trade.entryTime.iso8601,
                trade.entryPrice.description,
                trade.quantity.description,
                trade.exitTime?.iso8601 ?? "",
                trade.exitPrice?.description ?? "",
                trade.exitReason?.rawValue ?? "",
                trade.grossPnL.description,
                trade.fees.description,
                trade.funding.description,
                trade.netPnL.description,
            ]
            text += fields.joined(separator: ",")
            text += "\n"
        }
        return text
    }
}

/// Every fill as CSV: `time,bar,side,quantity,price,fees,realized_pnl,reason`, where `side` is
/// `buy` or `sell`. Same conventions as ``TradeCSV``.
public enum FillCSV {
    public static let header = ["time", "bar", "side", "quantity", "price", "fees", "realized_pnl", "reason"]

    public static func render(_ fills: [FillRecord]) -> String {
        var text = header.joined(separator: ",") + "\n"
        text.reserveCapacity(fills.count * 90 + 60)
        for fill in fills {
            let fields = [
                fill.time.iso8601,
                String(fill.bar),
                fill.side == .long ? "buy" : "sell",
                fill.quantity.description,
                fill.price.description,
                fill.fee.description,
                fill.realizedPnL.description,
                fill.reason.rawValue,
            ]
            text += fields.joined(separator: ",")
            text += "\n"
        }
        return text
    }
}

/// Funding settlements as CSV: `time,rate,mark,position,payment` (payment > 0: paid by the
/// account). Same conventions as ``TradeCSV``.
public enum FundingCSV {
    public static let header = ["time", "rate", "mark", "position", "payment"]

    public static func render(_ records: [FundingRecord]) -> String {
        var text = header.joined(separator: ",") + "\n"
        text.reserveCapacity(records.count * 70 + 40)
        for record in records {
            let fields = [
                record.time.iso8601, record.rate.description, record.mark.description, record.position.description,
                record.payment.description,
            ]
            text += fields.joined(separator: ",")
            text += "\n"
        }
        return text
    }
}

/// The full equity curve as CSV (`backtest --equity`, issue 15): one row per bar,
/// `time_ms,time_utc,equity,drawdown,position`: the account's equity after the bar (exact),
/// its drawdown from the running peak as a fraction (0.125 = 12.5 %, from the initial capital
/// on), and the signed position in NMR.
public enum EquityCSV {
    public static let header = ["time_ms", "time_utc", "equity", "drawdown", "position"]

    public static func render(_ curve: EquityCurve, initialCapital: Notional) -> String {
        var text = header.joined(separator: ",") + "\n"
        text.reserveCapacity(curve.times.count * 72 + 48)
        var peak = initialCapital.raw
        for index in 0..<curve.times.count {
            let equity = curve.equity[index]
            peak = max(peak, equity)
            let drawdown = peak > 0 ? Double(peak - equity) / Double(peak) : 0
            let position = index < curve.position.count ? Quantity(raw: curve.position[index]).description : ""
            text += "\(curve.times[index]),\(Timestamp(milliseconds: curve.times[index]).iso8601),\(Notional(raw: equity)),"
            text += Numerics.fixed(drawdown, places: 6) + "," + position + "\n"
        }
        return text
    }
}

/// Machine-readable forms of the records, for `--json`. Keys are snake_case in a fixed order,
/// amounts exact JSON numbers, times ISO 8601 strings, absent values `null`.
public enum ReportJSON {
    public static func trade(_ trade: TradeRecord) -> JSONValue {
        .object([
            ("side", .string(trade.side.rawValue)),
            ("entry_time", .string(trade.entryTime.iso8601)),
            ("entry_bar", .int(trade.entryBar)),
            ("entry_price", .exact(trade.entryPrice)),
            ("quantity", .exact(trade.quantity)),
            ("exit_time", trade.exitTime.map { .string($0.iso8601) } ?? .null),
            ("exit_bar", trade.exitBar.map { .int($0) } ?? .null),
            ("exit_price", trade.exitPrice.map { .exact($0) } ?? .null),
            ("exit_reason", trade.exitReason.map { .string($0.rawValue) } ?? .null),
            ("gross_pnl", .exact(trade.grossPnL)),
            ("fees", .exact(trade.fees)),
            ("funding_paid", .exact(trade.funding)),
            ("net_pnl", .exact(trade.netPnL)),
        ])
    }

    public static func fill(_ fill: FillRecord) -> JSONValue {
        .object([
            ("time", .string(fill.time.iso8601)),
            ("bar", .int(fill.bar)),
            ("side", .string(fill.side == .long ? "buy" : "sell")),
            ("quantity", .exact(fill.quantity)),
            ("price", .exact(fill.price)),
            ("fees", .exact(fill.fee)),
            ("realized_pnl", .exact(fill.realizedPnL)),
            ("reason", .string(fill.reason.rawValue)),
        ])
    }

    public static func funding(_ record: FundingRecord) -> JSONValue {
        .object([
            ("time", .string(record.time.iso8601)),
            ("funding_rate", .exact(record.rate)),
            ("mark", .exact(record.mark)),
            ("position", .exact(record.position)),
            ("funding_paid", .exact(record.payment)),
        ])
    }

    /// `{"metrics": …, "trades": […]}`, plus `"fills"` and `"funding_payments"` when asked for.
    public static func report(
        metrics: PerformanceMetrics, result: BacktestResult, includeFills: Bool = false, includeFunding: Bool = false
    ) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("metrics", metrics.json()),
            ("trades", .array(result.trades.map(trade))),
        ]
        if includeFills { members.append(("fills", .array(result.fills.map(fill)))) }
        if includeFunding { members.append(("funding_payments", .array(result.funding.map(funding)))) }
        return .object(members)
    }
}
