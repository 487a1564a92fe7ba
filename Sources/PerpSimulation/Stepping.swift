import PerpMechanics
import PerpModel

/// The simulated account as it stands after the last bar (paper trading's status line and
/// record).
public struct AccountSnapshot: Sendable, Equatable {
    /// Free balance (under cross margin, the whole collateral).
    public var balance: Notional
    /// Isolated margin of the open position (zero under cross margin).
    public var positionMargin: Notional
    /// Signed position: positive long, negative short.
    public var position: Quantity
    /// Average entry price of the open position.
    public var entryPrice: Price?
    /// Balance, margin and unrealised PnL at the last close.
    public var equity: Notional
    public var liquidationPrice: Price?
    public var restingOrders: Int
    public var feesPaid: Notional
    /// Net funding paid (negative: received).
    public var fundingPaid: Notional
    public var liquidations: Int
    /// Bars stepped so far.
    public var bars: Int
}

extension Backtester {
    /// Paper trading: one closed bar through the same four steps as ``run(_:funding:mark:)``
    /// (docs/decisions/0004): `funding` (settlements due at or before the bar's open, each with
    /// the mark price it settles at; Binance's `fundingRate` rows carry it), then resting orders
    /// and liquidation along the bar's path from the previous stepped close, then the strategy
    /// at the close. A settlement while flat pays nothing, as in a backtest.
    ///
    /// Stepping the bars of a series one by one gives the same fills, funding, trades and
    /// strategy calls as running the series (a test pins this), so paper trading is the
    /// backtest's venue fed live, never a separate code path.
    /// The length of the stepped bars: fills at a bar's close are stamped with its close time
    /// (``run(_:funding:mark:)`` reads it from the series).
    public var barInterval: TimeSpan {
        get { TimeSpan(milliseconds: closeOffset) }
        set { closeOffset = max(newValue.milliseconds, 0) }
    }

    public mutating func step(_ candle: Candle, funding: [(rate: FundingRate, mark: Price)] = []) {
        let index = steppedBars
        let time = candle.openTime.milliseconds
        // Broken data: stop rather than overflow (see `AmountLimit`); nothing happens after.
        // A live shell asks `carries(_:funding:)` first and skips such a bar instead. (A halted
        // venue carries nothing.)
        if !carries(candle, funding: funding) {
            return stop(bar: index, time: time, price: max(candle.high.raw, funding.map(\.mark.raw).max() ?? 0))
        }
        for due in funding where !position.isFlat {
            settleFunding(due.rate, mark: due.mark.raw)
        }
        walkBar(
            bar: index, time: time, previousClose: lastSteppedClose ?? candle.open.raw, open: candle.open.raw, high: candle.high.raw,
            low: candle.low.raw, close: candle.close.raw, volume: candle.volume.raw)
        if highestSafePrice != .min {
            consultStrategy(
                bar: index, time: time, open: candle.open.raw, high: candle.high.raw, low: candle.low.raw, close: candle.close.raw,
                volume: candle.volume.raw)
        }
        lastSteppedClose = candle.close.raw
        steppedBars += 1
    }

    /// Whether the open position can go through `candle` and these settlements within
    /// ``AmountLimit`` (a bar from broken data may not: ``step(_:funding:)`` would stop).
    public func carries(_ candle: Candle, funding: [(rate: FundingRate, mark: Price)] = []) -> Bool {
        candle.high.raw <= highestSafePrice && funding.allSatisfy { $0.mark.raw <= highestSafePrice }
    }

    /// The account after the last stepped bar, marked at its close.
    public var snapshot: AccountSnapshot {
        let close = lastSteppedClose ?? 0
        return AccountSnapshot(
            balance: Notional(raw: balance), positionMargin: Notional(raw: margin), position: position.quantity,
            entryPrice: position.entryPrice,
            equity: lastSteppedClose == nil ? Notional(raw: balance + margin) : currentEquity(close: close),
            liquidationPrice: liquidation > 0 ? Price(raw: liquidation) : nil, restingOrders: resting.count,
            feesPaid: Notional(raw: fees), fundingPaid: Notional(raw: fundingPaid), liquidations: liquidations, bars: steppedBars)
    }

    /// Every fill so far, oldest first.
    public var fillHistory: [FillRecord] { fills }
    /// Every funding settlement so far, oldest first.
    public var fundingHistory: [FundingRecord] { fundingRecords }
    /// Closed trades, then the open one (if any).
    public var tradeHistory: [TradeRecord] { openTrade.map { trades + [$0] } ?? trades }
}
