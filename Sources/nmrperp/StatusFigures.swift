import Foundation
import PerpExecution
import PerpLive
import PerpMechanics
import PerpModel

#if canImport(Glibc)
    import Glibc
#endif

/// What a trader watches on an open position, from a session's status (issue 15, "Paper
/// trading that shows what matters"): unrealised P&L at the mark (the last close without one),
/// the notional and leverage in use, the margin the venue holds, the liquidation price of the
/// whole wallet backing the position (cross margin, spec §3 with the venue's maintenance
/// schedule: Binance's brackets or a flat fraction), and the next funding payment at the current rate (positive rate: longs pay).
struct StatusFigures {
    var unrealised: Notional?
    var notional: Notional?
    var leverage: Double?
    var marginUsed: Notional?
    var liquidation: Price?
    /// Paid (negative) or received (positive) at the next settlement.
    var nextFunding: Notional?

    init(_ status: LiveStatus, schedule: MarginSchedule?) {
        let price = status.premium?.mark ?? status.lastBar?.close
        let size = status.position.magnitude
        if let balance = status.balance { marginUsed = balance.wallet - balance.available }
        guard !status.position.isZero, let price else { return }
        let long = status.position.isPositive
        notional = price.times(size)
        if let entry = status.averageEntry {
            let change = price.times(size) - entry.times(size)
            unrealised = long ? change : -change
            if let schedule, let wallet = status.balance?.wallet,
                let result = try? Liquidation.price(
                    side: long ? .long : .short, entry: entry, quantity: size, collateral: wallet, schedule: schedule)
            {
                liquidation = result.price
            }
        }
        if let equity = status.equity, equity.isPositive, let notional { leverage = notional.doubleValue / equity.doubleValue }
        if let rate = status.premium?.fundingRate, let notional {
            let payment = notional.times(rate)
            nextFunding = long ? -payment : payment
        }
    }

    /// The line's parts: "uPnL +12.30", "lev 1.52x", "margin 250.00", "liq 4.1230", "funding next -0.42".
    var parts: [String] {
        var parts: [String] = []
        if let unrealised { parts.append("uPnL \(unrealised.isNegative ? "" : "+")\(unrealised.money)") }
        if let leverage { parts.append("lev \(formatFixed(leverage, 2))x") }
        if let marginUsed, marginUsed.isPositive { parts.append("margin \(marginUsed.money)") }
        if let liquidation { parts.append("liq \(liquidation.formatted(places: 4))") }
        if let nextFunding { parts.append("funding next \(nextFunding.isNegative ? "" : "+")\(nextFunding.money)") }
        return parts
    }

    var json: [(String, JSONValue)] {
        [
            ("unrealized_pnl", unrealised.map { .exact($0) } ?? .null), ("notional", notional.map { .exact($0) } ?? .null),
            ("leverage", leverage.map { .double($0, significant: 6) } ?? .null), ("margin_used", marginUsed.map { .exact($0) } ?? .null),
            ("liquidation_price", liquidation.map { .exact($0) } ?? .null),
            ("next_funding_paid", nextFunding.map { .exact(Notional(raw: 0 &- $0.raw)) } ?? .null),
        ]
    }
}

/// The terminal's width in columns (`nil` when the stream is not a terminal).
func terminalColumns(_ descriptor: Int32 = STDERR_FILENO) -> Int? {
    guard isatty(descriptor) != 0 else { return nil }
    var size = winsize()
    guard ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
    return Int(size.ws_col)
}

/// `text` cut to `columns − 1` characters (with "…"), so a status line redrawn in place never
/// wraps onto a new line at every poll.
func fitted(_ text: String, columns: Int?) -> String {
    guard let columns, columns > 2, text.count >= columns else { return text }
    return String(text.prefix(columns - 2)) + "…"
}
